import { zodResolver } from "@hookform/resolvers/zod";
import { useEffect, useRef, useState } from "react";
import { useForm } from "react-hook-form";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { z } from "zod";
import { api, ApiError, unwrap } from "@/api/client";
import { useAuth } from "@/auth/auth";
import { AuthLayout } from "@/components/auth-layout";
import { PasswordRules } from "@/components/password-rules";
import { AuthNotice } from "@/components/system-status";
import { Button } from "@/components/ui/button";
import { FormError, TextField } from "@/components/ui/field";
import { Spinner } from "@/components/ui/spinner";
import { passwordAcceptable } from "@/lib/password";

function messageOf(error: unknown): string {
  return error instanceof ApiError ? error.message : "We could not reach MoreMinimore. Check your connection and try again.";
}

/** Where to go after signing in: only paths of this app (never another site). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

const signInSchema = z.object({
  email: z.string().trim().min(1, "Enter your e-mail address.").email("Enter a valid e-mail address."),
  password: z.string().min(1, "Enter your password."),
  rememberMe: z.boolean(),
});

export function SignInPage() {
  const { status, signIn } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [error, setError] = useState<ApiError | null>(null);
  const [resent, setResent] = useState(false);
  const form = useForm({ resolver: zodResolver(signInSchema), defaultValues: { email: "", password: "", rememberMe: false } });
  const next = safeNext(params.get("next"));

  if (status === "signed-in") return <Navigate to={next} replace />;

  const onSubmit = form.handleSubmit(async ({ email, password, rememberMe }) => {
    setError(null);
    try {
      await signIn(email, password, rememberMe);
      navigate(next, { replace: true });
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "network", messageOf(caught)));
    }
  });

  const resend = async () => {
    await api.POST("/api/auth/resend-verification", { body: { email: form.getValues("email") } });
    setResent(true);
  };

  return (
    <AuthLayout title="Sign in" subtitle="Welcome back. Build something today.">
      <AuthNotice page="sign-in" />
      <form onSubmit={onSubmit} className="space-y-4" noValidate>
        <FormError message={error?.message} />
        {error?.code === "email_not_verified" && (
          <div className="text-sm">
            {resent ? (
              <p role="status">We sent the confirmation link again. Check your inbox.</p>
            ) : (
              <Button variant="secondary" size="sm" onClick={resend}>
                Send the confirmation link again
              </Button>
            )}
          </div>
        )}
        <TextField label="E-mail" type="email" autoComplete="email" {...form.register("email")} error={form.formState.errors.email?.message} />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          {...form.register("password")}
          error={form.formState.errors.password?.message}
        />
        <div className="flex items-center justify-between text-sm">
          <label className="flex items-center gap-2">
            <input type="checkbox" className="h-4 w-4 accent-primary" {...form.register("rememberMe")} />
            Keep me signed in
          </label>
          <Link to="/forgot-password" className="text-primary underline underline-offset-2 hover:no-underline">
            Forgot your password?
          </Link>
        </div>
        <Button type="submit" className="w-full" busy={form.formState.isSubmitting}>
          Sign in
        </Button>
        <p className="text-center text-sm text-muted-foreground">
          New here?{" "}
          <Link to={`/sign-up${params.get("next") ? `?next=${encodeURIComponent(next)}` : ""}`} className="text-primary underline underline-offset-2 hover:no-underline">
            Create an account
          </Link>
        </p>
      </form>
    </AuthLayout>
  );
}

const signUpSchema = z.object({
  fullName: z.string().trim().min(1, "Tell us your name.").max(255),
  email: z.string().trim().min(1, "Enter your e-mail address.").email("Enter a valid e-mail address."),
  password: z.string().refine(passwordAcceptable, "Choose a password that meets the rules below."),
});

export function SignUpPage() {
  const { status } = useAuth();
  const [error, setError] = useState<string | null>(null);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm({ resolver: zodResolver(signUpSchema), defaultValues: { fullName: "", email: "", password: "" } });
  const password = form.watch("password");

  if (status === "signed-in") return <Navigate to="/" replace />;
  if (sentTo) {
    return (
      <AuthLayout title="Check your inbox">
        <p className="text-sm" role="status">
          We sent a confirmation link to <strong>{sentTo}</strong>. Open it to finish creating your account, then sign in.
        </p>
        <Link to="/sign-in" className="mt-6 inline-block text-sm text-primary underline underline-offset-2 hover:no-underline">
          Go to sign in
        </Link>
      </AuthLayout>
    );
  }

  const onSubmit = form.handleSubmit(async (values) => {
    setError(null);
    try {
      await unwrap(api.POST("/api/auth/register", { body: values }));
      setSentTo(values.email.trim());
    } catch (caught) {
      setError(messageOf(caught));
    }
  });

  return (
    <AuthLayout title="Create your account" subtitle="Chat with AI to build web apps, version every step, deploy in one click.">
      <AuthNotice page="sign-up" />
      <form onSubmit={onSubmit} className="space-y-4" noValidate>
        <FormError message={error} />
        <TextField label="Full name" autoComplete="name" {...form.register("fullName")} error={form.formState.errors.fullName?.message} />
        <TextField label="E-mail" type="email" autoComplete="email" {...form.register("email")} error={form.formState.errors.email?.message} />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          {...form.register("password")}
          error={form.formState.errors.password?.message}
          hint={<PasswordRules password={password} />}
        />
        <Button type="submit" className="w-full" busy={form.formState.isSubmitting}>
          Create account
        </Button>
        <p className="text-center text-sm text-muted-foreground">
          Already have an account?{" "}
          <Link to="/sign-in" className="text-primary underline underline-offset-2 hover:no-underline">
            Sign in
          </Link>
        </p>
      </form>
    </AuthLayout>
  );
}

/** Runs a one-shot token call (confirm e-mail) once, even under React's strict double effects. */
function useTokenCall(token: string | null, call: (token: string) => Promise<unknown>) {
  const [state, setState] = useState<{ status: "working" | "done" | "failed"; message?: string }>({ status: "working" });
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    if (!token) {
      setState({ status: "failed", message: "This link is incomplete. Open the link from the e-mail again." });
      return;
    }
    call(token)
      .then(() => setState({ status: "done" }))
      .catch((caught: unknown) => setState({ status: "failed", message: messageOf(caught) }));
  }, [token, call]);
  return state;
}

