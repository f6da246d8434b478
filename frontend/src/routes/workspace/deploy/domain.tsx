import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { isPlanLimit, PlanLimitNotice } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { FormError, TextField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { useToast } from "@/components/ui/toast";
import { deployKeys, type DeployState } from "./data";

function DomainError({ error, organizationId }: { error: unknown; organizationId: string }) {
  if (isPlanLimit(error)) {
    return (
      <PlanLimitNotice
        error={error}
        organizationId={organizationId}
        message="Custom domains need the Pro plan. Upgrade the organization's plan to use one."
      />
    );
  }
  return <FormError message={errorText(error)} />;
}

function CopyButton({ value, label }: { value: string; label: string }) {
  const toast = useToast();
  return (
    <Button
      variant="ghost"
      size="sm"
      aria-label={`Copy ${label}`}
      onClick={() =>
        navigator.clipboard.writeText(value).then(
          () => toast.success(`Copied the ${label}`),
          () => toast.error("The browser did not allow copying: select the text instead."),
        )
      }
    >
      Copy
    </Button>
  );
}

function DnsRecord({ record }: { record: NonNullable<DeployState["customDomain"]>["record"] }) {
  const fields: [string, string, boolean][] = [
    ["Type", record.type, false],
    ["Name", record.name, true],
    ["Value", record.value, true],
  ];
  return (
    <table className="w-full text-left text-sm">
      <caption className="pb-2 text-left text-sm text-muted-foreground">
        Create this DNS record at your domain's DNS provider. The domain answers once the record is in place.
      </caption>
      <tbody className="divide-y divide-border rounded-md border border-border">
        {fields.map(([label, value, copyable]) => (
          <tr key={label}>
            <th scope="row" className="w-20 px-3 py-1.5 font-medium text-muted-foreground">
              {label}
            </th>
            <td className="py-1.5">
              <code className="break-all font-mono">{value}</code>
            </td>
            <td className="w-20 py-1 pr-1 text-right">{copyable && <CopyButton value={value} label={`record ${label.toLowerCase()}`} />}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The app at the person's own domain: the host to save, then the DNS record that points it here. */
export function CustomDomain({
  projectId,
  organizationId,
  deploy,
  canDeploy,
}: {
  projectId: string;
  organizationId: string;
  deploy: DeployState;
  canDeploy: boolean;
}) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [host, setHost] = useState("");
  const current = deploy.customDomain;
  // A domain points at a deployed app (stopped or not); the API refuses one before that.
  const hasApp = deploy.url !== null && deploy.state !== "not_deployed";
  const saved = (next: { deploy: DeployState }) => queryClient.setQueryData(deployKeys.state(projectId), next);
  const save = useMutation({
    mutationFn: () => unwrap(api.PUT("/api/projects/{id}/deploy/domain", { params: { path: { id: projectId } }, body: { host: host.trim() } })),
    onSuccess: (next) => {
      saved(next);
      setHost("");
      toast.success("Domain saved", "Create the DNS record below to point it at the app.");
    },
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/projects/{id}/deploy/domain", { params: { path: { id: projectId } } })),
    onSuccess: (next) => {
      saved(next);
      toast.success("Domain removed");
    },
    onError: (error) => toast.error(errorText(error)),
  });
  return (
    <Section title="Custom domain" description="Serve the app at a domain of your own (Pro plan).">
      <div className="space-y-4">
        {current ? (
          <div className="space-y-3">
            <p className="flex flex-wrap items-center gap-2 text-sm">
              <span>
                The app is also served at{" "}
                <a href={current.url} target="_blank" rel="noopener noreferrer" className="font-medium text-primary underline underline-offset-2 hover:no-underline">
                  {current.host}
                </a>
              </span>
              {canDeploy && (
                <Button variant="ghost" size="sm" className="ml-auto" busy={remove.isPending} onClick={() => remove.mutate()}>
                  Remove domain
                </Button>
              )}
            </p>
            <DnsRecord record={current.record} />
          </div>
        ) : (
          !canDeploy && <p className="text-sm text-muted-foreground">No custom domain.</p>
        )}
        {canDeploy && !hasApp && <p className="text-sm text-muted-foreground">Deploy the app first, then add its domain here.</p>}
        {canDeploy && hasApp && (
          <form
            className="space-y-3"
            onSubmit={(event) => {
              event.preventDefault();
              if (host.trim()) save.mutate();
            }}
          >
            {save.error && <DomainError error={save.error} organizationId={organizationId} />}
            <div className="flex flex-wrap items-end gap-2">
              <TextField
                label={current ? "Change the domain" : "Domain"}
                placeholder="app.example.com"
                autoComplete="off"
                spellCheck={false}
                className="min-w-60 flex-1"
                value={host}
                onChange={(event) => setHost(event.target.value)}
              />
              <Button type="submit" busy={save.isPending} disabled={!host.trim()}>
                Save domain
              </Button>
            </div>
          </form>
        )}
      </div>
    </Section>
  );
}
