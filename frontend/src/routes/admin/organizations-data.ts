// The organizations screens' wire types, labels and query keys (the list and the detail share them).

import type { components } from "@/api/schema";

export type AdminOrganization = components["schemas"]["AdminOrganization"];
export type AdminOrganizationDetail = components["schemas"]["AdminOrganizationDetail"];
export type Tier = AdminOrganization["tier"];

export const TIERS = ["free", "pro", "enterprise"] as const satisfies readonly Tier[];
// The list's status filter: suspended, or the subscription's (Stripe's) status.
export const STATUSES = [
  "suspended",
  "active",
  "trialing",
  "past_due",
  "canceled",
  "unpaid",
  "incomplete",
  "incomplete_expired",
  "paused",
] as const;
export type Status = (typeof STATUSES)[number];
export const STATUS_LABELS: Record<Status, string> = {
  suspended: "Suspended",
  active: "Active",
  trialing: "Trialing",
  past_due: "Past due",
  canceled: "Canceled",
  unpaid: "Unpaid",
  incomplete: "Incomplete",
  incomplete_expired: "Incomplete (expired)",
  paused: "Paused",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status as Status] ?? status;
}

export const organizationsKeys = {
  lists: ["admin", "organizations", "list"] as const,
  list: (filters: object) => ["admin", "organizations", "list", filters] as const,
  detail: (id: string) => ["admin", "organizations", "detail", id] as const,
};
