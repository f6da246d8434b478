import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Plan = components["schemas"]["Plan"];
export type Subscription = components["schemas"]["Subscription"];
export type Invoice = components["schemas"]["Invoice"];
export type Tier = Plan["tier"];
export type Interval = "month" | "year";

// After a paid Checkout the webhook that switches the plan may land a moment after the browser comes back:
// the subscription is looked at again every 2 s, at most 30 times (a minute), until it shows Pro.
const CONFIRM_MS = 2000;
const CONFIRM_LOOKS = 30;

export const billingKeys = {
  plans: ["plans"] as const,
  subscription: (organizationId: string) => ["billing", organizationId, "subscription"] as const,
  invoices: (organizationId: string) => ["billing", organizationId, "invoices"] as const,
};

export function usePlans() {
  return useQuery({
    queryKey: billingKeys.plans,
    queryFn: () => unwrap(api.GET("/api/plans")),
    select: (list) => list.items,
    staleTime: 5 * 60_000,
  });
}

/** The organization's subscription; while `awaitingUpgrade`, looked at again until it shows a paid tier
 * (`gaveUp`: the looks ran out without seeing it). */
export function useSubscription(organizationId: string, awaitingUpgrade: boolean) {
  const queryClient = useQueryClient();
  const subscription = useQuery({
    queryKey: billingKeys.subscription(organizationId),
    queryFn: () => unwrap(api.GET("/api/billing/subscription", { params: { query: { organizationId } } })),
    select: (envelope) => envelope.subscription,
    refetchInterval: (query) => {
      if (!awaitingUpgrade) return false;
      const tier = query.state.data?.subscription.tier;
      return tier === "free" && query.state.dataUpdateCount < CONFIRM_LOOKS ? CONFIRM_MS : false;
    },
  });
  // Read on each render: every look re-renders the page.
  const looks = queryClient.getQueryState(billingKeys.subscription(organizationId))?.dataUpdateCount ?? 0;
  return { subscription, gaveUp: awaitingUpgrade && looks >= CONFIRM_LOOKS };
}

export function useInvoices(organizationId: string) {
  return useInfiniteQuery({
    queryKey: billingKeys.invoices(organizationId),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/billing/invoices", {
          params: { query: { organizationId, limit: 12, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
}

/** An amount in minor units (cents, or yen: the currency says how many digits) as the reader writes money. */
export function money(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}

export function longDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
}

export const TIER_NAMES: Record<Tier, string> = { free: "Free", pro: "Pro", enterprise: "Enterprise" };
