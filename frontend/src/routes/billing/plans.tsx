import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { api, ApiError, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { cn } from "@/lib/cn";
import { money, type Interval, type Plan, type Subscription } from "./data";

const count = new Intl.NumberFormat();

function limitLine(limit: number | null, one: string, many: string, suffix = ""): string {
  if (limit === null) return `Unlimited ${many}${suffix}`;
  return `${count.format(limit)} ${limit === 1 ? one : many}${suffix}`;
}

function Features({ plan }: { plan: Plan }) {
  const { limits } = plan;
  return (
    <ul className="space-y-1 text-sm">
      <li>{limitLine(limits.projects, "project", "projects")}</li>
      <li>{limitLine(limits.members, "member", "members")}</li>
      <li>{limitLine(limits.deployments, "deployed app", "deployed apps")}</li>
      <li>{limitLine(limits.aiTokens, "AI token", "AI tokens", " a month")}</li>
      <li>{limits.customDomains ? "Custom domains" : "No custom domains"}</li>
    </ul>
  );
}

function Price({ plan, interval }: { plan: Plan; interval: Interval }) {
  const cents = interval === "year" ? plan.yearlyPriceCents : plan.monthlyPriceCents;
  if (plan.tier === "free") return <p className="text-2xl font-semibold">{money(0, plan.currency)}</p>;
  if (cents === null) return <p className="text-2xl font-semibold">Custom pricing</p>;
  return (
    <p>
      <span className="text-2xl font-semibold">{money(cents, plan.currency)}</span>
      <span className="text-sm text-muted-foreground"> / {interval}</span>
    </p>
  );
}

/** How much a year costs against twelve months, in whole percent (null when it saves nothing). */
function yearlySaving(plans: Plan[]): number | null {
  const pro = plans.find((plan) => plan.tier === "pro");
  if (!pro?.monthlyPriceCents || pro.yearlyPriceCents === null) return null;
  const saving = Math.round((1 - pro.yearlyPriceCents / (12 * pro.monthlyPriceCents)) * 100);
  return saving > 0 ? saving : null;
}

function IntervalToggle({ value, onChange, saving }: { value: Interval; onChange: (next: Interval) => void; saving: number | null }) {
  const options: { id: Interval; label: string }[] = [
    { id: "month", label: "Monthly" },
    { id: "year", label: saving ? `Yearly (save ${saving}%)` : "Yearly" },
  ];
  return (
    <fieldset className="inline-flex rounded-md border border-border p-0.5">
      <legend className="sr-only">Billing period</legend>
      {options.map((option) => (
        <label
          key={option.id}
          className="cursor-pointer rounded px-3 py-1.5 text-sm has-[:checked]:bg-primary has-[:checked]:text-primary-foreground has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-ring"
        >
          <input type="radio" name="billing-period" value={option.id} checked={value === option.id} onChange={() => onChange(option.id)} className="sr-only" />
          {option.label}
        </label>
      ))}
    </fieldset>
  );
}

interface PlansProps {
  plans: Plan[];
  subscription: Subscription;
  isOwner: boolean;
}

/** Free, Pro (monthly or yearly) and Enterprise side by side, with the way to each from the plan held now. */
export function Plans({ plans, subscription, isOwner }: PlansProps) {
  const [interval, setChosenInterval] = useState<Interval>(subscription.interval ?? "month");
  const checkout = useMutation({
    mutationFn: (tier: "pro") =>
      unwrap(api.POST("/api/billing/checkout", { body: { organizationId: subscription.organizationId, tier, interval } })),
    // Stripe's hosted Checkout; it sends the browser back to this page.
    onSuccess: ({ url }) => window.location.assign(url),
  });
  const current = subscription.tier;

  function action(plan: Plan): ReactNode {
    if (plan.tier === current) return <p className="text-sm font-medium text-success">Your current plan</p>;
    if (plan.tier === "enterprise") {
      return <p className="text-sm text-muted-foreground">Contact us: limits, invoicing and support made for your company.</p>;
    }
    if (plan.tier === "free") {
      return current === "pro" && isOwner ? <p className="text-sm text-muted-foreground">Cancel Pro in Manage billing to return to Free.</p> : null;
    }
    // Pro, from Free.
    if (!isOwner) return <p className="text-sm text-muted-foreground">Ask the owner to upgrade.</p>;
    return (
      <Button className="w-full" busy={checkout.isPending} onClick={() => checkout.mutate("pro")}>
        Upgrade to {plan.name}
      </Button>
    );
  }

  return (
    <Section
      title="Plans"
      description="Upgrade when you need more; you can cancel at any time."
      actions={<IntervalToggle value={interval} onChange={setChosenInterval} saving={yearlySaving(plans)} />}
    >
      <div className="space-y-4">
        <FormError message={checkout.error ? (checkout.error instanceof ApiError ? checkout.error.message : "We could not open the checkout. Try again.") : null} />
        <ul className="grid gap-4 md:grid-cols-3" aria-label="Plans">
          {plans.map((plan) => (
            <li
              key={plan.tier}
              aria-label={plan.name}
              className={cn(
                "flex flex-col gap-3 rounded-lg border p-4",
                plan.tier === current ? "border-primary bg-primary/5" : "border-border",
              )}
            >
              <div>
                <h3 className="font-semibold">{plan.name}</h3>
                <p className="text-sm text-muted-foreground">{plan.description}</p>
              </div>
              <Price plan={plan} interval={interval} />
              <Features plan={plan} />
              <div className="mt-auto pt-2">{action(plan)}</div>
            </li>
          ))}
        </ul>
      </div>
    </Section>
  );
}
