import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, ApiError, errorText, unwrap } from "@/api/client";
import { isPlanLimit, PlanLimitDialog } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { Section } from "@/components/ui/page";
import { useToast } from "@/components/ui/toast";
import { DATABASE_LABELS, StateBadge } from "./badges";
import { deployKeys, type Database, type DeployState } from "./data";

const DATABASES: Database[] = ["postgres", "mariadb", "none"];

const link = "font-medium text-primary underline underline-offset-2 hover:no-underline";

interface OverviewProps {
  projectId: string;
  /** The project's organization: whose plans a refusal over the plan's limit points to. */
  organizationId: string;
  deploy: DeployState;
  canDeploy: boolean;
  canManage: boolean;
  onStarted: (deploymentId: string) => void;
}

/** The database choice and the Deploy (or, once deployed, Update) button. */
function DeployForm({ projectId, organizationId, deploy, onStarted }: Pick<OverviewProps, "projectId" | "organizationId" | "deploy" | "onStarted">) {
  const queryClient = useQueryClient();
  const toast = useToast();
  // A deployment over the plan's deployed apps answers 402: said in a dialog that leads to the plans.
  const [limit, setLimit] = useState<ApiError | null>(null);
  const [database, setDatabase] = useState<Database>(deploy.database);
  // Once an app has gone live (and until it is destroyed) a deployment updates it.
  const deployed = deploy.lastDeployedAt !== null && deploy.state !== "not_deployed";
  const start = useMutation({
    mutationFn: () => {
      const call = { params: { path: { id: projectId } }, body: { database } };
      return unwrap(deployed ? api.POST("/api/projects/{id}/deploy/update", call) : api.POST("/api/projects/{id}/deploy", call));
    },
    onSuccess: ({ deployment }) => {
      queryClient.setQueryData(deployKeys.deployment(deployment.id), { deployment, steps: [] });
      void queryClient.invalidateQueries({ queryKey: deployKeys.deployments(projectId) });
      void queryClient.invalidateQueries({ queryKey: deployKeys.state(projectId) });
      // Deploying the working copy may have saved it as a new version.
      void queryClient.invalidateQueries({ queryKey: ["versions", projectId] });
      onStarted(deployment.id);
    },
    onError: (error) => (isPlanLimit(error) ? setLimit(error) : toast.error(errorText(error))),
  });
  const deploying = deploy.state === "deploying";
  return (
    <form
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        start.mutate();
      }}
    >
      <fieldset>
        <legend className="text-sm font-medium">Database</legend>
        <div className="mt-1.5 flex flex-wrap gap-x-5 gap-y-1.5">
          {DATABASES.map((choice) => (
            <label key={choice} className="flex items-center gap-2 text-sm">
              <input
                type="radio"
                name="database"
                value={choice}
                checked={database === choice}
                onChange={() => setDatabase(choice)}
                className="h-4 w-4 accent-primary"
              />
              {DATABASE_LABELS[choice]}
            </label>
          ))}
        </div>
      </fieldset>
      <p className="text-sm text-muted-foreground">
        The project's{" "}
        <Link to={`/projects/${projectId}/settings`} className={link}>
          environment variables
        </Link>{" "}
        are applied to the app{database === "none" ? "" : ", with DATABASE_URL for its database"}.
      </p>
      <Button type="submit" busy={start.isPending} disabled={deploying}>
        {deploying ? "Deploying…" : deployed ? "Update" : "Deploy"}
      </Button>
      <PlanLimitDialog error={limit} organizationId={organizationId} onClose={() => setLimit(null)} />
    </form>
  );
}

