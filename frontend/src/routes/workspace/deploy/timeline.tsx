import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useLayoutEffect, useRef } from "react";
import { FormError } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { dateTime, relativeTime } from "@/lib/time";
import { DATABASE_LABELS, KIND_LABELS, StatusBadge } from "./badges";
import {
  deployKeys,
  isActive,
  stillChanging,
  useDeployment,
  useDeploymentLog,
  type Deployment,
  type DeploymentStep,
  type LogLine,
} from "./data";

// The state machine's steps, in the order they run (MarkFailed replaces MarkLive on a failure).
const STEP_ORDER: DeploymentStep["step"][] = [
  "Prepare",
  "PushToGitea",
  "EnsureDatabase",
  "EnsureApp",
  "ConfigureEnv",
  "TriggerBuild",
  "WaitForBuild",
  "HealthCheck",
  "MarkLive",
];

/** What each step of the deploy state machine is called on screen (the timeline, the admin's failure log). */
export const STEP_LABELS: Record<DeploymentStep["step"], string> = {
  Prepare: "Prepare",
  PushToGitea: "Push to Git",
  EnsureDatabase: "Set up the database",
  EnsureApp: "Set up the app",
  ConfigureEnv: "Environment variables",
  TriggerBuild: "Start the build",
  WaitForBuild: "Build",
  HealthCheck: "Health check",
  MarkLive: "Go live",
  MarkFailed: "Mark failed",
};

type Row = { step: DeploymentStep["step"]; record: DeploymentStep | null };

/** The steps that ran, then (while the deployment runs) those still to come. */
function rows(deployment: Deployment, steps: DeploymentStep[]): Row[] {
  const ran: Row[] = steps.map((record) => ({ step: record.step, record }));
  if (!isActive(deployment)) return ran;
  const started = new Set(steps.map((s) => s.step));
  return [...ran, ...STEP_ORDER.filter((step) => !started.has(step)).map((step) => ({ step, record: null }))];
}

