import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type Preview = components["schemas"]["Preview"];
export type PreviewStatus = Preview["status"];
export type PreviewSummary = components["schemas"]["PreviewSummary"];
export type PreviewProblem = components["schemas"]["PreviewProblem"];
export type Version = components["schemas"]["Version"];

/** What the script the worker injects into preview builds posts to the parent frame. */
export interface RuntimeError {
  kind: "error" | "unhandledrejection" | "console.error";
  message: string;
  stack: string | null;
}

// While a build runs or its type check does, the preview is looked at about once a second.
const FOLLOW_MS = 1000;
// Versions a teammate (or another tab) makes show up without a reload.
const VERSIONS_MS = 15_000;
// How many versions the version picker offers, newest first.
const RECENT_VERSIONS = 50;

export const UNFINISHED: ReadonlySet<PreviewStatus> = new Set(["queued", "building"]);

export const previewKey = (projectId: string, versionId: string) => ["preview", projectId, versionId] as const;

/** The version's newest build (or why there is none) and its last ready site, followed until it settles. */
export function usePreview(projectId: string, versionId: string | null) {
  return useQuery({
    queryKey: previewKey(projectId, versionId ?? ""),
    enabled: Boolean(versionId),
    queryFn: () => unwrap(api.GET("/api/projects/{id}/versions/{versionId}/preview", { params: { path: { id: projectId, versionId: versionId! } } })),
    select: (envelope) => envelope.preview,
    refetchInterval: (query) => {
      const preview = query.state.data?.preview;
      return preview && (UNFINISHED.has(preview.status) || preview.build?.checking) ? FOLLOW_MS : false;
    },
  });
}

/** The project's newest versions. Under the "versions" key, so an approved answer, an undo or a restore
 * (which invalidate it) shows here at once. */
export function useRecentVersions(projectId: string) {
  return useQuery({
    queryKey: ["versions", projectId, "preview"],
    queryFn: () => unwrap(api.GET("/api/projects/{id}/versions", { params: { path: { id: projectId }, query: { limit: RECENT_VERSIONS } } })),
    select: (page) => page.items,
    refetchInterval: VERSIONS_MS,
  });
}

export function problemPlace(problem: PreviewProblem): string | null {
  if (!problem.file) return null;
  return [problem.file, problem.line, problem.line !== null ? problem.column : null].filter((part) => part !== null).join(":");
}

const RUNTIME_KIND: Record<RuntimeError["kind"], string> = {
  error: "Uncaught error",
  unhandledrejection: "Unhandled promise rejection",
  "console.error": "console.error",
};

export function runtimeKind(error: RuntimeError): string {
  return RUNTIME_KIND[error.kind] ?? error.kind;
}

// The stack's first lines say where; the rest would only fill the chat.
const STACK_LINES = 6;

/** The chat message "Fix with AI" sends: every problem of the build and every error the running app reported. */
export function fixRequest(versionNumber: number | null, failed: boolean, problems: PreviewProblem[], errors: RuntimeError[]): string {
  const lines = [
    versionNumber === null ? "The live preview shows these problems. Please fix them." : `The live preview of version ${versionNumber} shows these problems. Please fix them.`,
  ];
  if (problems.length > 0) {
    lines.push("", failed ? "The build failed:" : "Type errors:");
    for (const problem of problems) {
      const place = problemPlace(problem);
      const head = [place, problem.code].filter(Boolean).join(" ");
      lines.push(`- ${head ? `${head}: ` : ""}${problem.message}`);
    }
  }
  if (errors.length > 0) {
    lines.push("", "Errors in the running app:");
    for (const error of errors) {
      lines.push(`- ${runtimeKind(error)}: ${error.message}`);
      const stack = error.stack?.split("\n").slice(0, STACK_LINES).join("\n").trim();
      if (stack) lines.push("", "```", stack, "```");
    }
  }
  return lines.join("\n");
}
