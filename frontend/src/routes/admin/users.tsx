// /admin/users: every account of the platform, for global administrators (co-admins do not manage users: the
// navigation hides this screen and the API refuses them). The list's search and filters live in the URL;
// /admin/users/:id is one user's detail (users-detail.tsx).

import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { Link, Route, Routes, useLocation } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { EmptyState } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { GLOBAL_ROLE_LABELS, ROLES, usersKeys, type AdminUser, type GlobalRole } from "./users-data";
import { UserDetail } from "./users-detail";
import { Badge, cell, count, headCell, link, SearchBox, SelectField, tableClass, useUrlChoice, useUrlSearch, When } from "./users-shared";

const STATUSES = ["active", "banned", "unverified"] as const;
const STATUS_LABELS: Record<(typeof STATUSES)[number], string> = { active: "Active", banned: "Banned", unverified: "Unverified" };

const PAGE_SIZE = 50;

function useUsers(q: string, role: GlobalRole | null, status: (typeof STATUSES)[number] | null) {
  return useInfiniteQuery({
    queryKey: usersKeys.list({ q, role, status }),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/admin/users", {
          params: {
            query: {
              limit: PAGE_SIZE,
              cursor: pageParam ?? undefined,
              q: q || undefined,
              role: role ?? undefined,
              status: status ?? undefined,
            },
          },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
    // A new search keeps the rows shown until its answer comes: the table does not jump.
    placeholderData: keepPreviousData,
  });
}

function YesNo({ value, yes, no, tone }: { value: boolean; yes: string; no: string; tone: "success" | "danger" }) {
  return value ? <Badge tone={tone}>{yes}</Badge> : <span className="text-muted-foreground">{no}</span>;
}

function UserRow({ user, from }: { user: AdminUser; from: string }) {
  return (
    <tr className="border-t border-border">
      <td className={cell}>
        <Link to={user.id} state={{ from }} className={link}>
          {user.fullName || user.email}
        </Link>
        {/* On a narrow screen the address goes under the name instead of a column of its own. */}
        {user.fullName && <span className="block text-xs text-muted-foreground md:hidden">{user.email}</span>}
      </td>
      <td className={`${cell} hidden md:table-cell`}>{user.email}</td>
      <td className={`${cell} whitespace-nowrap`}>{GLOBAL_ROLE_LABELS[user.role]}</td>
      <td className={cell}>
        <YesNo value={user.emailVerified} yes="Verified" no="No" tone="success" />
      </td>
      <td className={cell}>
        <YesNo value={user.banned} yes="Banned" no="No" tone="danger" />
      </td>
      <td className={`${cell} whitespace-nowrap`}>
        <When iso={user.lastLoginAt} />
      </td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(user.organizationsCount)}</td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(user.projectsCount)}</td>
    </tr>
  );
}

function UsersList() {
  const q = useUrlSearch();
  const [role, setRole] = useUrlChoice("role", ROLES);
  const [status, setStatus] = useUrlChoice("status", STATUSES);
  const users = useUsers(q, role, status);
  const { search } = useLocation();
  const items = users.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = Boolean(q || role || status);
  return (
    <div className="mt-6 space-y-6">
      <h1 className="text-2xl font-semibold">Users</h1>
      <div role="search" aria-label="Find users" className="flex flex-wrap items-end gap-3">
        <SearchBox label="Search users" placeholder="Part of an e-mail address or name" />
        <SelectField
          label="Role"
          className="w-40"
          value={role ?? ""}
          onChange={(value) => setRole(value || null)}
          options={[{ value: "", label: "Any role" }, ...ROLES.map((value) => ({ value, label: GLOBAL_ROLE_LABELS[value] }))]}
        />
        <SelectField
          label="Status"
          className="w-40"
          value={status ?? ""}
          onChange={(value) => setStatus(value || null)}
          options={[{ value: "", label: "Any status" }, ...STATUSES.map((value) => ({ value, label: STATUS_LABELS[value] }))]}
        />
      </div>
      <section aria-label="Users found" aria-busy={users.isFetching || undefined} className="rounded-lg border border-border bg-surface p-4">
        {users.isLoading ? (
          <div className="space-y-2">
            <Skeleton className="h-8 w-full" />
            <Skeleton className="h-8 w-full" />
            <Skeleton className="h-8 w-full" />
          </div>
        ) : users.error ? (
          <FormError message={errorText(users.error)} />
        ) : items.length === 0 ? (
          <EmptyState>{filtered ? "No user matches this search." : "No users yet."}</EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className={tableClass}>
              <caption className="sr-only">Users, newest first</caption>
              <thead className="text-muted-foreground">
                <tr>
                  <th scope="col" className={headCell}>Name</th>
                  <th scope="col" className={`${headCell} hidden md:table-cell`}>
                    E-mail
                  </th>
                  <th scope="col" className={headCell}>Role</th>
                  <th scope="col" className={headCell}>Verified</th>
                  <th scope="col" className={headCell}>Banned</th>
                  <th scope="col" className={headCell}>Last sign-in</th>
                  <th scope="col" className={`${headCell} text-right`}>Organizations</th>
                  <th scope="col" className={`${headCell} text-right`}>Projects</th>
                </tr>
              </thead>
              <tbody>
                {items.map((user) => (
                  <UserRow key={user.id} user={user} from={search} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {users.hasNextPage && (
          <Button variant="secondary" size="sm" className="mt-3" onClick={() => void users.fetchNextPage()} busy={users.isFetchingNextPage}>
            Load more
          </Button>
        )}
      </section>
    </div>
  );
}

/** /admin/users/*: the list, and one user's detail at /admin/users/:id. */
export function UsersScreen() {
  return (
    <Routes>
      <Route index element={<UsersList />} />
      <Route path=":id" element={<UserDetail />} />
    </Routes>
  );
}