export function duration(startedAt: string, endedAt: string): string {
  const seconds = Math.max(0, (new Date(endedAt).getTime() - new Date(startedAt).getTime()) / 1000);
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

function StepIcon({ status }: { status: DeploymentStep["status"] | "waiting" }) {
  const box = "flex h-5 w-5 shrink-0 items-center justify-center rounded-full text-xs font-bold";
  if (status === "running") return <Spinner className="h-5 w-5 shrink-0 text-primary" />;
  if (status === "succeeded") return <span className={cn(box, "bg-success text-primary-foreground dark:text-background")} aria-hidden="true">✓</span>;
  if (status === "failed") return <span className={cn(box, "bg-danger text-danger-foreground")} aria-hidden="true">✕</span>;
  return <span className={cn(box, "border-2 border-border")} aria-hidden="true" />;
}

const STATUS_WORDS = { running: "running", succeeded: "done", failed: "failed", waiting: "waiting" };

function Timeline({ deployment, steps }: { deployment: Deployment; steps: DeploymentStep[] }) {
  return (
    <ol aria-label="Steps" className="space-y-1">
      {rows(deployment, steps).map(({ step, record }) => {
        const status = record?.status ?? "waiting";
        return (
          <li key={step} className={cn("flex items-start gap-3 rounded-md px-2 py-1.5", status === "failed" && "bg-danger/10")} data-step={step}>
            <StepIcon status={status} />
            <div className="min-w-0 flex-1">
              <div className="flex flex-wrap items-baseline gap-x-2">
                <span className={cn("text-sm font-medium", status === "waiting" && "text-muted-foreground")}>{STEP_LABELS[step]}</span>
                <span className="sr-only">{STATUS_WORDS[status]}</span>
                {record && record.attempts > 1 && <span className="text-xs text-warning">{record.attempts} attempts</span>}
              </div>
              {record?.detail && (
                <p className="truncate font-mono text-xs text-muted-foreground" title={record.detail}>
                  {record.detail}
                </p>
              )}
            </div>
            <span className="shrink-0 text-xs tabular-nums text-muted-foreground">
              {record?.endedAt ? duration(record.startedAt, record.endedAt) : status === "running" ? "running…" : ""}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString();
}

/** The log as it grows: a scrolling area that stays at the bottom unless the reader scrolled up. */
function LogView({ lines, following }: { lines: LogLine[]; following: boolean }) {
  const area = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const element = area.current;
    if (element && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [lines.length]);
  return (
    <div
      ref={area}
      role="log"
      aria-label="Deployment log"
      tabIndex={0}
      onScroll={(event) => {
        const element = event.currentTarget;
        atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
      }}
      className="h-56 overflow-y-auto rounded-md border border-border bg-muted p-2 font-mono text-xs leading-5"
      data-testid="deploy-log"
    >
      {lines.length === 0 && <p className="text-muted-foreground">{following ? "Waiting for the first lines…" : "No log lines."}</p>}
      {lines.map((line) => (
        <div key={line.seq} className="whitespace-pre-wrap break-words">
          <span className="mr-2 select-none text-muted-foreground">{clock(line.createdAt)}</span>
          {line.line}
        </div>
      ))}
    </div>
  );
}

function BuildLog({ text, failed }: { text: string | null; failed: boolean }) {
  return (
    <details open={failed} className="group rounded-md border border-border">
      <summary className="cursor-pointer select-none px-3 py-2 text-sm font-medium">Build log</summary>
      {text ? (
        <pre tabIndex={0} aria-label="Build log" className="max-h-80 overflow-auto border-t border-border bg-muted p-2 font-mono text-xs leading-5 whitespace-pre-wrap break-words">
          {text}
        </pre>
      ) : (
        <p className="border-t border-border px-3 py-2 text-sm text-muted-foreground">No build log yet.</p>
      )}
    </details>
  );
}

/** One deployment: how it went, its step timeline, its log and its build log, followed while it runs. */
export function DeploymentView({ id, projectId, versionLabel }: { id: string; projectId: string; versionLabel: (versionId: string | null) => string | null }) {
  const queryClient = useQueryClient();
  const detail = useDeployment(id);
  const deployment = detail.data?.deployment;
  const following = stillChanging(detail.data);
  const log = useDeploymentLog(id, following);

  // Once it has settled: read the rest of the log and the build log once more, and the project's state.
  const wasFollowing = useRef(following);
  useEffect(() => {
    if (wasFollowing.current && !following) {
      void queryClient.invalidateQueries({ queryKey: deployKeys.logs(id) });
      void queryClient.invalidateQueries({ queryKey: deployKeys.state(projectId) });
      void queryClient.invalidateQueries({ queryKey: deployKeys.deployments(projectId) });
    }
    wasFollowing.current = following;
  }, [following, id, projectId, queryClient]);

  if (detail.error) {
    return (
      <Section title="Deployment">
        <FormError message={detail.error.message} />
      </Section>
    );
  }
  if (!deployment) {
    return (
      <Section title="Deployment">
        <Skeleton className="h-40 w-full" />
      </Section>
    );
  }
  const failed = deployment.status === "failed";
  return (
    <Section
      title={`${KIND_LABELS[deployment.kind]} of ${versionLabel(deployment.versionId) ?? "a version"}`}
      description={
        <span title={dateTime(deployment.startedAt)}>
          Started {relativeTime(deployment.startedAt)}
          {deployment.completedAt && `, took ${duration(deployment.startedAt, deployment.completedAt)}`} · {DATABASE_LABELS[deployment.database]}
          {deployment.commitSha && (
            <>
              {" "}
              · commit <code className="font-mono">{deployment.commitSha.slice(0, 7)}</code>
            </>
          )}
        </span>
      }
      actions={<StatusBadge status={deployment.status} />}
    >
      <div className="space-y-4">
        {failed && deployment.errorMessage && <FormError message={deployment.errorMessage} />}
        <Timeline deployment={deployment} steps={detail.data?.steps ?? []} />
        <div className="space-y-1.5">
          <h3 className="flex items-center gap-2 text-sm font-medium">
            Log {following && <Spinner className="h-3.5 w-3.5 text-muted-foreground" />}
          </h3>
          <LogView key={id} lines={log.data?.lines ?? []} following={following} />
        </div>
        <BuildLog key={id} text={log.data?.buildLog ?? null} failed={failed} />
      </div>
    </Section>
  );
}
