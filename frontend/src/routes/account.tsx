import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { updateUser } from "@/api/session";
import { useAuth } from "@/auth/auth";
import { PasswordRules } from "@/components/password-rules";
import { Button } from "@/components/ui/button";
import { FormError, TextField } from "@/components/ui/field";
import { EmptyState, Page, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { passwordAcceptable } from "@/lib/password";
import { relativeTime } from "@/lib/time";

function Profile() {
  const { user } = useAuth();
  const toast = useToast();
  const [fullName, setFullName] = useState(user?.fullName ?? "");
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/users/me", { body: { fullName } })),
    onSuccess: (result) => {
      updateUser(result.user);
      toast.success("Profile saved");
    },
  });
  return (
    <Section title="Profile">
      <form
        className="grid gap-4 sm:grid-cols-[1fr_auto] sm:items-end"
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
      >
        <TextField label="Full name" value={fullName} onChange={(e) => setFullName(e.target.value)} />
        <Button type="submit" busy={save.isPending}>
          Save
        </Button>
        <p className="text-sm text-muted-foreground sm:col-span-2">Signed in as {user?.email}</p>
        <FormError message={save.error ? errorText(save.error) : null} />
      </form>
    </Section>
  );
}

function ChangePassword() {
  const toast = useToast();
  const [currentPassword, setCurrent] = useState("");
  const [newPassword, setNew] = useState("");
  const change = useMutation({
    mutationFn: () => unwrap(api.POST("/api/users/me/password", { body: { currentPassword, newPassword } })),
    onSuccess: () => {
      setCurrent("");
      setNew("");
      toast.success("Password changed", "Every other session was signed out.");
    },
  });
  return (
    <Section title="Password" description="Changing it signs you out everywhere else.">
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          change.mutate();
        }}
      >
        <FormError message={change.error ? errorText(change.error) : null} />
        <TextField label="Current password" type="password" autoComplete="current-password" value={currentPassword} onChange={(e) => setCurrent(e.target.value)} />
        <TextField
          label="New password"
          type="password"
          autoComplete="new-password"
          value={newPassword}
          onChange={(e) => setNew(e.target.value)}
          hint={<PasswordRules password={newPassword} />}
        />
        <Button type="submit" busy={change.isPending} disabled={!currentPassword || !passwordAcceptable(newPassword)}>
          Change password
        </Button>
      </form>
    </Section>
  );
}

function ProviderKey({ providerId, providerName, masked }: { providerId: string; providerName: string; masked?: string }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [value, setValue] = useState("");
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["api-keys"] });
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT("/api/users/me/api-keys/{providerId}", { params: { path: { providerId } }, body: { apiKey: value } })),
    onSuccess: () => {
      setValue("");
      toast.success(`${providerName} key saved`);
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ["models"] });
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/users/me/api-keys/{providerId}", { params: { path: { providerId } } })),
    onSuccess: () => {
      toast.success(`${providerName} key removed`);
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ["models"] });
    },
    onError: (error) => toast.error(errorText(error)),
  });
  return (
    <li className="grid gap-3 py-3 sm:grid-cols-[12rem_1fr_auto] sm:items-end">
      <div>
        <p className="font-medium">{providerName}</p>
        <p className="font-mono text-sm text-muted-foreground" data-testid="masked-key">
          {masked ?? "No key: the platform's key is used, within your plan's quota."}
        </p>
      </div>
      <TextField
        label={masked ? `Replace your ${providerName} key` : `Your ${providerName} key`}
        type="password"
        autoComplete="off"
        value={value}
        onChange={(e) => setValue(e.target.value)}
      />
      <div className="flex gap-2">
        <Button onClick={() => save.mutate()} busy={save.isPending} disabled={!value.trim()}>
          Save
        </Button>
        {masked && (
          <Button variant="ghost" onClick={() => remove.mutate()} busy={remove.isPending}>
            Remove
          </Button>
        )}
      </div>
    </li>
  );
}

