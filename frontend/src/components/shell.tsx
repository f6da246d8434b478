import { useIsFetching, useIsMutating } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, NavLink, Outlet, useNavigate, useSearchParams } from "react-router";
import { useAuth } from "@/auth/auth";
import { Logo } from "@/components/auth-layout";
import { SystemBanners } from "@/components/system-status";
import { Button } from "@/components/ui/button";
import { Menu, MenuContent, MenuItem, MenuLabel, MenuSeparator, MenuTrigger } from "@/components/ui/menu";
import { Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { ROLE_LABELS, useCurrentOrganization, useOrganizations } from "@/lib/organization";
import { applyTheme, storedTheme, type Theme } from "@/lib/theme";
import { isPlatformStaff } from "@/routes/admin/access";

function ActivityIndicator() {
  const fetching = useIsFetching();
  const mutating = useIsMutating();
  const busy = fetching + mutating > 0;
  return (
    <span className={cn("flex h-9 w-9 items-center justify-center", !busy && "invisible")} role="status" aria-live="polite">
      {busy && <Spinner className="h-4 w-4 text-muted-foreground" />}
      <span className="sr-only">{busy ? "Working…" : ""}</span>
    </span>
  );
}

function OrganizationSwitcher() {
  const { organization, choose } = useCurrentOrganization();
  const { organizations } = useOrganizationList();
  if (!organization) return null;
  return (
    <Menu>
      <MenuTrigger asChild>
        <Button variant="ghost" size="sm" aria-label={`Organization: ${organization.name}. Switch organization`}>
          <span className="max-w-40 truncate font-medium">{organization.name}</span>
          <span aria-hidden="true">▾</span>
        </Button>
      </MenuTrigger>
      <MenuContent align="start">
        <MenuLabel>Organizations</MenuLabel>
        {organizations.map((item) => (
          <MenuItem key={item.id} onSelect={() => choose(item.id)}>
            <span className="flex-1 truncate">{item.name}</span>
            <span className="text-xs text-muted-foreground">{item.role ? ROLE_LABELS[item.role] : ""}</span>
          </MenuItem>
        ))}
      </MenuContent>
    </Menu>
  );
}

function useOrganizationList() {
  const query = useOrganizations();
  return { organizations: query.data ?? [] };
}

function ThemeMenuItems() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  useEffect(() => {
    applyTheme(theme);
  }, [theme]);
  const next: Record<Theme, Theme> = { system: "dark", dark: "light", light: "system" };
  return <MenuItem onSelect={() => setTheme(next[theme])}>Theme: {theme} (switch to {next[theme]})</MenuItem>;
}

function UserMenu() {
  const { user, signOut } = useAuth();
  const navigate = useNavigate();
  if (!user) return null;
  const initials = (user.fullName || user.email)
    .split(/\s+/)
    .map((part) => part[0]?.toUpperCase() ?? "")
    .slice(0, 2)
    .join("");
  return (
    <Menu>
      <MenuTrigger asChild>
        <Button variant="ghost" size="icon" aria-label={`${initials} Account menu`} className="rounded-full bg-muted font-semibold">
          {initials}
        </Button>
      </MenuTrigger>
      <MenuContent>
        <MenuLabel>{user.email}</MenuLabel>
        <MenuItem onSelect={() => navigate("/account")}>Account settings</MenuItem>
        {isPlatformStaff(user) && <MenuItem onSelect={() => navigate("/admin")}>Administration</MenuItem>}
        <ThemeMenuItems />
        <MenuSeparator />
        <MenuItem
          onSelect={() => {
            void signOut().then(() => navigate("/sign-in"));
          }}
        >
          Sign out
        </MenuItem>
      </MenuContent>
    </Menu>
  );
}

const navLink = ({ isActive }: { isActive: boolean }) =>
  cn("rounded-md px-3 py-1.5 text-sm", isActive ? "bg-muted font-medium text-foreground" : "text-muted-foreground hover:text-foreground");

/** The signed-in frame: organization switcher, navigation, activity, user menu. */
export function Shell() {
  const [params, setParams] = useSearchParams();
  const { choose } = useCurrentOrganization();
  useEffect(() => {
    const wanted = params.get("organization");
    if (wanted) {
      choose(wanted);
      params.delete("organization");
      setParams(params, { replace: true });
    }
  }, [params, setParams, choose]);
  return (
    <div className="flex min-h-full flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-surface focus:p-2">
        Skip to content
      </a>
      <header className="sticky top-0 z-30 border-b border-border bg-surface/95 backdrop-blur">
        <div className="flex h-14 items-center gap-2 px-3 sm:px-4">
          <Link to="/" className="flex items-center gap-2 font-semibold" aria-label="MoreMinimore home">
            <Logo className="h-7 w-7" />
            <span className="hidden sm:inline">MoreMinimore</span>
          </Link>
          <span className="text-muted-foreground" aria-hidden="true">
            /
          </span>
          <OrganizationSwitcher />
          <nav aria-label="Main" className="ml-2 hidden items-center gap-1 md:flex">
            <NavLink to="/" end className={navLink}>
              Projects
            </NavLink>
            <NavLink to="/organization" className={navLink}>
              Organization
            </NavLink>
          </nav>
          <div className="ml-auto flex items-center gap-1">
            <ActivityIndicator />
            <UserMenu />
          </div>
        </div>
        <nav aria-label="Main (small screens)" className="flex gap-1 px-3 pb-2 md:hidden">
          <NavLink to="/" end className={navLink}>
            Projects
          </NavLink>
          <NavLink to="/organization" className={navLink}>
            Organization
          </NavLink>
        </nav>
      </header>
      <SystemBanners />
      <main id="main" className="flex-1">
        <Outlet />
      </main>
    </div>
  );
}
