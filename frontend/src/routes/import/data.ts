import { ApiError, api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Import = components["schemas"]["Import"];
export type Analysis = components["schemas"]["Analysis"];
export type AnalyzedApp = components["schemas"]["AnalyzedApp"];
export type ImportedApp = components["schemas"]["ImportedApp"];
export type Upload = components["schemas"]["Upload"];
export type StartOptions = components["schemas"]["StartOptions-Input"];

export const importKeys = {
  one: (id: string) => ["imports", "one", id] as const,
  history: (organizationId: string) => ["imports", "history", organizationId] as const,
};

export function fetchImport(id: string): Promise<Import> {
  return unwrap(api.GET("/api/imports/{id}", { params: { path: { id } } })).then((body) => body.import);
}

/** Statuses the server is still working on: the page asks again every second until they end. */
export function isWorking(status: Import["status"]): boolean {
  return status === "analyzing" || status === "importing";
}

/** The per-field messages of an API error (413 file sizes, 409 missing uploads, 422 apps), in the API's words. */
export function detailMessages(error: unknown): { field: string; message: string }[] {
  if (!(error instanceof ApiError) || !Array.isArray(error.details)) return [];
  return (error.details as unknown[]).flatMap((detail) => {
    if (typeof detail !== "object" || detail === null) return [];
    const { field, message } = detail as { field?: unknown; message?: unknown };
    return typeof message === "string" ? [{ field: typeof field === "string" ? field : "", message }] : [];
  });
}

export class UploadError extends Error {}

/**
 * POST a file to its presigned S3 slot: every form field first, in order, then the file as `file`
 * (S3 reads the fields before the file). XMLHttpRequest rather than fetch: only it reports upload progress.
 */
export function uploadFile(
  slot: Upload,
  file: File,
  onProgress: (loaded: number, total: number) => void,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!slot.url) {
      reject(new UploadError(`${slot.name} cannot be uploaded any more: start again.`));
      return;
    }
    const form = new FormData();
    for (const [name, value] of Object.entries(slot.fields ?? {})) form.append(name, value);
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", slot.url);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        reject(new UploadError(`${file.name} was not accepted by the storage (${request.status}).`));
      }
    };
    request.onerror = () => reject(new UploadError(`${file.name} could not be uploaded: check your connection and try again.`));
    request.onabort = () => reject(new UploadError(`The upload of ${file.name} was stopped.`));
    signal.addEventListener("abort", () => request.abort(), { once: true });
    request.send(form);
  });
}

const sizes = ["bytes", "KB", "MB", "GB"];

export function fileSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < sizes.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${sizes[unit]}`;
}

export const count = new Intl.NumberFormat();

/** "1 chat", "3 chats". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count.format(n)} ${n === 1 ? one : many}`;
}
