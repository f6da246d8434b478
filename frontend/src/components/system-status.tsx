// The platform's state as everyone sees it: the maintenance page (while maintenance mode is on, for all
// but administrators and co-admins) and the announcement banner.

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { api, getMaintenance, setMaintenance, subscribeMaintenance, unwrap } from "@/api/client";
import { useAuth } from "@/auth/auth";
import { Logo } from "@/components/auth-layout";
import { Button } from "@/components/ui/button";
import { useCurrentOrganization } from "@/lib/organization";
import { isPlatformStaff } from "@/routes/admin/access";

export const systemStatusKey = ["system-status"] as const;

// The announcement may change at any time: looked at again every few minutes. While the maintenance page
// shows it is looked at more often, so the app comes back on its own soon after maintenance ends.
const STATUS_REFRESH_MS = 5 * 60_000;
const MAINTENANCE_REFRESH_MS = 15_000;
const FALLBACK_MESSAGE = "MoreMinimore is down for maintenance. Please try again shortly.";
const DISMISSED_KEY = "mm.dismissedAnnouncement";

export function useSystemStatus(underMaintenance = false) {
  return useQuery({
    queryKey: systemStatusKey,
    queryFn: () => unwrap(api.GET("/api/system/status")),
    select: (envelope) => envelope.status,
    staleTime: 60_000,
    refetchInterval: underMaintenance ? MAINTENANCE_REFRESH_MS : STATUS_REFRESH_MS,
  });
}

function MaintenancePage({ message, checking, onCheck }: { message: string; checking: boolean; onCheck: () => void }) {
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  return (
    <main id="main" className="flex min-h-full items-center justify-center px-4 py-12">
      <div className="w-full max-w-md text-center">
        <Logo className="mx-auto h-10 w-10" />
        <h1 className="mt-6 text-2xl font-semibold">Down for maintenance</h1>
        <p className="mt-3 whitespace-pre-line" data-testid="maintenance-message">
          {message}
        </p>
        <p className="mt-3 text-sm text-muted-foreground">Nothing you saved is lost. This page lets you back in as soon as we are done.</p>
        <div className="mt-6 flex flex-wrap items-center justify-center gap-3">
          <Button variant="secondary" busy={checking} onClick={onCheck}>
            Check again
          </Button>
          {user ? (
            <Button variant="ghost" onClick={() => void signOut().then(() => navigate("/sign-in"))}>
              Sign out
            </Button>
          ) : (
            <Link to="/sign-in" className="text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
              Administrators: sign in
            </Link>
          )}
        </div>
      </div>
    </main>
  );
}

/** The app, or the maintenance page while maintenance mode is on: known from the platform's status or from
 * any API call that answered 503 `maintenance`. Administrators and co-admins always get the app; the sign-in
 * page stays open so that they can sign in. */
export function MaintenanceGate({ children }: { children: ReactNode }) {
  const { status: auth, user } = useAuth();
  const { pathname } = useLocation();
  const queryClient = useQueryClient();
  const notice = useSyncExternalStore(subscribeMaintenance, getMaintenance);
  const status = useSystemStatus(notice !== null);
  const on = notice !== null || status.data?.maintenance.on === true;
  const shown = on && auth !== "restoring" && !isPlatformStaff(user) && pathname !== "/sign-in";

  // A refusal says maintenance began: the status is asked now (for the latest message, and to see it end).
  useEffect(() => {
    if (notice) void queryClient.invalidateQueries({ queryKey: systemStatusKey });
  }, [notice, queryClient]);
  // A status read after the refusal that says maintenance is over ends it.
  const { data, dataUpdatedAt } = status;
  useEffect(() => {
    if (notice && data && !data.maintenance.on && dataUpdatedAt > notice.at) setMaintenance(null);
  }, [notice, data, dataUpdatedAt]);
  // Back from maintenance: what failed meanwhile is fetched again.
  const wasShown = useRef(shown);
  useEffect(() => {
    if (wasShown.current && !shown) void queryClient.invalidateQueries();
    wasShown.current = shown;
  }, [shown, queryClient]);

  if (!shown) return <>{children}</>;
  const message = (status.data?.maintenance.on ? status.data.maintenance.message : null) ?? notice?.message ?? FALLBACK_MESSAGE;
  return <MaintenancePage message={message} checking={status.isFetching} onCheck={() => void status.refetch()} />;
}

function readDismissed(): string | null {
  try {
    return sessionStorage.getItem(DISMISSED_KEY);
  } catch {
    return null;
  }
}

/** Above every signed-in page: the announcement (dismissible until the browser's session ends, shown again
 * when it changes), that the current organization is suspended (before a change is refused), and, for
 * administrators and co-admins, a reminder that maintenance mode is on. */
export function SystemBanners() {
  const { user } = useAuth();
  const { organization } = useCurrentOrganization();
  const status = useSystemStatus().data;
  const [dismissed, setDismissed] = useState(readDismissed);
  const announcement = status?.announcement?.trim() || null;
  const dismiss = () => {
    if (!announcement) return;
    try {
      sessionStorage.setItem(DISMISSED_KEY, announcement);
    } catch {
      // Storage refused (private mode): dismissed for this page's life only.
    }
    setDismissed(announcement);
  };
  return (
    <>
      {status?.maintenance.on && isPlatformStaff(user) && (
        <div className="border-b border-warning/50 bg-warning/10 px-4 py-2 text-sm" data-testid="maintenance-on">
          Maintenance mode is on: only administrators and co-admins can use MoreMinimore.{" "}
          <Link to="/admin/settings" className="font-medium underline underline-offset-2 hover:no-underline">
            System settings
          </Link>
        </div>
      )}
      {organization?.suspended && (
        <div role="status" className="border-b border-destructive/40 bg-destructive/10 px-4 py-2 text-sm" data-testid="organization-suspended">
          <span className="font-medium">{organization.name} is suspended.</span> You can look at its projects, but nothing in it can be
          changed until MoreMinimore&apos;s administrators lift the suspension. Contact support to find out more.
        </div>
      )}
      {announcement && announcement !== dismissed && (
        <section aria-label="Announcement" className="flex items-center gap-3 border-b border-primary/30 bg-primary/10 px-4 py-1.5 text-sm">
          <p className="flex-1 whitespace-pre-line">{announcement}</p>
          <Button variant="ghost" size="sm" onClick={dismiss} aria-label="Dismiss announcement">
            Dismiss
          </Button>
        </section>
      )}
    </>
  );
}

/** On the sign-in and sign-up pages: what the platform's state means for the visitor before they try. While
 * maintenance mode is on only administrators and co-admins get in; sign-ups may be closed or by invitation. */
export function AuthNotice({ page }: { page: "sign-in" | "sign-up" }) {
  const status = useSystemStatus(false).data;
  if (!status) return null;
  const notices: string[] = [];
  if (status.maintenance.on) {
    notices.push(`${status.maintenance.message?.trim() || FALLBACK_MESSAGE} Until then only administrators can sign in.`);
  }
  if (page === "sign-up" && status.signups === "closed") notices.push("New accounts cannot be created at the moment.");
  if (page === "sign-up" && status.signups === "invite_only") {
    notices.push("New accounts are by invitation only: use the link in the invitation you received.");
  }
  if (notices.length === 0) return null;
  return (
    <div role="status" data-testid="auth-notice" className="mb-4 space-y-1 rounded-md border border-warning/50 bg-warning/10 px-3 py-2 text-sm">
      {notices.map((text) => (
        <p key={text} className="whitespace-pre-line">
          {text}
        </p>
      ))}
    </div>
  );
}
