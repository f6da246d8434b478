import { useInfiniteQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { dateTime, relativeTime } from "@/lib/time";
import { importKeys, plural, type Import } from "./data";

const STATUS_LABELS: Record<Import["status"], string> = {
  uploading: "Files not uploaded",
  analyzing: "Analyzing",
  analyzed: "Analyzed, not imported",
  importing: "Importing",
  completed: "Completed",
  failed: "Failed",
};

function summary(item: Import): string {
  if (item.apps.length > 0) return item.apps.map((app) => app.projectName).join(", ");
  if (item.analysis) return plural(item.analysis.apps.length, "app") + " found";
  return plural(item.uploads.length, "file");
}

/** The organization's earlier imports, newest first; each opens where it stands. */
export function ImportHistory({ organizationId, currentId }: { organizationId: string; currentId: string | null }) {
  const history = useInfiniteQuery({
    queryKey: importKeys.history(organizationId),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/api/imports", { params: { query: { organizationId, limit: 10, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
  const items = history.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <Section title="Earlier imports" description="This organization's imports, newest first.">
      {history.isLoading ? (
        <Skeleton className="h-16 w-full" />
      ) : history.error ? (
        <p className="text-sm text-danger">{history.error.message}</p>
      ) : items.length === 0 ? (
        <EmptyState>No imports yet.</EmptyState>
      ) : (
        <>
          <ul className="divide-y divide-border" aria-label="Earlier imports">
            {items.map((item) => (
              <li key={item.id} className="flex flex-wrap items-center gap-x-4 gap-y-1 py-3 text-sm first:pt-0 last:pb-0">
                <span className="mr-auto min-w-0">
                  <span className="block truncate font-medium">{summary(item)}</span>
                  <time dateTime={item.createdAt} title={dateTime(item.createdAt)} className="text-xs text-muted-foreground">
                    Started {relativeTime(item.createdAt)}
                  </time>
                </span>
                <span className={item.status === "failed" ? "font-medium text-danger" : item.status === "completed" ? "font-medium text-success" : ""}>
                  {STATUS_LABELS[item.status]}
                </span>
                {item.id === currentId ? (
                  <span className="text-muted-foreground">Shown above</span>
                ) : (
                  <Link to={`/import?id=${item.id}`} className="font-medium text-primary underline underline-offset-2 hover:no-underline">
                    Open<span className="sr-only"> the import of {summary(item)}</span>
                  </Link>
                )}
              </li>
            ))}
          </ul>
          {history.hasNextPage && (
            <Button variant="secondary" size="sm" className="mt-3" busy={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
              Show more
            </Button>
          )}
        </>
      )}
    </Section>
  );
}
