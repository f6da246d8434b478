import { Link } from "react-router";
import { ApiError } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError } from "@/components/ui/field";

/** What a 402 `plan_limit_reached` says in its details. */
export interface PlanLimitDetails {
  limit: number;
  used: number;
  tier: string;
  resource: "projects" | "members" | "deployments" | "ai_tokens" | "custom_domains";
}

/** Whether the API refused because the organization's plan allows no more (402 plan_limit_reached). */
export function isPlanLimit(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 402;
}

export function planLimitDetails(error: ApiError): PlanLimitDetails | null {
  const details = error.details as Partial<PlanLimitDetails> | undefined;
  return details && typeof details.limit === "number" && typeof details.resource === "string" ? (details as PlanLimitDetails) : null;
}

/** The billing page, of a given organization when known (the page switches to it). */
export function billingPath(organizationId?: string): string {
  return organizationId ? `/organization/billing?organizationId=${encodeURIComponent(organizationId)}` : "/organization/billing";
}

const linkClass = "font-medium text-primary underline underline-offset-2 hover:no-underline";

/** The limit that was hit, in the server's words (or `message`), and the way to more: "See plans". */
export function PlanLimitNotice({ error, organizationId, message }: { error: ApiError; organizationId?: string; message?: string }) {
  return (
    <div role="alert" className="rounded-md border border-warning/50 bg-warning/10 px-3 py-2 text-sm" data-testid="plan-limit">
      <p>{message ?? error.message}</p>
      <Link to={billingPath(organizationId)} className={`mt-1 inline-block ${linkClass}`}>
        See plans
      </Link>
    </div>
  );
}

/** A form's error: the plan-limit notice for a 402, the API's message otherwise. */
export function ErrorNotice({ error, organizationId, fallback }: { error: unknown; organizationId?: string; fallback: string }) {
  if (!error) return null;
  if (isPlanLimit(error)) return <PlanLimitNotice error={error} organizationId={organizationId} />;
  return <FormError message={error instanceof ApiError ? error.message : fallback} />;
}

/** For actions without a form of their own (a button): the limit that was hit, in a dialog, with "See plans". */
export function PlanLimitDialog({ error, organizationId, onClose }: { error: ApiError | null; organizationId?: string; onClose: () => void }) {
  return (
    <Dialog
      open={error !== null}
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
      title="Your plan's limit is reached"
      description={error?.message}
    >
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onClose}>
          Close
        </Button>
        <Link
          to={billingPath(organizationId)}
          className="inline-flex h-10 items-center justify-center rounded-md bg-primary px-4 text-sm font-medium text-primary-foreground hover:opacity-90"
        >
          See plans
        </Link>
      </div>
    </Dialog>
  );
}
