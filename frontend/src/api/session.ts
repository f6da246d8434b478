// The access token lives in memory only (never in storage a script could read later). The
// refresh token is an HttpOnly cookie the browser sends to /api/auth/*: a reload or a 401
// renews the access token through it, silently.

import type { components } from "./schema";

export type SessionUser = components["schemas"]["User"];

type Listener = () => void;

let accessToken: string | null = null;
let currentUser: SessionUser | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<Listener>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function getUser(): SessionUser | null {
  return currentUser;
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setSession(token: string | null, user: SessionUser | null): void {
  accessToken = token;
  currentUser = user;
  listeners.forEach((listener) => listener());
}

export function updateUser(user: SessionUser): void {
  currentUser = user;
  listeners.forEach((listener) => listener());
}

/** Renew the access token with the refresh cookie; concurrent callers share one request. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetch("/api/auth/refresh", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      if (!response.ok) {
        setSession(null, null);
        return false;
      }
      const session = (await response.json()) as { accessToken: string; user: SessionUser };
      setSession(session.accessToken, session.user);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}
