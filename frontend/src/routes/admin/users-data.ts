// The users screens' wire types, labels and query keys (the list and the detail share them).

import type { components } from "@/api/schema";

export type AdminUser = components["schemas"]["AdminUser"];
export type AdminUserDetail = components["schemas"]["AdminUserDetail"];
export type GlobalRole = AdminUser["role"];

export const ROLES = ["user", "co_admin", "admin"] as const satisfies readonly GlobalRole[];
export const GLOBAL_ROLE_LABELS: Record<GlobalRole, string> = { user: "User", co_admin: "Co-admin", admin: "Admin" };

export const usersKeys = {
  all: ["admin", "users"] as const,
  lists: ["admin", "users", "list"] as const,
  list: (filters: object) => ["admin", "users", "list", filters] as const,
  detail: (id: string) => ["admin", "users", "detail", id] as const,
  activity: (id: string) => ["admin", "users", "activity", id] as const,
};
