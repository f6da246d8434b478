import { cn } from "@/lib/cn";
import type { Deployment, DeployState } from "./data";

const TONES = {
  success: "border border-success/50 text-success",
  danger: "bg-danger/10 text-danger",
  progress: "bg-primary/10 text-primary",
  neutral: "bg-muted text-muted-foreground",
};

function Badge({ tone, children, testId }: { tone: keyof typeof TONES; children: string; testId?: string }) {
  return (
    <span className={cn("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium", TONES[tone])} data-testid={testId}>
      {children}
    </span>
  );
}

const STATE: Record<DeployState["state"], [string, keyof typeof TONES]> = {
  not_deployed: ["Not deployed", "neutral"],
  deploying: ["Deploying", "progress"],
  live: ["Live", "success"],
  stopped: ["Stopped", "neutral"],
  failed: ["Failed", "danger"],
};

/** Where the project's app stands: live, stopped, being deployed... */
export function StateBadge({ state }: { state: DeployState["state"] }) {
  const [label, tone] = STATE[state];
  return (
    <Badge tone={tone} testId="deploy-state">
      {label}
    </Badge>
  );
}

const STATUS: Record<Deployment["status"], [string, keyof typeof TONES]> = {
  pending: ["Pending", "progress"],
  running: ["Running", "progress"],
  success: ["Succeeded", "success"],
  failed: ["Failed", "danger"],
  canceled: ["Canceled", "neutral"],
};

/** How one deployment went. */
export function StatusBadge({ status }: { status: Deployment["status"] }) {
  const [label, tone] = STATUS[status];
  return <Badge tone={tone}>{label}</Badge>;
}

export const KIND_LABELS: Record<Deployment["kind"], string> = {
  deploy: "Deploy",
  update: "Update",
  redeploy: "Redeploy",
  rollback: "Rollback",
};

export const DATABASE_LABELS: Record<Deployment["database"], string> = {
  postgres: "PostgreSQL",
  mariadb: "MariaDB",
  none: "No database",
};
