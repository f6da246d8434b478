import { useCallback, useState } from "react";
import { FormError } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useDeployments, useDeployState, useVersionNumbers } from "./deploy/data";
import { CustomDomain } from "./deploy/domain";
import { History } from "./deploy/history";
import { Overview } from "./deploy/overview";
import { DeploymentView } from "./deploy/timeline";
import type { PanelProps } from "./workspace";

/** The Deploy tab: the app's state and address, deploying it, the timeline and log of the shown
 * deployment (the newest unless one was chosen in the history), the history and a custom domain.
 * Without the deploy permission everything is shown and nothing can be changed. */
export function DeployPanel({ project, access }: PanelProps) {
  const state = useDeployState(project.id);
  const deployments = useDeployments(project.id);
  const versions = useVersionNumbers(project.id);
  const [chosenId, setChosenId] = useState<string | null>(null);
  const newest = deployments.data?.pages[0]?.items[0];
  const shownId = chosenId ?? newest?.id ?? null;
  const numbers = versions.data;
  // "v3", or null for a version not among the newest 100.
  const versionLabel = useCallback(
    (versionId: string | null) => {
      const number = versionId ? numbers?.get(versionId) : undefined;
      return number === undefined ? null : `v${number}`;
    },
    [numbers],
  );
  const busy = state.data?.state === "deploying";
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl space-y-6 p-4">
        {state.error ? (
          <Section title="Deployment">
            <FormError message={state.error.message} />
          </Section>
        ) : state.data ? (
          <Overview projectId={project.id} organizationId={project.organizationId} deploy={state.data} canDeploy={access.deploy} canManage={access.manage} onStarted={setChosenId} />
        ) : (
          <Skeleton className="h-40 w-full" />
        )}
        {shownId && <DeploymentView key={shownId} id={shownId} projectId={project.id} versionLabel={versionLabel} />}
        <History
          projectId={project.id}
          organizationId={project.organizationId}
          deployments={deployments}
          shownId={shownId}
          canDeploy={access.deploy}
          busy={busy}
          versionLabel={versionLabel}
          onShow={setChosenId}
        />
        {state.data && <CustomDomain projectId={project.id} organizationId={project.organizationId} deploy={state.data} canDeploy={access.deploy} />}
      </div>
    </div>
  );
}