const verify = (token: string) => unwrap(api.POST("/api/auth/verify-email", { body: { token } }));

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const state = useTokenCall(params.get("token"), verify);
  return (
    <AuthLayout title="Confirm your e-mail">
      {state.status === "working" && (
        <p className="flex items-center gap-2 text-sm" role="status">
          <Spinner className="h-4 w-4" /> Confirming…
        </p>
      )}
      {state.status === "done" && (
        <div className="space-y-4" role="status">
          <p className="text-sm">Your e-mail address is confirmed. You can sign in now.</p>
          <Link to="/sign-in" className="inline-block text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
            Sign in
          </Link>
        </div>
      )}
      {state.status === "failed" && <FormError message={state.message} />}
    </AuthLayout>
  );
}

export function ForgotPasswordPage() {
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    resolver: zodResolver(z.object({ email: z.string().trim().min(1, "Enter your e-mail address.").email("Enter a valid e-mail address.") })),
    defaultValues: { email: "" },
  });
  const onSubmit = form.handleSubmit(async ({ email }) => {
    setError(null);
    try {
      await unwrap(api.POST("/api/auth/forgot-password", { body: { email } }));
      setSent(true);
    } catch (caught) {
      setError(messageOf(caught));
    }
  });
  return (
    <AuthLayout title="Reset your password" subtitle="We will e-mail you a link to choose a new one.">
      {sent ? (
        <p className="text-sm" role="status">
          If an account uses that address, a reset link is on its way. It works for one hour.
        </p>
      ) : (
        <form onSubmit={onSubmit} className="space-y-4" noValidate>
          <FormError message={error} />
          <TextField label="E-mail" type="email" autoComplete="email" {...form.register("email")} error={form.formState.errors.email?.message} />
          <Button type="submit" className="w-full" busy={form.formState.isSubmitting}>
            Send reset link
          </Button>
        </form>
      )}
      <Link to="/sign-in" className="mt-6 inline-block text-sm text-primary underline underline-offset-2 hover:no-underline">
        Back to sign in
      </Link>
    </AuthLayout>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token");
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    resolver: zodResolver(z.object({ password: z.string().refine(passwordAcceptable, "Choose a password that meets the rules below.") })),
    defaultValues: { password: "" },
  });
  const password = form.watch("password");
  const onSubmit = form.handleSubmit(async ({ password: chosen }) => {
    setError(null);
    try {
      await unwrap(api.POST("/api/auth/reset-password", { body: { token: token ?? "", password: chosen } }));
      setDone(true);
    } catch (caught) {
      setError(messageOf(caught));
    }
  });
  return (
    <AuthLayout title="Choose a new password">
      {done ? (
        <div className="space-y-4" role="status">
          <p className="text-sm">Your password is changed and every other session was signed out.</p>
          <Link to="/sign-in" className="inline-block text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
            Sign in
          </Link>
        </div>
      ) : (
        <form onSubmit={onSubmit} className="space-y-4" noValidate>
          <FormError message={token ? error : "This link is incomplete. Open the link from the e-mail again."} />
          <TextField
            label="New password"
            type="password"
            autoComplete="new-password"
            {...form.register("password")}
            error={form.formState.errors.password?.message}
            hint={<PasswordRules password={password} />}
          />
          <Button type="submit" className="w-full" busy={form.formState.isSubmitting} disabled={!token}>
            Set password
          </Button>
        </form>
      )}
    </AuthLayout>
  );
}

export function AcceptInvitationPage() {
  const { status } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const token = params.get("token");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const here = `/invitations/accept?token=${encodeURIComponent(token ?? "")}`;

  if (status === "restoring") return null;
  if (status === "signed-out") {
    return (
      <AuthLayout title="You are invited" subtitle="Sign in (or create an account) with the invited e-mail address to join.">
        <div className="flex flex-col gap-3">
          <Link to={`/sign-in?next=${encodeURIComponent(here)}`} className="text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
            Sign in to accept
          </Link>
          <Link to={`/sign-up?next=${encodeURIComponent(here)}`} className="text-sm text-primary underline underline-offset-2 hover:no-underline">
            Create an account
          </Link>
        </div>
      </AuthLayout>
    );
  }

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      const accepted = await unwrap(api.POST("/api/invitations/accept", { body: { token: token ?? "" } }));
      navigate(`/?organization=${accepted.organization.id}`, { replace: true });
    } catch (caught) {
      setError(messageOf(caught));
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Join the organization" subtitle="Accepting adds you to the organization with the role it offers.">
      <div className="space-y-4">
        <FormError message={token ? error : "This link is incomplete. Open the link from the e-mail again."} />
        <Button className="w-full" onClick={accept} busy={busy} disabled={!token}>
          Accept invitation
        </Button>
      </div>
    </AuthLayout>
  );
}
