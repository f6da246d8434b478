import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Deployment = components["schemas"]["Deployment"];
export type DeploymentDetail = components["schemas"]["DeploymentDetail"];
export type DeploymentStep = components["schemas"]["DeploymentStep"];
export type LogLine = components["schemas"]["LogLine"];
export type DeployState = components["schemas"]["DeployState"];
export type Database = Deployment["database"];

/** A deployment's log as followed so far: every line fetched, the build log as last read, and the
 * cursor of the lines still to come. */
export interface FollowedLog {
  lines: LogLine[];
  buildLog: string | null;
  next: number;
}

// While a deployment runs, its timeline and log are looked at about once a second.
const FOLLOW_MS = 1000;
// The project's state and history, while a deployment runs (the timeline shows the detail).
const WATCH_MS = 2000;
// How long after its end a deployment's last step may still be closing (its row is ended after the
// deployment itself, and it may log a last line before that).
const SETTLE_MS = 60_000;
// Pages of log lines read in one go once a deployment has ended.
const MAX_PAGES_AT_ONCE = 20;

export const deployKeys = {
  state: (projectId: string) => ["deploy", projectId] as const,
  deployments: (projectId: string) => ["deployments", projectId] as const,
  deployment: (id: string) => ["deployment", id] as const,
  logs: (id: string) => ["deployment-logs", id] as const,
};

export function isActive(deployment: Pick<Deployment, "status"> | undefined): boolean {
  return deployment?.status === "pending" || deployment?.status === "running";
}

/** Whether a deployment's timeline and log may still change: it runs, or it has just ended and the step that
 * ended it is still being closed. */
export function stillChanging(detail: DeploymentDetail | undefined): boolean {
  if (!detail) return false;
  if (isActive(detail.deployment)) return true;
  const endedAt = new Date(detail.deployment.completedAt ?? detail.deployment.startedAt).getTime();
  return detail.steps.some((step) => step.status === "running") && Date.now() - endedAt < SETTLE_MS;
}

export function useDeployState(projectId: string) {
  return useQuery({
    queryKey: deployKeys.state(projectId),
    queryFn: () => unwrap(api.GET("/api/projects/{id}/deploy", { params: { path: { id: projectId } } })),
    select: (envelope) => envelope.deploy,
    refetchInterval: (query) => (query.state.data?.deploy.state === "deploying" ? WATCH_MS : false),
  });
}

export function useDeployments(projectId: string) {
  return useInfiniteQuery({
    queryKey: deployKeys.deployments(projectId),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/projects/{id}/deployments", {
          params: { path: { id: projectId }, query: { limit: 20, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
    refetchInterval: (query) => (isActive(query.state.data?.pages[0]?.items[0]) ? WATCH_MS : false),
  });
}

/** A deployment and its step timeline, looked at again every second until neither changes any more. */
export function useDeployment(id: string) {
  return useQuery({
    queryKey: deployKeys.deployment(id),
    queryFn: () => unwrap(api.GET("/api/deployments/{id}", { params: { path: { id } } })),
    refetchInterval: (query) => (stillChanging(query.state.data) ? FOLLOW_MS : false),
  });
}

/** A deployment's log, followed: each fetch asks only for the lines after those already held
 * (`since` = the last answer's `next`) and appends them. */
export function useDeploymentLog(id: string, following: boolean) {
  const queryClient = useQueryClient();
  return useQuery({
    queryKey: deployKeys.logs(id),
    queryFn: async (): Promise<FollowedLog> => {
      const held = queryClient.getQueryData<FollowedLog>(deployKeys.logs(id));
      let log: FollowedLog = held ?? { lines: [], buildLog: null, next: 0 };
      // While following, one page a look; once ended, every page still to come (the API pages long logs).
      for (let pages = 0; pages < MAX_PAGES_AT_ONCE; pages++) {
        const page = await unwrap(api.GET("/api/deployments/{id}/logs", { params: { path: { id }, query: { since: log.next } } }));
        const last = log.lines.at(-1)?.seq ?? -1;
        log = { lines: [...log.lines, ...page.lines.filter((line) => line.seq > last)], buildLog: page.buildLog, next: page.next };
        if (following || page.lines.length === 0) break;
      }
      return log;
    },
    refetchInterval: following ? FOLLOW_MS : false,
  });
}

/** Version numbers by id, for the history's "v3" (the newest 100 versions; older ones show no number). */
export function useVersionNumbers(projectId: string) {
  return useQuery({
    queryKey: ["versions", projectId, "numbers"],
    queryFn: () => unwrap(api.GET("/api/projects/{id}/versions", { params: { path: { id: projectId }, query: { limit: 100 } } })),
    select: (page) => new Map(page.items.map((version) => [version.id, version.number])),
  });
}
