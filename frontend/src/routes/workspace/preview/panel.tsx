import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { Spinner } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { usePostToChat } from "../chat";
import type { PanelProps } from "../workspace";
import { fixRequest, previewKey, UNFINISHED, usePreview, useRecentVersions, type Preview, type PreviewSummary } from "./data";
import { DEVICES, PreviewFrame, useRuntimeErrors, type Device } from "./frame";
import { Problems } from "./problems";

// Where the Chat panel is beside the others (the workspace's wide layout); narrower, it is a tab of its own.
const CHAT_BESIDE = "(min-width: 900px)";

// Statuses a build of the version can be asked for from (a version that cannot be built says why instead).
const BUILDABLE: ReadonlySet<Preview["status"]> = new Set(["failed", "skipped", "not_built"]);

interface StatusLine {
  headline: string;
  detail: string | null;
  tone: "progress" | "ok" | "danger" | "neutral";
  // The detail is the bad news (a ready build's type errors).
  detailDanger?: boolean;
}

function statusLine(preview: Preview | undefined, number: number | null): StatusLine {
  const version = number === null ? "this version" : `version ${number}`;
  const Version = number === null ? "This version" : `Version ${number}`;
  if (!preview) return { headline: "Loading the preview…", detail: null, tone: "progress" };
  const problems = preview.build?.problems.length ?? 0;
  switch (preview.status) {
    case "queued":
      return { headline: `Building ${version}…`, detail: "Waiting for the builder.", tone: "progress" };
    case "building":
      return { headline: `Building ${version}…`, detail: null, tone: "progress" };
    case "ready":
      if (preview.build?.checking) return { headline: `${Version} is ready.`, detail: "Checking types…", tone: "progress" };
      return {
        headline: `${Version} is ready.`,
        detail: problems === 0 ? null : problems === 1 ? "1 type error." : `${problems} type errors.`,
        tone: "ok",
        detailDanger: problems > 0,
      };
    case "failed":
      return { headline: `${Version} failed to build.`, detail: preview.message, tone: "danger" };
    case "unsupported":
      return { headline: `${Version} cannot be previewed.`, detail: preview.message, tone: "neutral" };
    case "skipped":
      return { headline: `${Version} was not built.`, detail: preview.message, tone: "neutral" };
    case "not_built":
      return { headline: `${Version} has not been built.`, detail: preview.message, tone: "neutral" };
    case "unavailable":
      return { headline: "Live previews are off.", detail: preview.message, tone: "neutral" };
  }
}

/** The Preview tab: the newest ready build of the chosen version (the project's current one unless another was
 * picked) framed at a device width, its build status, log and problems, the errors the running app reports, and
 * "Fix with AI". While a build runs, the last ready site stays on screen. */
export function PreviewPanel(props: PanelProps) {
  return <PreviewPane key={props.project.id} {...props} />;
}

