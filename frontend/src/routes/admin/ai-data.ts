// The AI catalog's data: the queries (shared with Settings → Default AI model, which reads the same keys), the
// wire types, and the checks the API makes of a provider or model, so a form says what is wrong before sending.

import { useQuery } from "@tanstack/react-query";
import { api, errorText, fieldError, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Provider = components["schemas"]["Provider"];
export type Model = components["schemas"]["Model"];
export type ProviderBody = components["schemas"]["ProviderBody"];
export type ProviderPatch = components["schemas"]["ProviderPatch"];
export type ModelBody = components["schemas"]["ModelBody"];
export type ModelPatch = components["schemas"]["ModelPatch"];
export type ProviderKind = Provider["kind"];

export const catalogKeys = {
  providers: ["admin", "ai-providers"] as const,
  models: ["admin", "ai-models"] as const,
};

export function useProviders() {
  return useQuery({
    queryKey: catalogKeys.providers,
    queryFn: () => unwrap(api.GET("/api/admin/ai-providers")),
    select: (list) => list.items,
  });
}

export function useModels() {
  return useQuery({
    queryKey: catalogKeys.models,
    queryFn: () => unwrap(api.GET("/api/admin/ai-models")),
    select: (list) => list.items,
  });
}

export const KIND_LABELS: Record<ProviderKind, string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  gemini: "Google Gemini",
  openrouter: "OpenRouter",
  openai_compatible: "OpenAI-compatible",
};

/** The API's message for one field of a 422 (its details name the field in camelCase), if it gave one. */
/** What a form's alert says: the API's message, unless it is already shown under the field it is about. */
export function formErrorText(error: unknown, fields: string[]): string | null {
  if (!error) return null;
  return fields.some((field) => fieldError(error, field)) ? "Correct the field marked above." : errorText(error);
}

// ------------------------------------------------------------------------------------------ the API's checks
// (functions/ai/ai_fn/schemas.py: ProviderBody, ProviderPatch, ModelBody, ModelPatch)

const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const KEY_NAME = /^[A-Z_][A-Z0-9_]*$/;
// NUMERIC(12, 6): the largest price the database can store, and at most six decimals.
const PRICE = /^\d{1,6}(\.\d{1,6})?$/;
export const MAX_CONTEXT_WINDOW = 10_000_000;
export const MAX_OUTPUT_TOKENS = 1_000_000;

export function checkSlug(value: string): string | undefined {
  if (!value) return "Give the provider a slug.";
  if (value.length > 100) return "At most 100 characters.";
  if (!SLUG.test(value)) return "Lowercase letters, digits, - and _, starting with a letter or digit.";
  return undefined;
}

export function checkName(value: string, what: string): string | undefined {
  if (!value.trim()) return `Give the ${what} a name.`;
  if (value.length > 255) return "At most 255 characters.";
  return undefined;
}

export function checkBaseUrl(value: string): string | undefined {
  const text = value.trim();
  if (!text) return "Give the API's root URL.";
  if (text.length > 2048) return "At most 2048 characters.";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "Give the API's root URL, like https://api.openai.com/v1 (http or https, no credentials).";
  }
  if (!["http:", "https:"].includes(url.protocol) || !url.hostname || url.username || url.password || url.hash) {
    return "Give the API's root URL, like https://api.openai.com/v1 (http or https, no credentials).";
  }
  return undefined;
}

export function checkKeyName(value: string): string | undefined {
  if (!value) return undefined;
  if (value.length > 100) return "At most 100 characters.";
  if (!KEY_NAME.test(value)) return "An environment variable's name: capital letters, digits and _, like OPENAI_API_KEY.";
  return undefined;
}

/** A whole number of tokens from a field ("" is none), or the reason it is not one the API takes. */
export function parseTokens(value: string, max: number): { value: number | null; error?: string } {
  const text = value.trim().replace(/[\s,_]/g, "");
  if (!text) return { value: null };
  if (!/^\d+$/.test(text)) return { value: null, error: "A whole number of tokens." };
  const number = Number(text);
  if (number < 1) return { value: null, error: "At least 1 token (leave it empty when unknown)." };
  if (number > max) return { value: null, error: `At most ${max.toLocaleString()} tokens.` };
  return { value: number };
}

/** A price per million tokens as the API stores it (a decimal string, "" is none), or why it cannot be one. */
export function parsePrice(value: string): { value: string | null; error?: string } {
  const text = value.trim();
  if (!text) return { value: null };
  if (!PRICE.test(text)) return { value: null, error: "A price from 0 to 999999.999999, with at most six decimals." };
  return { value: text };
}

/** A stored decimal ("3.000000") as a person writes it ("3"). */
export function plainDecimal(value: string | null): string {
  if (value === null) return "";
  return value.includes(".") ? value.replace(/0+$/, "").replace(/\.$/, "") : value;
}
