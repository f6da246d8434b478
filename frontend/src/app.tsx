import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useAuth } from "@/auth/auth";
import { Shell } from "@/components/shell";
import { MaintenanceGate } from "@/components/system-status";
import { Spinner } from "@/components/ui/spinner";
import {
  AcceptInvitationPage,
  ForgotPasswordPage,
  ResetPasswordPage,
  SignInPage,
  SignUpPage,
  VerifyEmailPage,
} from "@/routes/auth-pages";
import { DashboardPage } from "@/routes/dashboard";

// Heavier screens load when first opened (the workspace brings the editor).
const WorkspacePage = lazy(() => import("@/routes/workspace/workspace").then((m) => ({ default: m.WorkspacePage })));
const OrganizationPage = lazy(() => import("@/routes/organization").then((m) => ({ default: m.OrganizationPage })));
const BillingPage = lazy(() => import("@/routes/billing/billing").then((m) => ({ default: m.BillingPage })));
const AccountPage = lazy(() => import("@/routes/account").then((m) => ({ default: m.AccountPage })));
const ImportPage = lazy(() => import("@/routes/import/import").then((m) => ({ default: m.ImportPage })));
const AdminArea = lazy(() => import("@/routes/admin/index").then((m) => ({ default: m.AdminArea })));

function FullPageSpinner() {
  return (
    <div className="flex h-full items-center justify-center" role="status">
      <Spinner className="h-6 w-6 text-muted-foreground" />
      <span className="sr-only">Loading…</span>
    </div>
  );
}

function RequireSignIn({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "restoring") return <FullPageSpinner />;
  if (status === "signed-out") {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}

function NotFoundPage() {
  return (
    <div className="mx-auto max-w-md px-4 py-16 text-center">
      <h1 className="text-2xl font-semibold">Nothing here</h1>
      <p className="mt-2 text-sm text-muted-foreground">This page does not exist, or you cannot see it.</p>
      <a href="/" className="mt-4 inline-block text-sm text-primary underline underline-offset-2 hover:no-underline">
        Back to your projects
      </a>
    </div>
  );
}

function Routed() {
  return (
    <Suspense fallback={<FullPageSpinner />}>
      <Routes>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route path="/sign-up" element={<SignUpPage />} />
        <Route path="/verify-email" element={<VerifyEmailPage />} />
        <Route path="/forgot-password" element={<ForgotPasswordPage />} />
        <Route path="/reset-password" element={<ResetPasswordPage />} />
        <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
        <Route
          element={
            <RequireSignIn>
              <Shell />
            </RequireSignIn>
          }
        >
          <Route index element={<DashboardPage />} />
          <Route path="/projects/:projectId/*" element={<WorkspacePage />} />
          <Route path="/organization" element={<OrganizationPage />} />
          <Route path="/organization/billing" element={<BillingPage />} />
          <Route path="/import" element={<ImportPage />} />
          <Route path="/account" element={<AccountPage />} />
          <Route path="/admin/*" element={<AdminArea />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </Suspense>
  );
}

// While maintenance mode is on, the maintenance page stands in for every screen but sign-in (administrators
// and co-admins excepted).
export function App() {
  return (
    <MaintenanceGate>
      <Routed />
    </MaintenanceGate>
  );
}
