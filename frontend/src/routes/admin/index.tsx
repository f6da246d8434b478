// The admin area (/admin/*): the platform's screens for global administrators and co-admins. Each screen
// is a route below and an entry of SCREENS; the API decides what each role may change.

import { lazy, Suspense } from "react";
import { Navigate, NavLink, Outlet, Route, Routes } from "react-router";
import { useAuth } from "@/auth/auth";
import { Skeleton } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { isPlatformAdmin, isPlatformStaff } from "./access";

const OverviewScreen = lazy(() => import("./overview").then((m) => ({ default: m.OverviewScreen })));
const UsersScreen = lazy(() => import("./users").then((m) => ({ default: m.UsersScreen })));
const OrganizationsScreen = lazy(() => import("./organizations").then((m) => ({ default: m.OrganizationsScreen })));
const SettingsScreen = lazy(() => import("./settings").then((m) => ({ default: m.SettingsScreen })));
const AiCatalogScreen = lazy(() => import("./ai-catalog").then((m) => ({ default: m.AiCatalogScreen })));
const LogsScreen = lazy(() => import("./logs").then((m) => ({ default: m.LogsScreen })));

// In the order the navigation shows them. Users and organizations are the administrators' alone (the spec's
// permission matrix): co-admins do not see them.
const SCREENS = [
  { path: "overview", label: "Overview", adminOnly: false },
  { path: "users", label: "Users", adminOnly: true },
  { path: "organizations", label: "Organizations", adminOnly: true },
  { path: "settings", label: "Settings", adminOnly: false },
  { path: "ai", label: "AI catalog", adminOnly: false },
  { path: "logs", label: "System logs", adminOnly: false },
] as const;

const navLink = ({ isActive }: { isActive: boolean }) =>
  cn(
    "whitespace-nowrap rounded-md px-3 py-1.5 text-sm",
    isActive ? "bg-muted font-medium text-foreground" : "text-muted-foreground hover:text-foreground",
  );

function AdminLayout() {
  const { user } = useAuth();
  const screens = SCREENS.filter((screen) => !screen.adminOnly || isPlatformAdmin(user));
  return (
    <div className="mx-auto max-w-6xl px-4 py-6 sm:px-6">
      <p className="text-sm font-medium text-muted-foreground">Administration</p>
      <nav aria-label="Administration" className="mt-2 flex gap-1 overflow-x-auto border-b border-border pb-2">
        {screens.map((screen) => (
          <NavLink key={screen.path} to={`/admin/${screen.path}`} className={navLink}>
            {screen.label}
          </NavLink>
        ))}
      </nav>
      <Suspense fallback={<Skeleton className="mt-6 h-64 w-full" />}>
        <Outlet />
      </Suspense>
    </div>
  );
}

function NotAllowed() {
  return (
    <div className="mx-auto max-w-md px-4 py-16 text-center">
      <h1 className="text-2xl font-semibold">Nothing here</h1>
      <p className="mt-2 text-sm text-muted-foreground">This page does not exist, or you cannot see it.</p>
    </div>
  );
}

/** /admin/*: only for global administrators and co-admins (others get the app's "nothing here"). */
export function AdminArea() {
  const { user } = useAuth();
  if (!isPlatformStaff(user)) return <NotAllowed />;
  return (
    <Routes>
      <Route element={<AdminLayout />}>
        <Route index element={<Navigate to={SCREENS[0].path} replace />} />
        <Route path="overview" element={<OverviewScreen />} />
        {isPlatformAdmin(user) && <Route path="users/*" element={<UsersScreen />} />}
        {isPlatformAdmin(user) && <Route path="organizations/*" element={<OrganizationsScreen />} />}
        <Route path="settings" element={<SettingsScreen />} />
        <Route path="ai" element={<AiCatalogScreen />} />
        <Route path="logs" element={<LogsScreen />} />
        <Route path="*" element={<NotAllowed />} />
      </Route>
    </Routes>
  );
}
