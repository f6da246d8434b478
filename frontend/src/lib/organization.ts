import { useQuery } from "@tanstack/react-query";
import { useCallback, useSyncExternalStore } from "react";
import { api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Organization = components["schemas"]["Organization"];
const KEY = "mm.organization";
const listeners = new Set<() => void>();

function chosen(): string | null {
  return localStorage.getItem(KEY);
}

export function chooseOrganization(id: string): void {
  localStorage.setItem(KEY, id);
  listeners.forEach((listener) => listener());
}

export function useOrganizations() {
  return useQuery({
    queryKey: ["organizations"],
    queryFn: () => unwrap(api.GET("/api/organizations", { params: { query: { limit: 100 } } })),
    select: (page) => page.items,
  });
}

/** The organization the person works in: their last choice if they still belong to it, else the first. */
export function useCurrentOrganization(): { organization: Organization | undefined; isLoading: boolean; choose: (id: string) => void } {
  const id = useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    chosen,
  );
  const organizations = useOrganizations();
  const items = organizations.data ?? [];
  const organization = items.find((o) => o.id === id) ?? items[0];
  const choose = useCallback((next: string) => chooseOrganization(next), []);
  return { organization, isLoading: organizations.isLoading, choose };
}

export const ROLE_LABELS: Record<string, string> = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };
