// /admin/organizations: every organization of the platform, for global administrators (co-admins cannot see
// them all: the navigation hides this screen and the API refuses them). The list's search and filters live in
// the URL; /admin/organizations/:id is one organization's detail (organizations-detail.tsx).

import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { Link, Route, Routes, useLocation } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { EmptyState } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { organizationsKeys, STATUS_LABELS, STATUSES, TIERS, type AdminOrganization, type Status, type Tier } from "./organizations-data";
import { OrganizationDetail, OrganizationStatus } from "./organizations-detail";
import { cell, count, headCell, link, SearchBox, SelectField, shortDate, tableClass, TIER_LABELS, useUrlChoice, useUrlSearch } from "./users-shared";

const PAGE_SIZE = 50;

function useOrganizations(q: string, tier: Tier | null, status: Status | null) {
  return useInfiniteQuery({
    queryKey: organizationsKeys.list({ q, tier, status }),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/admin/organizations", {
          params: {
            query: {
              limit: PAGE_SIZE,
              cursor: pageParam ?? undefined,
              q: q || undefined,
              tier: tier ?? undefined,
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

function OrganizationRow({ organization, from }: { organization: AdminOrganization; from: string }) {
  return (
    <tr className="border-t border-border">
      <td className={cell}>
        <Link to={organization.id} state={{ from }} className={link}>
          {organization.name}
        </Link>
        <span className="block text-xs text-muted-foreground">{organization.slug}</span>
      </td>
      <td className={`${cell} whitespace-nowrap`}>{TIER_LABELS[organization.tier]}</td>
      <td className={cell}>
        <OrganizationStatus organization={organization} />
        {organization.trialEndsAt && !organization.suspended && (
          <span className="block text-xs text-muted-foreground">Trial until {shortDate(organization.trialEndsAt)}</span>
        )}
      </td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(organization.membersCount)}</td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(organization.projectsCount)}</td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(organization.deployedProjectsCount)}</td>
      <td className={`${cell} text-right tabular-nums`}>{count.format(organization.aiTokensThisMonth)}</td>
      <td className={`${cell} whitespace-nowrap`}>{shortDate(organization.createdAt)}</td>
    </tr>
  );
}

function OrganizationsList() {
  const q = useUrlSearch();
  const [tier, setTier] = useUrlChoice("tier", TIERS);
  const [status, setStatus] = useUrlChoice("status", STATUSES);
  const organizations = useOrganizations(q, tier, status);
  const { search } = useLocation();
  const items = organizations.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = Boolean(q || tier || status);
  return (
    <div className="mt-6 space-y-6">
      <h1 className="text-2xl font-semibold">Organizations</h1>
      <div role="search" aria-label="Find organizations" className="flex flex-wrap items-end gap-3">
        <SearchBox label="Search organizations" placeholder="Part of a name or slug" />
        <SelectField
          label="Tier"
          className="w-40"
          value={tier ?? ""}
          onChange={(value) => setTier(value || null)}
          options={[{ value: "", label: "Any tier" }, ...TIERS.map((value) => ({ value, label: TIER_LABELS[value] }))]}
        />
        <SelectField
          label="Status"
          className="w-48"
          value={status ?? ""}
          onChange={(value) => setStatus(value || null)}
          options={[{ value: "", label: "Any status" }, ...STATUSES.map((value) => ({ value, label: STATUS_LABELS[value] }))]}
        />
      </div>
      <section
        aria-label="Organizations found"
        aria-busy={organizations.isFetching || undefined}
        className="rounded-lg border border-border bg-surface p-4"
      >
        {organizations.isLoading ? (
          <div className="space-y-2">
            <Skeleton className="h-8 w-full" />
            <Skeleton className="h-8 w-full" />
            <Skeleton className="h-8 w-full" />
          </div>
        ) : organizations.error ? (
          <FormError message={errorText(organizations.error)} />
        ) : items.length === 0 ? (
          <EmptyState>{filtered ? "No organization matches this search." : "No organizations yet."}</EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className={tableClass}>
              <caption className="sr-only">Organizations, newest first</caption>
              <thead className="text-muted-foreground">
                <tr>
                  <th scope="col" className={headCell}>Name</th>
                  <th scope="col" className={headCell}>Tier</th>
                  <th scope="col" className={headCell}>Status</th>
                  <th scope="col" className={`${headCell} text-right`}>Members</th>
                  <th scope="col" className={`${headCell} text-right`}>Projects</th>
                  <th scope="col" className={`${headCell} text-right`}>Deployed</th>
                  <th scope="col" className={`${headCell} text-right`}>AI tokens this month</th>
                  <th scope="col" className={headCell}>Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((organization) => (
                  <OrganizationRow key={organization.id} organization={organization} from={search} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {organizations.hasNextPage && (
          <Button
            variant="secondary"
            size="sm"
            className="mt-3"
            onClick={() => void organizations.fetchNextPage()}
            busy={organizations.isFetchingNextPage}
          >
            Load more
          </Button>
        )}
      </section>
    </div>
  );
}

/** /admin/organizations/*: the list, and one organization's detail at /admin/organizations/:id. */
export function OrganizationsScreen() {
  return (
    <Routes>
      <Route index element={<OrganizationsList />} />
      <Route path=":id" element={<OrganizationDetail />} />
    </Routes>
  );
}