/** Stop, Start and Destroy the deployed app. */
function Lifecycle({ projectId, deploy, canDeploy, canManage }: Pick<OverviewProps, "projectId" | "deploy" | "canDeploy" | "canManage">) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [confirmDestroy, setConfirmDestroy] = useState(false);
  const change = useMutation({
    mutationFn: (action: "stop" | "start" | "destroy") => {
      const call = { params: { path: { id: projectId } } };
      if (action === "stop") return unwrap(api.POST("/api/projects/{id}/deploy/stop", call));
      if (action === "start") return unwrap(api.POST("/api/projects/{id}/deploy/start", call));
      return unwrap(api.DELETE("/api/projects/{id}/deploy", call));
    },
    onSuccess: (next, action) => {
      queryClient.setQueryData(deployKeys.state(projectId), next);
      void queryClient.invalidateQueries({ queryKey: deployKeys.deployments(projectId) });
      setConfirmDestroy(false);
      toast.success({ stop: "App stopped", start: "App started", destroy: "App destroyed" }[action]);
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const idle = deploy.state !== "deploying";
  const pending = (action: string) => change.isPending && change.variables === action;
  return (
    <div className="flex flex-wrap gap-2">
      {canDeploy && deploy.state === "live" && (
        <Button variant="secondary" size="sm" busy={pending("stop")} disabled={change.isPending} onClick={() => change.mutate("stop")}>
          Stop
        </Button>
      )}
      {canDeploy && deploy.state === "stopped" && (
        <Button variant="secondary" size="sm" busy={pending("start")} disabled={change.isPending} onClick={() => change.mutate("start")}>
          Start
        </Button>
      )}
      {canManage && deploy.state !== "not_deployed" && (
        <Button variant="danger" size="sm" disabled={!idle || change.isPending} onClick={() => setConfirmDestroy(true)}>
          Destroy
        </Button>
      )}
      <Dialog
        open={confirmDestroy}
        onOpenChange={setConfirmDestroy}
        title="Destroy the deployed app?"
        description={
          <>
            The app stops answering{deploy.url ? ` at ${deploy.url}` : ""} and is removed from the server
            {deploy.database === "none" ? "" : `, with its ${DATABASE_LABELS[deploy.database]} database and all the data in it`}
            {deploy.customDomain ? `; ${deploy.customDomain.host} no longer points anywhere` : ""}. The project, its versions, its
            Git repository and the deployment history stay: you can deploy again.
          </>
        }
      >
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => setConfirmDestroy(false)}>
            Cancel
          </Button>
          <Button variant="danger" busy={pending("destroy")} onClick={() => change.mutate("destroy")}>
            Destroy app
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

const STATE_TEXT: Record<DeployState["state"], string> = {
  not_deployed: "Deploy the project to get a live address for it.",
  deploying: "A deployment is under way: follow it below.",
  live: "The app is live at",
  stopped: "The app is stopped: it does not answer until you start it again.",
  failed: "The last deployment failed.",
};

function Address({ url, lead }: { url: string; lead: string }) {
  return (
    <div className="flex flex-wrap items-center gap-2 text-sm">
      <span>{lead}</span>
      <a href={url} target="_blank" rel="noopener noreferrer" className={`${link} break-all`} data-testid="deploy-url">
        {url}
      </a>
      <a
        href={url}
        target="_blank"
        rel="noopener noreferrer"
        className="inline-flex h-8 items-center rounded-md border border-border bg-surface px-3 text-sm font-medium hover:bg-muted"
      >
        Open
        <span className="sr-only"> the app in a new tab</span>
      </a>
    </div>
  );
}

/** Where the app stands, its address, and (for those who may) what to do with it. */
export function Overview({ projectId, organizationId, deploy, canDeploy, canManage, onStarted }: OverviewProps) {
  // A failed update leaves the version deployed before it answering.
  const stillServing = deploy.state === "failed" && deploy.lastDeployedAt !== null;
  return (
    <Section title="Deployment" actions={<StateBadge state={deploy.state} />}>
      <div className="space-y-4">
        {deploy.url && deploy.state === "live" ? (
          <Address url={deploy.url} lead={STATE_TEXT.live} />
        ) : deploy.url && stillServing ? (
          <Address url={deploy.url} lead="The last deployment failed; the version deployed before it still answers at" />
        ) : (
          <p className="text-sm text-muted-foreground">{STATE_TEXT[deploy.state]}</p>
        )}
        <div className="flex flex-wrap items-end justify-between gap-3">
          {canDeploy ? (
            <DeployForm key={deploy.database} projectId={projectId} organizationId={organizationId} deploy={deploy} onStarted={onStarted} />
          ) : (
            <p className="text-sm text-muted-foreground">
              You can follow this project's deployments; deploying it needs the deploy permission in its organization.
            </p>
          )}
          {(canDeploy || canManage) && <Lifecycle projectId={projectId} deploy={deploy} canDeploy={canDeploy} canManage={canManage} />}
        </div>
      </div>
    </Section>
  );
}
