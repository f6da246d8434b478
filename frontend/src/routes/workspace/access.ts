import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/api/client";
import { useAuth } from "@/auth/auth";
import { useOrganizations } from "@/lib/organization";

export interface ProjectAccess {
  edit: boolean;
  deploy: boolean;
  manage: boolean;
}

/** What the signed-in person may do in a project's organization, mirroring the API's permission
 * table (owners and admins everything; members what they were granted; viewers nothing). The API
 * still decides: this only keeps buttons that would be refused off the screen. */
export function useProjectAccess(organizationId: string | undefined): ProjectAccess {
  const { user } = useAuth();
  const organizations = useOrganizations();
  const role = organizations.data?.find((o) => o.id === organizationId)?.role;
  const platformAdmin = user?.role === "admin";
  const members = useQuery({
    queryKey: ["members", organizationId, "me"],
    enabled: role === "member" && Boolean(organizationId),
    queryFn: () => unwrap(api.GET("/api/organizations/{id}/members", { params: { path: { id: organizationId! }, query: { limit: 100 } } })),
    select: (page) => page.items.find((m) => m.userId === user?.id)?.permissions ?? [],
  });
  if (platformAdmin || role === "owner" || role === "admin") return { edit: true, deploy: true, manage: true };
  if (role !== "member") return { edit: false, deploy: false, manage: false };
  const held = new Set(members.data ?? []);
  return { edit: held.has("edit") || held.has("deploy"), deploy: held.has("deploy"), manage: held.has("manage") };
}
