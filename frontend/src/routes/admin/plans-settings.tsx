// Settings → Plans: each tier's limits and display prices, changed by administrators and co-admins. A tier's
// form sends only what changed, checked first the way the API checks it (billing_fn.schemas.PlanBody); the
// plans everyone reads (the billing page, the limits' messages) are read again afterwards.

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, fieldError, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { FormError, TextAreaField, TextField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { billingKeys, TIER_NAMES, usePlans, type Plan } from "@/routes/billing/data";

type PlanChange = components["schemas"]["PlanBody"];
type LimitField = "maxProjects" | "maxMembers" | "maxDeployments" | "monthlyAiTokens";
type PriceField = "monthlyPriceCents" | "yearlyPriceCents";

// The API's bounds (PlanBody); an empty limit is unlimited, an empty price "contact us".
const LIMITS: { field: LimitField; label: string; min: number; max: number; read: (plan: Plan) => number | null }[] = [
  { field: "maxProjects", label: "Projects", min: 0, max: 1_000_000, read: (plan) => plan.limits.projects },
  { field: "maxMembers", label: "Members", min: 1, max: 1_000_000, read: (plan) => plan.limits.members },
  { field: "maxDeployments", label: "Deployed apps", min: 0, max: 1_000_000, read: (plan) => plan.limits.deployments },
  { field: "monthlyAiTokens", label: "AI tokens a month", min: 0, max: 10 ** 15, read: (plan) => plan.limits.aiTokens },
];
const PRICES: { field: PriceField; label: string; read: (plan: Plan) => number | null }[] = [
  { field: "monthlyPriceCents", label: "Monthly price", read: (plan) => plan.monthlyPriceCents },
  { field: "yearlyPriceCents", label: "Yearly price", read: (plan) => plan.yearlyPriceCents },
];
const MAX_PRICE_MINOR = 10 ** 9;
const MAX_NAME = 100;
const MAX_DESCRIPTION = 1000;
const count = new Intl.NumberFormat();

/** How many digits the currency's minor unit has (2 for USD, 0 for JPY). */
function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

function priceText(minor: number | null, digits: number): string {
  if (minor === null) return "";
  return digits === 0 ? String(minor) : (minor / 10 ** digits).toFixed(digits);
}

type Parsed = { value: number | null; error?: string };

function parseLimit(text: string, min: number, max: number): Parsed {
  const clean = text.trim().replace(/[\s,_]/g, "");
  if (!clean) return { value: null };
  if (!/^\d+$/.test(clean)) return { value: null, error: "A whole number, or empty for unlimited." };
  const value = Number(clean);
  if (value < min || value > max) return { value: null, error: `From ${count.format(min)} to ${count.format(max)}, or empty for unlimited.` };
  return { value };
}

/** A price as written (12.50) in the currency's minor units (1250), without floating-point rounding. */
function parsePrice(text: string, digits: number): Parsed {
  const clean = text.trim().replace(/[\s,]/g, "");
  if (!clean) return { value: null };
  const pattern = digits === 0 ? /^(\d+)$/ : new RegExp(`^(\\d+)(?:\\.(\\d{1,${digits}}))?$`);
  const match = pattern.exec(clean);
  if (!match) return { value: null, error: digits === 0 ? "A whole amount, or empty for no fixed price." : `An amount with at most ${digits} decimals, or empty for no fixed price.` };
  const value = Number(match[1]) * 10 ** digits + Number((match[2] ?? "").padEnd(digits, "0") || "0");
  if (value > MAX_PRICE_MINOR) return { value: null, error: `At most ${priceText(MAX_PRICE_MINOR, digits)}.` };
  return { value };
}

function PlanForm({ plan }: { plan: Plan }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const digits = minorDigits(plan.currency);
  const tierName = TIER_NAMES[plan.tier];
  const [name, setName] = useState(plan.name);
  const [description, setDescription] = useState(plan.description);
  const [limits, setLimits] = useState<Record<LimitField, string>>(
    () => Object.fromEntries(LIMITS.map(({ field, read }) => [field, read(plan) === null ? "" : String(read(plan))])) as Record<LimitField, string>,
  );
  const [prices, setPrices] = useState<Record<PriceField, string>>(
    () => Object.fromEntries(PRICES.map(({ field, read }) => [field, priceText(read(plan), digits)])) as Record<PriceField, string>,
  );
  const [customDomains, setCustomDomains] = useState(plan.limits.customDomains);
  const [checked, setChecked] = useState(false);

  const parsedLimits = Object.fromEntries(LIMITS.map(({ field, min, max }) => [field, parseLimit(limits[field], min, max)])) as Record<LimitField, Parsed>;
  const parsedPrices = Object.fromEntries(PRICES.map(({ field }) => [field, parsePrice(prices[field], digits)])) as Record<PriceField, Parsed>;
  const errors: Record<string, string | undefined> = {
    name: !name.trim() ? "Give the plan a name." : name.trim().length > MAX_NAME ? `At most ${MAX_NAME} characters.` : undefined,
    description: description.length > MAX_DESCRIPTION ? `At most ${MAX_DESCRIPTION} characters.` : undefined,
    ...Object.fromEntries(LIMITS.map(({ field }) => [field, parsedLimits[field].error])),
    ...Object.fromEntries(PRICES.map(({ field }) => [field, parsedPrices[field].error])),
  };
  const invalid = Object.values(errors).some(Boolean);

  // Only what differs from the plan as stored; name, description and custom domains are never sent as null.
  const change: PlanChange = {};
  if (!invalid) {
    if (name.trim() !== plan.name) change.name = name.trim();
    if (description !== plan.description) change.description = description;
    for (const { field, read } of LIMITS) if (parsedLimits[field].value !== read(plan)) change[field] = parsedLimits[field].value;
    for (const { field, read } of PRICES) if (parsedPrices[field].value !== read(plan)) change[field] = parsedPrices[field].value;
    if (customDomains !== plan.limits.customDomains) change.customDomains = customDomains;
  }
  const changed = invalid || Object.keys(change).length > 0;

  const save = useMutation({
    mutationFn: (body: PlanChange) => unwrap(api.PATCH("/api/admin/plans/{tier}", { params: { path: { tier: plan.tier } }, body })),
    onSuccess: ({ plan: saved }) => {
      void queryClient.invalidateQueries({ queryKey: billingKeys.plans });
      toast.success(`${TIER_NAMES[saved.tier]} plan saved`);
    },
  });
  const shown = (field: string) => (checked ? errors[field] : undefined) ?? fieldError(save.error, field);

  function submit(event: FormEvent) {
    event.preventDefault();
    setChecked(true);
    if (invalid) return;
    save.mutate(change);
  }

  return (
    <form aria-label={`${tierName} plan`} noValidate onSubmit={submit} className="flex flex-col gap-4 rounded-lg border border-border p-4">
      <h3 className="font-semibold">{tierName}</h3>
      <TextField label="Name" value={name} maxLength={MAX_NAME} onChange={(e) => setName(e.target.value)} error={shown("name")} autoComplete="off" />
      <TextAreaField
        label="Description"
        value={description}
        maxLength={MAX_DESCRIPTION}
        onChange={(e) => setDescription(e.target.value)}
        error={shown("description")}
      />
      <fieldset className="space-y-3">
        <legend className="text-sm font-medium text-muted-foreground">Limits (empty: unlimited)</legend>
        <div className="grid grid-cols-2 gap-3">
          {LIMITS.map(({ field, label }) => (
            <TextField
              key={field}
              label={label}
              inputMode="numeric"
              placeholder="Unlimited"
              value={limits[field]}
              onChange={(e) => setLimits((current) => ({ ...current, [field]: e.target.value }))}
              error={shown(field)}
              autoComplete="off"
            />
          ))}
        </div>
        <label className="flex items-center gap-3 text-sm">
          <input type="checkbox" className="h-4 w-4 accent-primary" checked={customDomains} onChange={(e) => setCustomDomains(e.target.checked)} />
          Custom domains
        </label>
      </fieldset>
      <fieldset className="space-y-3">
        <legend className="text-sm font-medium text-muted-foreground">Display prices in {plan.currency.toUpperCase()} (empty: no fixed price)</legend>
        <div className="grid grid-cols-2 gap-3">
          {PRICES.map(({ field, label }) => (
            <TextField
              key={field}
              label={label}
              inputMode="decimal"
              value={prices[field]}
              onChange={(e) => setPrices((current) => ({ ...current, [field]: e.target.value }))}
              error={shown(field)}
              autoComplete="off"
            />
          ))}
        </div>
      </fieldset>
      <FormError
        message={
          !save.error
            ? null
            : Object.keys(errors).some((field) => fieldError(save.error, field))
              ? "Correct the field marked above."
              : save.error instanceof ApiError
                ? save.error.message
                : "That did not work. Try again."
        }
      />
      <div className="mt-auto">
        <Button type="submit" busy={save.isPending} disabled={!changed}>
          Save
        </Button>
      </div>
    </form>
  );
}

export function PlansSection() {
  const plans = usePlans();
  return (
    <Section
      title="Plans"
      description="What each tier allows, and the prices the plans page shows (Stripe's prices are what is charged)."
    >
      {plans.error ? (
        <FormError message={plans.error instanceof ApiError ? plans.error.message : "The plans could not be loaded. Reload the page."} />
      ) : !plans.data ? (
        <div className="grid gap-4 lg:grid-cols-3">
          <Skeleton className="h-96 w-full" />
          <Skeleton className="h-96 w-full" />
          <Skeleton className="h-96 w-full" />
        </div>
      ) : (
        <div className="grid gap-4 lg:grid-cols-3">
          {plans.data.map((plan) => (
            // A saved plan comes back with a new updatedAt: its form starts again from what is stored.
            <PlanForm key={`${plan.tier}-${plan.updatedAt}`} plan={plan} />
          ))}
        </div>
      )}
    </Section>
  );
}
