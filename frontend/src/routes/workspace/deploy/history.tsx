import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { isPlanLimit, PlanLimitNotice } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { EmptyState, Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { dateTime, relativeTime } from "@/lib/time";
import { KIND_LABELS, StatusBadge } from "./badges";
import { deployKeys, type Deployment, type useDeployments } from "./data";

interface HistoryProps {
  projectId: string;
  organizationId: string;
  deployments: ReturnType<typeof useDeployments>;
  shownId: string | null;
  canDeploy: boolean;
  busy: boolean;
  versionLabel: (versionId: string | null) => string | null;
  onShow: (id: string) => void;
}

function RollbackDialog({
  projectId,
  organizationId,
  target,
  versionLabel,
  onClose,
  onStarted,
}: {
  projectId: string;
  organizationId: string;
  target: Deployment | null;
  versionLabel: (versionId: string | null) => string | null;
  onClose: () => void;
  onStarted: (id: string) => void;
}) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const rollback = useMutation({
    mutationFn: (deploymentId: string) =>
      unwrap(api.POST("/api/projects/{id}/deploy/rollback", { params: { path: { id: projectId } }, body: { deploymentId } })),
    onSuccess: ({ deployment }) => {
      queryClient.setQueryData(deployKeys.deployment(deployment.id), { deployment, steps: [] });
      void queryClient.invalidateQueries({ queryKey: deployKeys.deployments(projectId) });
      void queryClient.invalidateQueries({ queryKey: deployKeys.state(projectId) });
      toast.success("Rollback started", `${versionLabel(deployment.versionId) ?? "The version"} is being deployed again.`);
      onStarted(deployment.id);
      onClose();
    },
    // Over the plan's deployed apps (a rollback of an app destroyed since), the dialog says so and leads to the plans.
    onError: (error) => !isPlanLimit(error) && toast.error(errorText(error)),
  });
  const close = () => {
    rollback.reset();
    onClose();
  };
  return (
    <Dialog
      open={target !== null}
      onOpenChange={(open) => !open && close()}
      title="Roll back to this deployment?"
      description={
        target &&
        `${versionLabel(target.versionId) ?? "Its version"}${target.commitSha ? ` (commit ${target.commitSha.slice(0, 7)})` : ""}, deployed on ${dateTime(target.startedAt)}, is built and deployed again and replaces what runs now. It is recorded as a new deployment; the versions after it stay.`
      }
    >
      {isPlanLimit(rollback.error) && (
        <div className="mb-4">
          <PlanLimitNotice error={rollback.error} organizationId={organizationId} />
        </div>
      )}
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={close}>
          Cancel
        </Button>
        <Button onClick={() => target && rollback.mutate(target.id)} busy={rollback.isPending}>
          Roll back
        </Button>
      </div>
    </Dialog>
  );
}

/** Every deployment, newest first; choosing one shows its timeline, a past successful one can be run again. */
export function History({ projectId, organizationId, deployments, shownId, canDeploy, busy, versionLabel, onShow }: HistoryProps) {
  const [target, setTarget] = useState<Deployment | null>(null);
  const items = deployments.data?.pages.flatMap((page) => page.items) ?? [];
  // What runs now is the newest successful deployment: only older ones can be rolled back to.
  const liveId = items.find((d) => d.status === "success")?.id;
  return (
    <Section title="History">
      {deployments.isLoading && <Skeleton className="h-24 w-full" />}
      {!deployments.isLoading && items.length === 0 && <EmptyState>No deployments yet.</EmptyState>}
      {items.length > 0 && (
        <ul aria-label="Deployments" className="-mx-2 divide-y divide-border">
          {items.map((deployment) => (
            <li key={deployment.id} className={cn("flex items-center gap-2 px-2", deployment.id === shownId && "bg-primary/5")}>
              <button
                type="button"
                onClick={() => onShow(deployment.id)}
                aria-current={deployment.id === shownId ? "true" : undefined}
                className="flex min-w-0 flex-1 flex-wrap items-center gap-x-3 gap-y-1 py-2 text-left text-sm hover:underline"
              >
                <StatusBadge status={deployment.status} />
                <span>{KIND_LABELS[deployment.kind]}</span>
                {versionLabel(deployment.versionId) && <span className="font-mono text-muted-foreground">{versionLabel(deployment.versionId)}</span>}
                {deployment.commitSha && <code className="font-mono text-xs text-muted-foreground">{deployment.commitSha.slice(0, 7)}</code>}
                {deployment.id === liveId && <span className="text-xs text-success">running now</span>}
                <span className="ml-auto text-xs text-muted-foreground" title={dateTime(deployment.startedAt)}>
                  {relativeTime(deployment.startedAt)}
                </span>
              </button>
              {canDeploy && deployment.status === "success" && deployment.id !== liveId && (
                <Button variant="secondary" size="sm" disabled={busy} onClick={() => setTarget(deployment)}>
                  Roll back to this
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      {deployments.hasNextPage && (
        <Button variant="ghost" size="sm" className="mt-2" onClick={() => void deployments.fetchNextPage()} busy={deployments.isFetchingNextPage}>
          Older deployments
        </Button>
      )}
      <RollbackDialog projectId={projectId} organizationId={organizationId} target={target} versionLabel={versionLabel} onClose={() => setTarget(null)} onStarted={onShow} />
    </Section>
  );
}
