// The admin area (/admin/*): the platform's screens for global administrators and co-admins. Each screen
// is a route below and an entry of SCREENS; the API decides what each role may change.

import { lazy, Suspense } from "react";
import { Navigate, NavLink, Outlet, Route, Routes } from "react-router";
import { useAuth } from "@/auth/auth";
import { Skeleton } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { isPlatformStaff } from "./access";

const SettingsScreen = lazy(() => import("./settings").then((m) => ({ default: m.SettingsScreen })));

// In the order the navigation shows them (overview, users, organizations, AI catalog and logs join here).
const SCREENS = [{ path: "settings", label: "Settings" }] as const;

const navLink = ({ isActive }: { isActive: boolean }) =>
  cn(
    "whitespace-nowrap rounded-md px-3 py-1.5 text-sm",
    isActive ? "bg-muted font-medium text-foreground" : "text-muted-foreground hover:text-foreground",
  );

function AdminLayout() {
  return (
    <div className="mx-auto max-w-6xl px-4 py-6 sm:px-6">
      <p className="text-sm font-medium text-muted-foreground">Administration</p>
      <nav aria-label="Administration" className="mt-2 flex gap-1 overflow-x-auto border-b border-border pb-2">
        {SCREENS.map((screen) => (
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
        <Route path="settings" element={<SettingsScreen />} />
        <Route path="*" element={<NotAllowed />} />
      </Route>
    </Routes>
  );
}
