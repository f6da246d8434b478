import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { Page } from "@/components/ui/page";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { useCurrentOrganization, useOrganizations, type Organization } from "@/lib/organization";
import { CurrentPlan } from "./current-plan";
import { billingKeys, TIER_NAMES, usePlans, useSubscription, type Subscription } from "./data";
import { Invoices } from "./invoices";
import { Plans } from "./plans";
import { Usage } from "./usage";

type Outcome = "success" | "canceled";

// What Stripe's Checkout and portal add to this page's address when they send the browser back.
const RETURN_PARAMS = ["organizationId", "checkout", "session_id"];

const note = "flex flex-wrap items-center gap-3 rounded-md border px-4 py-3 text-sm";

/** What came of a Checkout the browser returns from: a success (confirmed once the webhook has landed) or a cancel. */
function CheckoutOutcome({
  outcome,
  subscription,
  timedOut,
  onDismiss,
}: {
  outcome: Outcome;
  subscription: Subscription | undefined;
  timedOut: boolean;
  onDismiss: () => void;
}) {
  const dismiss = (
    <Button variant="ghost" size="sm" className="ml-auto" onClick={onDismiss}>
      Dismiss
    </Button>
  );
  if (outcome === "canceled") {
    return (
      <div className={`${note} border-border bg-muted`}>
        <p>Checkout canceled: nothing was charged. Upgrade whenever you are ready.</p>
        {dismiss}
      </div>
    );
  }
  if (!subscription) return null;
  if (subscription.tier !== "free") {
    return (
      <div className={`${note} border-success/50`}>
        <p>
          <span className="font-medium text-success">Thank you!</span> Your payment went through: the {TIER_NAMES[subscription.tier]} plan
          applies now.
        </p>
        {dismiss}
      </div>
    );
  }
  if (timedOut) {
    return (
      <div className={`${note} border-warning/50`}>
        <p>Your payment went through, but the new plan has not reached us yet. It can take a few minutes: reload this page in a moment.</p>
        {dismiss}
      </div>
    );
  }
  return (
    <div className={`${note} border-border`}>
      <Spinner className="h-4 w-4 text-muted-foreground" />
      <p>Payment received: confirming your new plan…</p>
    </div>
  );
}

function BillingScreen({ organization, outcome, onDismiss }: { organization: Organization; outcome: Outcome | null; onDismiss: () => void }) {
  const queryClient = useQueryClient();
  const isOwner = organization.role === "owner";
  const { subscription, gaveUp } = useSubscription(organization.id, outcome === "success");
  const plans = usePlans();
  // A new tier (the webhook landed while this page waited for it) comes with a new invoice.
  const tier = subscription.data?.tier;
  const seenTier = useRef(tier);
  useEffect(() => {
    if (seenTier.current !== undefined && tier !== seenTier.current) {
      void queryClient.invalidateQueries({ queryKey: billingKeys.invoices(organization.id) });
    }
    seenTier.current = tier;
  }, [tier, organization.id, queryClient]);

  const current = subscription.data;
  const plan = plans.data?.find((p) => p.tier === current?.tier);
  return (
    <>
      <p className="text-sm text-muted-foreground">
        The plan, usage and invoices of <span className="font-medium text-foreground">{organization.name}</span>.
      </p>
      <div role="status" aria-live="polite" className="empty:hidden">
        {outcome && (
          <CheckoutOutcome
            outcome={outcome}
            subscription={current}
            timedOut={gaveUp}
            onDismiss={onDismiss}
          />
        )}
      </div>
      {subscription.error ? (
        <FormError message={subscription.error.message} />
      ) : !current ? (
        <div className="space-y-4">
          <Skeleton className="h-32 w-full" />
          <Skeleton className="h-48 w-full" />
        </div>
      ) : (
        <>
          <CurrentPlan subscription={current} plan={plan} isOwner={isOwner} />
          <Usage subscription={current} />
          {plans.error ? (
            <FormError message={plans.error.message} />
          ) : plans.data ? (
            <Plans plans={plans.data} subscription={current} isOwner={isOwner} />
          ) : (
            <Skeleton className="h-64 w-full" />
          )}
          {isOwner && <Invoices organizationId={organization.id} />}
        </>
      )}
    </>
  );
}

/** /organization/billing. Stripe sends the browser back here with `organizationId` (and `checkout=success|canceled`):
 * that organization is the one shown, made the current one when the person belongs to it. */
export function BillingPage() {
  const [params, setParams] = useSearchParams();
  const organizations = useOrganizations();
  const { organization, isLoading, choose } = useCurrentOrganization();
  const wanted = params.get("organizationId");
  // The outcome of the Checkout, for the organization it was for (read once: the address is tidied below).
  const [outcome, setOutcome] = useState<{ organizationId: string | null; kind: Outcome } | null>(() => {
    const kind = params.get("checkout");
    return kind === "success" || kind === "canceled" ? { organizationId: wanted, kind } : null;
  });
  const [foreign, setForeign] = useState(false);
  const list = organizations.data;
  useEffect(() => {
    if (!wanted || !list) return;
    if (list.some((o) => o.id === wanted)) choose(wanted);
    else setForeign(true);
    // From here on the organization switcher decides, and a reload does not announce the Checkout again.
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        RETURN_PARAMS.forEach((name) => next.delete(name));
        return next;
      },
      { replace: true },
    );
  }, [wanted, list, choose, setParams]);

  if (organizations.error) {
    return (
      <Page title="Billing">
        <FormError message={organizations.error.message} />
      </Page>
    );
  }
  if (isLoading || wanted) return <div className="p-6"><Skeleton className="h-40 w-full" /></div>;
  if (!organization) return <div className="p-6 text-sm text-muted-foreground">You do not belong to an organization yet.</div>;
  const shown = outcome && (outcome.organizationId === null || outcome.organizationId === organization.id) ? outcome.kind : null;
  return (
    <Page
      title="Billing"
      actions={
        <Link to="/organization" className="text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
          Organization settings
        </Link>
      }
    >
      {foreign && <FormError message={`That link is for an organization you are not a member of. Here is ${organization.name} instead.`} />}
      <BillingScreen key={organization.id} organization={organization} outcome={shown} onDismiss={() => setOutcome(null)} />
    </Page>
  );
}
