// /admin/logs: what administrators and co-admins look at when something went wrong. Three tabs kept in the
// address (?tab=audit|jobs|deployments, the audit log's filters beside it): the system-wide audit log, the
// failed AI generation jobs and the failed deployments with the step that failed and its logs. Each list is
// keyset-paginated by the API (nextCursor) and read a page at a time.

import { useInfiniteQuery, type InfiniteData, type UseInfiniteQueryResult } from "@tanstack/react-query";
import { useId, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { paths } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { FormError, TextField } from "@/components/ui/field";
import { EmptyState } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { dateTime, relativeTime } from "@/lib/time";
import { STEP_LABELS } from "@/routes/workspace/deploy/timeline";

const LOAD_FAILED = "The log could not be loaded.";

type Json<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { "application/json": infer T } } } } } ? T : never;
type AuditPage = Json<"/api/admin/audit-logs">;
type AuditEntry = AuditPage["items"][number];
type FailedJobPage = Json<"/api/admin/failed-jobs">;
type FailedJob = FailedJobPage["items"][number];
type FailedDeploymentPage = Json<"/api/admin/failed-deployments">;
type FailedDeployment = FailedDeploymentPage["items"][number];

const PAGE_SIZE = 50;

const TABS = [
  { id: "audit", label: "Audit log" },
  { id: "jobs", label: "Failed jobs" },
  { id: "deployments", label: "Failed deployments" },
] as const;
type TabId = (typeof TABS)[number]["id"];

const KIND_LABELS: Record<string, string> = { deploy: "Deploy", update: "Update", redeploy: "Redeploy", rollback: "Rollback" };

function shortId(id: string): string {
  return id.slice(0, 8);
}

function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={relativeTime(iso)} className="whitespace-nowrap tabular-nums">
      {dateTime(iso)}
    </time>
  );
}

