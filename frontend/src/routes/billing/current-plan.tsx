import { useMutation } from "@tanstack/react-query";
import { api, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/page";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { longDate, money, TIER_NAMES, type Plan, type Subscription } from "./data";

const TONES = {
  success: "border border-success/50 text-success",
  danger: "bg-danger/10 text-danger",
  warning: "border border-warning/50 text-warning",
  progress: "bg-primary/10 text-primary",
  neutral: "bg-muted text-muted-foreground",
};

// Stripe's subscription statuses, as a person reads them.
const STATUS: Record<string, [string, keyof typeof TONES]> = {
  active: ["Active", "success"],
  trialing: ["Trial", "progress"],
  past_due: ["Past due", "danger"],
  unpaid: ["Unpaid", "danger"],
  canceled: ["Canceled", "neutral"],
  incomplete: ["Payment pending", "warning"],
  incomplete_expired: ["Payment expired", "neutral"],
  paused: ["Paused", "neutral"],
};

function StatusBadge({ subscription }: { subscription: Subscription }) {
  // An active subscription set to end with its period is on its way out: say so at a glance.
  const canceling = subscription.cancelAtPeriodEnd && subscription.status === "active";
  const [label, tone] = canceling ? (["Canceling", "warning"] as const) : (STATUS[subscription.status] ?? [subscription.status, "neutral" as const]);
  return (
    <span className={cn("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium", TONES[tone])} data-testid="subscription-status">
      {label}
    </span>
  );
}

/** What happens next to the subscription: a renewal, its end, a trial's end, a grace period. */
function Timeline({ subscription }: { subscription: Subscription }) {
  const lines: string[] = [];
  const paid = subscription.subscribedTier !== "free";
  if (paid && subscription.tier !== subscription.subscribedTier) {
    lines.push(
      `Your ${TIER_NAMES[subscription.subscribedTier]} subscription is unpaid: the ${TIER_NAMES[subscription.tier]} plan's limits apply until the payment goes through.`,
    );
  }
  if (subscription.status === "past_due" && subscription.graceEndsAt) {
    lines.push(`The last payment failed. Update your payment method: grace until ${longDate(subscription.graceEndsAt)}.`);
  }
  if (subscription.status === "trialing" && subscription.trialEndsAt) {
    lines.push(`Trial ends on ${longDate(subscription.trialEndsAt)}.`);
  }
  if (paid && subscription.currentPeriodEnd && subscription.status !== "canceled") {
    lines.push(
      subscription.cancelAtPeriodEnd
        ? `Ends on ${longDate(subscription.currentPeriodEnd)}; the Free plan applies after that.`
        : `Renews on ${longDate(subscription.currentPeriodEnd)}.`,
    );
  }
  if (lines.length === 0) return null;
  return (
    <ul className="space-y-1 text-sm">
      {lines.map((line) => (
        <li key={line}>{line}</li>
      ))}
    </ul>
  );
}

interface CurrentPlanProps {
  subscription: Subscription;
  plan: Plan | undefined;
  isOwner: boolean;
}

/** The plan that applies now, its status and dates, and (for the owner, once a customer exists) the portal. */
export function CurrentPlan({ subscription, plan, isOwner }: CurrentPlanProps) {
  const toast = useToast();
  const portal = useMutation({
    mutationFn: () => unwrap(api.POST("/api/billing/portal", { body: { organizationId: subscription.organizationId } })),
    onSuccess: ({ url }) => window.location.assign(url),
    onError: (error) => toast.error(error.message),
  });
  const price = subscription.interval === "year" ? plan?.yearlyPriceCents : plan?.monthlyPriceCents;
  const paid = subscription.tier !== "free";
  return (
    <Section
      title="Current plan"
      actions={
        isOwner &&
        subscription.hasCustomer && (
          <Button variant="secondary" busy={portal.isPending} onClick={() => portal.mutate()}>
            Manage billing
          </Button>
        )
      }
    >
      <div className="space-y-3" data-testid="current-plan">
        <div className="flex flex-wrap items-center gap-3">
          <p className="text-2xl font-semibold">{plan?.name ?? TIER_NAMES[subscription.tier]}</p>
          {(paid || subscription.subscribedTier !== "free") && <StatusBadge subscription={subscription} />}
        </div>
        {paid && subscription.interval && (
          <p className="text-sm text-muted-foreground">
            Billed {subscription.interval === "year" ? "yearly" : "monthly"}
            {price != null && plan ? ` · ${money(price, plan.currency)} a ${subscription.interval}` : ""}
          </p>
        )}
        {!paid && subscription.subscribedTier === "free" && (
          <p className="text-sm text-muted-foreground">{plan?.description ?? "The plan every organization starts on."}</p>
        )}
        <Timeline subscription={subscription} />
        {isOwner && subscription.hasCustomer && (
          <p className="text-sm text-muted-foreground">Manage billing to change the plan or its period, cancel it, or update the payment method.</p>
        )}
      </div>
    </Section>
  );
}
