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

// Calls that must never trigger a refresh-and-retry (they are how a session starts or ends).
const SESSION_PATHS = ["/api/auth/login", "/api/auth/refresh", "/api/auth/logout", "/api/auth/register"];

function withToken(request: Request): Request {
  const token = getAccessToken();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

async function authorizedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const response = await fetch(withToken(input));
  const path = new URL(input.url).pathname;
  if (response.status !== 401 || SESSION_PATHS.includes(path)) return response;
  // The access token expired or was never there (a reload): renew it once, then try again.
  if (!(await refreshSession())) return response;
  return fetch(withToken(retry));
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