/** Reads a keyset-paginated list one page after another. */
function usePages<Page extends { nextCursor?: string | null }>(key: readonly unknown[], load: (cursor: string | null) => Promise<Page>) {
  return useInfiniteQuery({
    queryKey: key,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => load(pageParam),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
}

/** The loading, error, empty and "load more" states every list of this screen shares. */
function Paged<Page extends { items: unknown[] }>({
  query,
  empty,
  children,
}: {
  query: UseInfiniteQueryResult<InfiniteData<Page>>;
  empty: string;
  children: (items: Page["items"]) => ReactNode;
}) {
  const items = query.data?.pages.flatMap((page) => page.items) ?? [];
  if (query.isLoading) {
    return (
      <div className="space-y-2" aria-busy="true">
        {Array.from({ length: 4 }, (_, i) => (
          <Skeleton key={i} className="h-12 w-full" />
        ))}
      </div>
    );
  }
  if (query.error && items.length === 0) {
    return (
      <div className="space-y-3">
        <FormError message={errorText(query.error, LOAD_FAILED)} />
        <Button variant="secondary" size="sm" onClick={() => void query.refetch()} busy={query.isFetching}>
          Try again
        </Button>
      </div>
    );
  }
  if (items.length === 0) return <EmptyState>{empty}</EmptyState>;
  return (
    <div className="space-y-3">
      {children(items)}
      {query.error && <FormError message={errorText(query.error, LOAD_FAILED)} />}
      {query.hasNextPage && (
        <Button variant="secondary" size="sm" onClick={() => void query.fetchNextPage()} busy={query.isFetchingNextPage}>
          Load more
        </Button>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------------------- audit log

interface AuditFilters {
  action: string;
  userId: string;
  organizationId: string;
  /** UTC days (YYYY-MM-DD), both included. */
  from: string;
  to: string;
}

const FILTER_KEYS = ["action", "userId", "organizationId", "from", "to"] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function filtersOf(params: URLSearchParams): AuditFilters {
  return {
    action: params.get("action") ?? "",
    userId: params.get("userId") ?? "",
    organizationId: params.get("organizationId") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
}

function nextDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

/** The API's query: `since` inclusive and `until` exclusive, so the last day counts whole. */
function auditQuery(filters: AuditFilters) {
  return {
    ...(filters.action ? { action: filters.action } : {}),
    ...(filters.userId ? { userId: filters.userId } : {}),
    ...(filters.organizationId ? { organizationId: filters.organizationId } : {}),
    ...(filters.from ? { since: `${filters.from}T00:00:00Z` } : {}),
    ...(filters.to ? { until: nextDay(filters.to) } : {}),
  };
}

function AuditFilterForm({ filters, onApply }: { filters: AuditFilters; onApply: (filters: AuditFilters) => void }) {
  const [draft, setDraft] = useState(filters);
  const [checked, setChecked] = useState(false);
  const set = (key: keyof AuditFilters) => (event: { target: { value: string } }) => setDraft({ ...draft, [key]: event.target.value.trim() });
  const filtered = FILTER_KEYS.some((key) => filters[key]);
  // Told here rather than by the API's refusal: an ID is the whole UUID, the days in order.
  const errors = {
    userId: draft.userId && !UUID.test(draft.userId) ? "A whole user ID (from a user's details)." : undefined,
    organizationId: draft.organizationId && !UUID.test(draft.organizationId) ? "A whole organization ID." : undefined,
    to: draft.from && draft.to && draft.to < draft.from ? "Not before the first day." : undefined,
  };
  const valid = !errors.userId && !errors.organizationId && !errors.to;
  return (
    <form
      role="search"
      aria-label="Filter the audit log"
      noValidate
      className="grid gap-3 sm:grid-cols-2 lg:grid-cols-[1.2fr_1fr_1fr_auto_auto_auto] lg:items-start"
      onSubmit={(event) => {
        event.preventDefault();
        setChecked(true);
        if (valid) onApply(draft);
      }}
    >
      <TextField label="Action" placeholder="e.g. user.login" value={draft.action} onChange={set("action")} />
      <TextField label="User ID" value={draft.userId} onChange={set("userId")} spellCheck={false} error={checked ? errors.userId : undefined} />
      <TextField
        label="Organization ID"
        value={draft.organizationId}
        onChange={set("organizationId")}
        spellCheck={false}
        error={checked ? errors.organizationId : undefined}
      />
      <TextField label="From (UTC day)" type="date" value={draft.from} onChange={set("from")} />
      <TextField label="To (UTC day)" type="date" value={draft.to} onChange={set("to")} error={checked ? errors.to : undefined} />
      <div className="flex gap-2 lg:mt-[1.625rem]">
        <Button type="submit" variant="secondary">
          Filter
        </Button>
        {filtered && (
          <Button
            variant="ghost"
            onClick={() => {
              const cleared = { action: "", userId: "", organizationId: "", from: "", to: "" };
              setDraft(cleared);
              setChecked(false);
              onApply(cleared);
            }}
          >
            Clear
          </Button>
        )}
      </div>
    </form>
  );
}

function Detail({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-[8rem_1fr] gap-2">
      <dt className="text-muted-foreground">{term}</dt>
      <dd className="min-w-0 break-all">{children}</dd>
    </div>
  );
}

function AuditRow({ entry, onFilter }: { entry: AuditEntry; onFilter: (change: Partial<AuditFilters>) => void }) {
  const [open, setOpen] = useState(false);
  const detailsId = useId();
  const hasMetadata = entry.metadata !== null && Object.keys(entry.metadata).length > 0;
  const idButton = "cursor-pointer text-xs underline decoration-dotted underline-offset-2 hover:decoration-solid";
  return (
    <>
      <tr className="border-t border-border align-top">
        <td className="py-2 pr-3">
          <button
            type="button"
            aria-expanded={open}
            aria-controls={open ? detailsId : undefined}
            onClick={() => setOpen(!open)}
            className="flex h-6 w-6 cursor-pointer items-center justify-center rounded hover:bg-muted"
          >
            <span aria-hidden="true" className={cn("inline-block transition-transform", open && "rotate-90")}>
              ▸
            </span>
            <span className="sr-only">Details of {entry.action}</span>
          </button>
        </td>
        <td className="py-2 pr-4">
          <When iso={entry.createdAt} />
        </td>
        <td className="py-2 pr-4">
          {entry.userId ? (
            <button type="button" className={idButton} title={`Show only the entries of user ${entry.userId}`} onClick={() => onFilter({ userId: entry.userId ?? "" })}>
              {entry.userEmail ?? shortId(entry.userId)}
              <span className="sr-only">: show only this user's entries</span>
            </button>
          ) : (
            <span className="text-muted-foreground">System</span>
          )}
        </td>
        <td className="py-2 pr-4">
          <button type="button" className={cn(idButton, "no-underline")} title="Show only this action" onClick={() => onFilter({ action: entry.action })}>
            {entry.action}
            <span className="sr-only">: show only this action</span>
          </button>
        </td>
        <td className="py-2 pr-4">
          {entry.resourceType ? (
            <span>
              {entry.resourceType}
              {entry.resourceId && (
                <span className="ml-1 font-mono text-xs text-muted-foreground" title={entry.resourceId}>
                  {shortId(entry.resourceId)}
                </span>
              )}
            </span>
          ) : (
            <span className="text-muted-foreground">—</span>
          )}
        </td>
        <td className="py-2">
          {entry.organizationId ? (
            <button
              type="button"
              className={idButton}
              title={`Show only the entries of organization ${entry.organizationId}`}
              onClick={() => onFilter({ organizationId: entry.organizationId ?? "" })}
            >
              {entry.organizationName ?? shortId(entry.organizationId)}
              <span className="sr-only">: show only this organization's entries</span>
            </button>
          ) : (
            <span className="text-muted-foreground">—</span>
          )}
        </td>
      </tr>
      {open && (
        <tr id={detailsId}>
          <td />
          <td colSpan={5} className="pb-3">
            <dl className="space-y-1 rounded-md bg-muted p-3 text-xs">
              <Detail term="Entry">
                <span className="font-mono">{entry.id}</span>
              </Detail>
              <Detail term="User">
                {entry.userId ? (
                  <>
                    {entry.userEmail} <span className="font-mono">{entry.userId}</span>
                  </>
                ) : (
                  "System"
                )}
              </Detail>
              <Detail term="Organization">
                {entry.organizationId ? (
                  <>
                    {entry.organizationName} <span className="font-mono">{entry.organizationId}</span>
                  </>
                ) : (
                  "—"
                )}
              </Detail>
              <Detail term="Resource">
                {entry.resourceType ?? "—"} {entry.resourceId && <span className="font-mono">{entry.resourceId}</span>}
              </Detail>
              <Detail term="IP address">{entry.ipAddress ?? "—"}</Detail>
              <Detail term="Browser">{entry.userAgent ?? "—"}</Detail>
              <Detail term="Details">
                {hasMetadata ? <pre className="font-mono whitespace-pre-wrap">{JSON.stringify(entry.metadata, null, 2)}</pre> : "—"}
              </Detail>
            </dl>
          </td>
        </tr>
      )}
    </>
  );
}

function AuditLog() {
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params);
  const query = auditQuery(filters);
  const log = usePages(["admin", "audit-logs", query], (cursor) =>
    unwrap(api.GET("/api/admin/audit-logs", { params: { query: { limit: PAGE_SIZE, ...query, ...(cursor ? { cursor } : {}) } } })),
  );
  const apply = (next: AuditFilters) =>
    setParams((current) => {
      const updated = new URLSearchParams(current);
      for (const key of FILTER_KEYS) {
        if (next[key]) updated.set(key, next[key]);
        else updated.delete(key);
      }
      return updated;
    });
  const filtered = FILTER_KEYS.some((key) => filters[key]);
  return (
    <div className="space-y-4">
      <p className="text-sm text-muted-foreground">Everything recorded across the platform, newest first. Select an ID or an action to see only its entries.</p>
      {/* Re-created when the address changes (an ID selected below, Back): the fields show the filters in use. */}
      <AuditFilterForm key={FILTER_KEYS.map((key) => filters[key]).join("|")} filters={filters} onApply={apply} />
      <Paged query={log} empty={filtered ? "Nothing recorded matches these filters." : "Nothing recorded yet."}>
        {(items) => (
          // Positioned: the screen-reader-only labels in columns scrolled out of view stay inside it (not widening the page).
          <div className="relative overflow-x-auto">
            <table className="w-full text-left text-sm">
              <caption className="sr-only">Audit log</caption>
              <thead className="text-muted-foreground">
                <tr>
                  <th scope="col" className="w-8 py-2 pr-3">
                    <span className="sr-only">Details</span>
                  </th>
                  <th scope="col" className="py-2 pr-4 font-medium">
                    Time
                  </th>
                  <th scope="col" className="py-2 pr-4 font-medium">
                    Actor
                  </th>
                  <th scope="col" className="py-2 pr-4 font-medium">
                    Action
                  </th>
                  <th scope="col" className="py-2 pr-4 font-medium">
                    Resource
                  </th>
                  <th scope="col" className="py-2 font-medium">
                    Organization
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((entry) => (
                  <AuditRow key={entry.id} entry={entry} onFilter={(change) => apply({ ...filters, ...change })} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Paged>
    </div>
  );
}

// -------------------------------------------------------------------------------------- failed jobs

function Where({ organization, project }: { organization: string; project: string }) {
  return (
    <span className="min-w-0">
      <span className="font-medium">{project}</span>
      <span className="text-muted-foreground"> in {organization}</span>
    </span>
  );
}

function FailedJobItem({ job }: { job: FailedJob }) {
  const model = job.model ? `${job.model}${job.provider ? ` (${job.provider})` : ""}` : "No model recorded";
  return (
    <li className="space-y-1.5 py-3">
      <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1 text-sm">
        <Where organization={job.organizationName} project={job.projectName} />
        <span className="ml-auto text-xs text-muted-foreground">
          <When iso={job.finishedAt} />
        </span>
      </div>
      <p className="text-sm">
        {job.errorCode && <code className="mr-2 rounded bg-danger/10 px-1.5 py-0.5 font-mono text-xs text-danger">{job.errorCode}</code>}
        <span>{job.errorMessage ?? "No error message recorded."}</span>
      </p>
      <p className="text-xs text-muted-foreground">
        {model} · {job.mode} · {job.attempts === 1 ? "1 attempt" : `${job.attempts} attempts`}
        {job.createdByEmail && ` · asked by ${job.createdByEmail}`}
      </p>
      <details className="text-xs">
        <summary className="cursor-pointer select-none font-medium text-muted-foreground hover:text-foreground">More about this job</summary>
        <dl className="mt-2 space-y-1 rounded-md bg-muted p-3">
          <Detail term="Job">
            <span className="font-mono">{job.id}</span>
          </Detail>
          <Detail term="Queued">
            <When iso={job.createdAt} />
          </Detail>
          <Detail term="Started">{job.startedAt ? <When iso={job.startedAt} /> : "Never claimed"}</Detail>
          <Detail term="Failed">
            <When iso={job.finishedAt} />
          </Detail>
          <Detail term="Organization">
            {job.organizationName} <span className="font-mono">{job.organizationId}</span>
          </Detail>
          <Detail term="Project">
            {job.projectName} <span className="font-mono">{job.projectId}</span>
          </Detail>
          <Detail term="Chat">
            <span className="font-mono">{job.chatId}</span>
          </Detail>
          <Detail term="Asked by">{job.createdByEmail ?? job.createdBy ?? "—"}</Detail>
        </dl>
      </details>
    </li>
  );
}

function FailedJobs() {
  const jobs = usePages(["admin", "failed-jobs"], (cursor) =>
    unwrap(api.GET("/api/admin/failed-jobs", { params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } })),
  );
  return (
    <div className="space-y-4">
      <p className="text-sm text-muted-foreground">AI generation jobs that ended in an error, latest first.</p>
      <Paged query={jobs} empty="No failed jobs.">
        {(items) => (
          <ul aria-label="Failed jobs" className="divide-y divide-border">
            {items.map((job) => (
              <FailedJobItem key={job.id} job={job} />
            ))}
          </ul>
        )}
      </Paged>
    </div>
  );
}

// ------------------------------------------------------------------------------- failed deployments

function stepName(step: string | null): string {
  if (!step) return "Unknown step";
  return step in STEP_LABELS ? STEP_LABELS[step as keyof typeof STEP_LABELS] : step;
}

function FailedDeploymentItem({ deployment }: { deployment: FailedDeployment }) {
  const kind = KIND_LABELS[deployment.kind] ?? deployment.kind;
  return (
    <li className="space-y-1.5 py-3">
      <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1 text-sm">
        <Where organization={deployment.organizationName} project={deployment.projectName} />
        <span className="text-xs text-muted-foreground">
          {kind}
          {deployment.versionNumber !== null && ` of version ${deployment.versionNumber}`}
        </span>
        <span className="ml-auto text-xs text-muted-foreground">
          <When iso={deployment.completedAt} />
        </span>
      </div>
      <p className="text-sm">
        <span className="font-medium text-danger">Failed at: {stepName(deployment.failedStep)}</span>
        {deployment.errorMessage && <span className="text-muted-foreground"> · {deployment.errorMessage}</span>}
      </p>
      <details className="text-xs">
        <summary className="cursor-pointer select-none font-medium text-muted-foreground hover:text-foreground">Step, logs and build log</summary>
        <div className="mt-2 space-y-3">
          <dl className="space-y-1 rounded-md bg-muted p-3">
            <Detail term="Failed step">
              {stepName(deployment.failedStep)}
              {deployment.failedStep && <span className="ml-1 font-mono text-muted-foreground">({deployment.failedStep})</span>}
            </Detail>
            <Detail term="Detail">{deployment.failedStepDetail ? <span className="font-mono whitespace-pre-wrap">{deployment.failedStepDetail}</span> : "—"}</Detail>
            <Detail term="Attempts">{deployment.failedStepAttempts ?? "—"}</Detail>
            <Detail term="Started">
              <When iso={deployment.startedAt} />
            </Detail>
            <Detail term="Ended">
              <When iso={deployment.completedAt} />
            </Detail>
            <Detail term="Started by">{deployment.triggeredByEmail ?? deployment.triggeredBy ?? "—"}</Detail>
            <Detail term="Commit">{deployment.commitSha ? <span className="font-mono">{deployment.commitSha}</span> : "—"}</Detail>
            <Detail term="Easypanel service">{deployment.easypanelService ? <span className="font-mono">{deployment.easypanelService}</span> : "—"}</Detail>
            <Detail term="Deployment">
              <span className="font-mono">{deployment.id}</span>
            </Detail>
          </dl>
          <div>
            <h3 className="mb-1 font-medium">Last log lines</h3>
            {deployment.logLines.length === 0 ? (
              <p className="text-muted-foreground">No log lines.</p>
            ) : (
              <pre tabIndex={0} aria-label="Last log lines" className="max-h-60 overflow-auto rounded-md border border-border bg-muted p-2 font-mono leading-5 whitespace-pre-wrap break-words">
                {deployment.logLines.map((line, i) => (
                  <div key={i}>
                    <span className="mr-2 select-none text-muted-foreground">{new Date(line.at).toLocaleTimeString()}</span>
                    {line.step && <span className="mr-2 text-muted-foreground">[{line.step}]</span>}
                    {line.line}
                  </div>
                ))}
              </pre>
            )}
          </div>
          <div>
            <h3 className="mb-1 font-medium">Build log (end)</h3>
            {deployment.buildLogTail ? (
              <pre tabIndex={0} aria-label="Build log (end)" className="max-h-80 overflow-auto rounded-md border border-border bg-muted p-2 font-mono leading-5 whitespace-pre-wrap break-words">
                {deployment.buildLogTail}
              </pre>
            ) : (
              <p className="text-muted-foreground">The build did not run.</p>
            )}
          </div>
        </div>
      </details>
    </li>
  );
}

function FailedDeployments() {
  const deployments = usePages(["admin", "failed-deployments"], (cursor) =>
    unwrap(api.GET("/api/admin/failed-deployments", { params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } } })),
  );
  return (
    <div className="space-y-4">
      <p className="text-sm text-muted-foreground">Deployments that failed, latest first, with the step that failed.</p>
      <Paged query={deployments} empty="No failed deployments.">
        {(items) => (
          <ul aria-label="Failed deployments" className="divide-y divide-border">
            {items.map((deployment) => (
              <FailedDeploymentItem key={deployment.id} deployment={deployment} />
            ))}
          </ul>
        )}
      </Paged>
    </div>
  );
}

// ------------------------------------------------------------------------------------------- screen

function tabOf(params: URLSearchParams): TabId {
  return TABS.find((tab) => tab.id === params.get("tab"))?.id ?? "audit";
}

export function LogsScreen() {
  const [params, setParams] = useSearchParams();
  const active = tabOf(params);
  const base = useId();
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const choose = (id: TabId) =>
    setParams((current) => {
      // The audit log's filters are its own: another tab starts from a clean address.
      const updated = new URLSearchParams();
      if (id !== "audit") updated.set("tab", id);
      else for (const key of FILTER_KEYS) if (current.get(key)) updated.set(key, current.get(key) ?? "");
      return updated;
    });
  // Arrow keys move between the tabs (and open the one reached), as the ARIA tabs pattern has it.
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const at = TABS.findIndex((tab) => tab.id === active);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const next = (to + TABS.length) % TABS.length;
    const tab = TABS[next];
    if (!tab) return;
    choose(tab.id);
    tabs.current[next]?.focus();
  };
  return (
    <div className="mt-6 space-y-6">
      <h1 className="text-2xl font-semibold">System logs</h1>
      <div role="tablist" aria-label="System logs" className="flex gap-1 overflow-x-auto border-b border-border" onKeyDown={onKeyDown}>
        {TABS.map((tab, i) => {
          const selected = tab.id === active;
          return (
            <button
              key={tab.id}
              ref={(element) => {
                tabs.current[i] = element;
              }}
              id={`${base}-tab-${tab.id}`}
              type="button"
              role="tab"
              aria-selected={selected}
              aria-controls={selected ? `${base}-panel` : undefined}
              tabIndex={selected ? 0 : -1}
              onClick={() => choose(tab.id)}
              className={cn(
                "-mb-px cursor-pointer whitespace-nowrap border-b-2 px-3 py-2 text-sm",
                selected ? "border-primary font-medium text-foreground" : "border-transparent text-muted-foreground hover:text-foreground",
              )}
            >
              {tab.label}
            </button>
          );
        })}
      </div>
      <div role="tabpanel" id={`${base}-panel`} aria-labelledby={`${base}-tab-${active}`} tabIndex={0} className="rounded-lg border border-border bg-surface p-4 focus-visible:outline-offset-4">
        {active === "audit" ? <AuditLog /> : active === "jobs" ? <FailedJobs /> : <FailedDeployments />}
      </div>
    </div>
  );
}
