import type { SessionUser } from "@/api/session";

/** Whether the person runs the platform (a global administrator or co-admin): they see the admin area,
 * and maintenance mode does not stop them. */
export function isPlatformStaff(user: SessionUser | null): boolean {
  return user?.role === "admin" || user?.role === "co_admin";
}

/** Whether the person is a global administrator (maintenance mode and sign-ups are theirs alone). */
export function isPlatformAdmin(user: SessionUser | null): boolean {
  return user?.role === "admin";
}