function ApiKeys() {
  const models = useQuery({ queryKey: ["models"], queryFn: () => unwrap(api.GET("/api/ai/models")) });
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/users/me/api-keys")) });
  const providers = useMemo(() => {
    const seen = new Map<string, string>();
    for (const model of models.data?.items ?? []) seen.set(model.providerId, model.providerName);
    for (const key of keys.data?.items ?? []) seen.set(key.providerId, key.providerName);
    return [...seen.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  }, [models.data, keys.data]);
  const masked = new Map((keys.data?.items ?? []).map((key) => [key.providerId, key.maskedKey]));
  return (
    <Section title="Your AI keys" description="Use your own provider keys: they are encrypted, never shown again in full, and not counted against your plan.">
      {models.isLoading || keys.isLoading ? (
        <Skeleton className="h-24 w-full" />
      ) : providers.length === 0 ? (
        <EmptyState>No AI provider is enabled on this platform yet.</EmptyState>
      ) : (
        <ul className="divide-y divide-border">
          {providers.map(([id, name]) => (
            <ProviderKey key={id} providerId={id} providerName={name} masked={masked.get(id)} />
          ))}
        </ul>
      )}
      {keys.data && keys.data.items.length > 0 && (
        <p className="mt-3 text-xs text-muted-foreground">
          Last changed {relativeTime(keys.data.items.map((k) => k.updatedAt).sort().at(-1) ?? new Date().toISOString())}.
        </p>
      )}
    </Section>
  );
}

function describeDevice(userAgent: string | null | undefined): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent) ? "Edge" : /Firefox\//.test(userAgent) ? "Firefox" : /Chrom(e|ium)\//.test(userAgent) ? "Chrome" : /Safari\//.test(userAgent) ? "Safari" : "A browser";
  const system = /Windows/.test(userAgent) ? "Windows" : /Mac OS X/.test(userAgent) ? "macOS" : /Android/.test(userAgent) ? "Android" : /iPhone|iPad/.test(userAgent) ? "iOS" : /Linux/.test(userAgent) ? "Linux" : null;
  return system ? `${browser} on ${system}` : browser;
}

function Sessions() {
  const { signOutEverywhere } = useAuth();
  const queryClient = useQueryClient();
  const toast = useToast();
  const sessions = useQuery({ queryKey: ["sessions"], queryFn: () => unwrap(api.GET("/api/users/me/sessions")), select: (page) => page.items });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/users/me/sessions/{id}", { params: { path: { id } } })),
    onSuccess: () => {
      toast.success("Signed out", "That device must sign in again.");
      void queryClient.invalidateQueries({ queryKey: ["sessions"] });
    },
    onError: (error) => toast.error(errorText(error)),
  });
  return (
    <Section
      title="Sessions"
      description="Where you are signed in. Sign out a device you no longer use, or everywhere if you think someone else has your password."
      actions={
        <Button variant="danger" size="sm" onClick={() => void signOutEverywhere()}>
          Sign out everywhere
        </Button>
      }
    >
      {sessions.isLoading ? (
        <Skeleton className="h-16 w-full" />
      ) : sessions.error ? (
        <FormError message={errorText(sessions.error)} />
      ) : (
        <ul className="divide-y divide-border" aria-label="Sessions">
          {(sessions.data ?? []).map((session) => (
            <li key={session.id} className="flex flex-wrap items-center gap-3 py-3">
              <div className="mr-auto min-w-0">
                <p className="text-sm font-medium">
                  {describeDevice(session.userAgent)}
                  {session.current && <span className="ml-2 rounded-full bg-muted px-2 py-0.5 text-xs text-muted-foreground">This device</span>}
                </p>
                <p className="text-xs text-muted-foreground">
                  {session.ipAddress ?? "Unknown address"} · signed in {relativeTime(session.createdAt)}
                  {session.lastUsedAt ? ` · last active ${relativeTime(session.lastUsedAt)}` : ""}
                </p>
              </div>
              {!session.current && (
                <Button variant="secondary" size="sm" busy={revoke.isPending && revoke.variables === session.id} onClick={() => revoke.mutate(session.id)}>
                  Sign out
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

export function AccountPage() {
  return (
    <Page title="Account">
      <Profile />
      <ChangePassword />
      <ApiKeys />
      <Sessions />
    </Page>
  );
}
