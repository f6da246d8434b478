import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { getAccessToken, refreshSession } from "./session";

/** The API's error shape: {"error": {"code", "message", "details"}}. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** What to tell the person about a failed call: the API's message (written for people), else `fallback`. */
export function errorText(error: unknown, fallback = "That did not work. Try again."): string {
  return error instanceof ApiError ? error.message : fallback;
}

/** The API's message for one field of a 422 (its details name the field in camelCase), if it gave one. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError) || !Array.isArray(error.details)) return undefined;
  for (const detail of error.details as unknown[]) {
    if (typeof detail !== "object" || detail === null) continue;
    const { field: name, message } = detail as { field?: unknown; message?: unknown };
    if (name === field && typeof message === "string") return message;
  }
  return undefined;
}

// Calls that must never trigger a refresh-and-retry (they are how a session starts or ends).
const SESSION_PATHS = ["/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/auth/register"];

function withToken(request: Request): Request {
  const token = getAccessToken();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

/** What a 503 `maintenance` said: the platform is down for maintenance (the administrator's message). */
export interface MaintenanceNotice {
  message: string;
  /** When it was answered (ms since the epoch): a later status that says "off" ends it. */
  at: number;
}

let maintenance: MaintenanceNotice | null = null;
const maintenanceListeners = new Set<() => void>();

export function getMaintenance(): MaintenanceNotice | null {
  return maintenance;
}

export function subscribeMaintenance(listener: () => void): () => void {
  maintenanceListeners.add(listener);
  return () => maintenanceListeners.delete(listener);
}

export function setMaintenance(notice: MaintenanceNotice | null): void {
  maintenance = notice;
  maintenanceListeners.forEach((listener) => listener());
}

// Any call can be the one that finds maintenance mode on: the app then shows the maintenance page.
async function noteMaintenance(response: Response): Promise<void> {
  try {
    const body = (await response.clone().json()) as Partial<ApiErrorBody>;
    if (body.error?.code === "maintenance") setMaintenance({ message: body.error.message, at: Date.now() });
  } catch {
    // Not the API's JSON (a proxy's page): not maintenance mode.
  }
}

async function authorizedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  let response = await fetch(withToken(input));
  const path = new URL(input.url).pathname;
  // The access token expired or was never there (a reload): renew it once, then try again.
  if (response.status === 401 && !SESSION_PATHS.includes(path) && (await refreshSession())) {
    response = await fetch(withToken(retry));
  }
  if (response.status === 503) await noteMaintenance(response);
  return response;
}

export const api = createClient<paths>({
  baseUrl: "",
  fetch: authorizedFetch,
  credentials: "same-origin",
  // File paths keep their slashes (`/files/src/App.tsx`): each segment is encoded on its own.
  // API Gateway's HTTP API decodes a request path twice before the function sees it, so every
  // segment is encoded twice ("100%.txt" must arrive as "100%25.txt", not as a broken escape).
  pathSerializer: (pathname, pathParams) =>
    pathname.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = String(pathParams?.[name] ?? "");
      const twice = (segment: string) => encodeURIComponent(encodeURIComponent(segment));
      return name === "path" ? value.split("/").map(twice).join("/") : twice(value);
    }),
});

/** The data of an API call, or an ApiError carrying the API's own message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const body = error as Partial<ApiErrorBody> | undefined;
  const code = body?.error?.code ?? "http_error";
  const message =
    body?.error?.message ??
    (response.status >= 500 ? "Something went wrong on our side. Please try again." : `Request failed (${response.status}).`);
  throw new ApiError(response.status, code, message, body?.error?.details);
}