function PreviewPane({ project, access }: PanelProps) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const versions = useRecentVersions(project.id);
  const list = versions.data ?? [];
  const currentId = list.find((v) => v.isCurrent)?.id ?? project.currentVersionId;
  // No ?version= follows the current version: a new one (an approved answer) is switched to by itself.
  const pickedId = params.get("version");
  const versionId = pickedId ?? currentId;
  const preview = usePreview(project.id, versionId);
  const data = preview.data;
  const versionNumber =
    list.find((v) => v.id === versionId)?.number ?? data?.build?.versionNumber ?? data?.lastReady?.versionNumber ?? null;

  // The version's own site when it has one; while another build runs (or failed), the last site framed stays.
  const own: PreviewSummary | null = data?.status === "ready" && data.build?.url ? data.build : data?.lastReady?.url ? data.lastReady : null;
  const [lastSite, setLastSite] = useState<PreviewSummary | null>(null);
  useEffect(() => {
    if (own) setLastSite(own);
  }, [own?.id, own?.url]);
  const keepsLast = !data || UNFINISHED.has(data.status) || data.status === "failed";
  const framed = own ?? (keepsLast ? lastSite : null);

  const [device, setDevice] = useState<Device>("full");
  const [reloads, setReloads] = useState(0);
  const [logOpen, setLogOpen] = useState(false);
  const frame = useRef<HTMLIFrameElement | null>(null);
  const errors = useRuntimeErrors(frame, `${framed?.url ?? ""}#${reloads}`);
  const logId = useId();

  const build = useMutation({
    mutationFn: () => unwrap(api.POST("/api/projects/{id}/versions/{versionId}/preview", { params: { path: { id: project.id, versionId: versionId! } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: previewKey(project.id, versionId!) }),
    onError: (error) => toast.error(errorText(error)),
  });
  const post = usePostToChat(project.id);
  const problems = data?.build?.problems ?? [];
  const failed = data?.status === "failed";
  const fix = () =>
    post.mutate(fixRequest(versionNumber, failed, problems, errors), {
      onSuccess: () => {
        toast.success("Sent to the chat", "The AI's answer appears there.");
        // Beside the other panes the chat is already on screen; narrower it is a tab of its own.
        if (!window.matchMedia(CHAT_BESIDE).matches) navigate(`/projects/${project.id}/chat`);
      },
      onError: (error) => toast.error(errorText(error), "The message was not sent"),
    });

  const chooseVersion = (id: string) => {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (id === currentId) next.delete("version");
        else next.set("version", id);
        return next;
      },
      { replace: true },
    );
  };

  const status: StatusLine = versionId ? statusLine(data, versionNumber) : { headline: "This project has no version yet.", detail: null, tone: "neutral" };
  const canBuild = access.edit && data !== undefined && BUILDABLE.has(data.status);
  const log = data?.log ?? null;
  const pickedMissing = versionId !== null && !list.some((v) => v.id === versionId);

  return (
    <div className="flex h-full min-h-0 flex-col">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-3 py-2">
        <h2 className="mr-1 font-medium">Preview</h2>
        <label htmlFor="preview-version" className="sr-only">
          Version to preview
        </label>
        <select
          id="preview-version"
          value={versionId ?? ""}
          onChange={(e) => chooseVersion(e.target.value)}
          className="h-8 max-w-56 rounded-md border border-border bg-surface px-2 text-xs"
          disabled={list.length === 0}
        >
          {pickedMissing && versionId && <option value={versionId}>{versionNumber === null ? "Version" : `Version ${versionNumber}`}</option>}
          {list.map((version) => (
            <option key={version.id} value={version.id}>
              Version {version.number}
              {version.isCurrent ? " (current)" : ""}
              {version.message ? ` · ${version.message.slice(0, 40)}` : ""}
            </option>
          ))}
        </select>
        <div role="group" aria-label="Device width" className="flex rounded-md border border-border">
          {DEVICES.map((option) => (
            <button
              key={option.value}
              type="button"
              aria-pressed={device === option.value}
              aria-label={option.description}
              title={option.description}
              onClick={() => setDevice(option.value)}
              className={cn(
                "h-8 px-2.5 text-xs first:rounded-l-md last:rounded-r-md focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                device === option.value ? "bg-muted font-medium" : "text-muted-foreground hover:text-foreground",
              )}
            >
              {option.label}
            </button>
          ))}
        </div>
        <div className="ml-auto flex flex-wrap items-center gap-1">
          {framed?.url && (
            <Button variant="ghost" size="sm" onClick={() => setReloads((n) => n + 1)}>
              Reload
            </Button>
          )}
          {framed?.url && (
            <a
              href={framed.url}
              target="_blank"
              rel="noopener noreferrer"
              className="inline-flex h-8 items-center rounded-md px-3 text-sm font-medium hover:bg-muted focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
            >
              Open in new tab
            </a>
          )}
        </div>
      </div>

      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-border px-3 py-1.5 text-sm">
        <div role="status" className="flex min-w-0 flex-1 flex-wrap items-center gap-x-2" data-testid="preview-status">
          {status.tone === "progress" && <Spinner className="h-3.5 w-3.5 text-muted-foreground" />}
          <span className={cn("font-medium", status.tone === "danger" && "text-danger", status.tone === "ok" && "text-success")}>{status.headline}</span>
          {status.detail && <span className={status.detailDanger ? "text-danger" : "text-muted-foreground"}>{status.detail}</span>}
          {framed && (
            <span className="text-muted-foreground" data-testid="preview-shown">
              Showing version {framed.versionNumber}
              {framed.versionNumber !== versionNumber
                ? data?.status === "failed"
                  ? ", the last one that built"
                  : " until this one is ready"
                : framed.id !== data?.build?.id
                  ? " (its last ready build)"
                  : ""}
              .
            </span>
          )}
        </div>
        {canBuild && (
          <Button variant="secondary" size="sm" onClick={() => build.mutate()} busy={build.isPending}>
            Build this version
          </Button>
        )}
        {log && (
          <Button variant="ghost" size="sm" aria-expanded={logOpen} aria-controls={logId} onClick={() => setLogOpen((open) => !open)}>
            Log
            <span aria-hidden="true">{logOpen ? "▴" : "▾"}</span>
          </Button>
        )}
      </div>
      {log && logOpen && (
        <pre id={logId} tabIndex={0} aria-label="Build log" className="max-h-64 shrink-0 overflow-auto border-b border-border bg-muted px-3 py-2 font-mono text-xs whitespace-pre-wrap break-words">
          {log}
        </pre>
      )}

      <div className="min-h-0 flex-1">
        {preview.error ? (
          <div className="p-4">
            <FormError message={errorText(preview.error)} />
          </div>
        ) : framed?.url ? (
          <PreviewFrame frame={frame} url={framed.url} versionNumber={framed.versionNumber} device={device} reloads={reloads} />
        ) : (
          <div className="flex h-full items-center justify-center p-6 text-center">
            <p className="max-w-sm text-sm text-muted-foreground">
              {!versionId
                ? "Its first version appears here once it is built."
                : data && UNFINISHED.has(data.status)
                  ? "The site appears here once its first build is ready."
                  : data?.status === "failed"
                    ? "No ready build to show. Open the log to see why this one failed."
                    : data
                      ? "Nothing to show for this version."
                      : null}
            </p>
          </div>
        )}
      </div>

      <Problems
        problems={problems}
        failed={failed}
        checking={Boolean(data?.build?.checking)}
        errors={errors}
        canFix={access.edit}
        fixing={post.isPending}
        onFix={fix}
      />
    </div>
  );
}
