import { DiffEditor } from "@monaco-editor/react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextField } from "@/components/ui/field";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { dateTime, relativeTime } from "@/lib/time";
import { EDITOR_BASE, editorTheme, labelDiffSides, languageOf } from "./monaco";
import type { PanelProps } from "./workspace";

type Version = components["schemas"]["Version"];
type FileChange = components["schemas"]["FileChange"];

const SOURCE_LABELS: Record<string, string> = {
  manual: "Manual",
  ai: "AI",
  restore: "Restore",
  template: "Template",
  import: "Import",
};

async function textAt(projectId: string, versionId: string, path: string): Promise<string> {
  const file = await unwrap(api.GET("/api/projects/{id}/versions/{versionId}/files/{path}", { params: { path: { id: projectId, versionId, path } } }));
  const content = file as unknown as { content: string; encoding: string };
  return content.encoding === "utf-8" ? content.content : "(binary file)";
}

function FileDiff({ projectId, version, change }: { projectId: string; version: Version; change: FileChange }) {
  const sides = useQuery({
    queryKey: ["file-diff", version.id, change.path],
    queryFn: async () => {
      const before =
        change.status === "added" || !version.parentId ? "" : await textAt(projectId, version.parentId, change.oldPath ?? change.path);
      const after = change.status === "deleted" ? "" : await textAt(projectId, version.id, change.path);
      return { before, after };
    },
  });
  if (change.binary) return <p className="p-4 text-sm text-muted-foreground">Binary file: no line diff.</p>;
  if (sides.isLoading || !sides.data) return <div className="flex h-full items-center justify-center"><Spinner className="h-5 w-5" /></div>;
  return (
    <DiffEditor
      original={sides.data.before}
      modified={sides.data.after}
      language={languageOf(change.path)}
      theme={editorTheme()}
      options={{
        ...EDITOR_BASE,
        readOnly: true,
        renderSideBySide: window.innerWidth > 900,
      }}
      onMount={(editor) => labelDiffSides(editor, `${change.oldPath ?? change.path} before`, `${change.path} after`)}
    />
  );
}

function VersionDetail({ project, version, access, onClose }: PanelProps & { version: Version; onClose: () => void }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const [chosen, setChosen] = useState<string | null>(null);
  const [confirmRestore, setConfirmRestore] = useState(false);
  const [tag, setTag] = useState("");
  const diff = useQuery({
    queryKey: ["diff", version.id],
    queryFn: () =>
      unwrap(
        api.GET("/api/projects/{id}/versions/{versionId}/diff", {
          params: { path: { id: project.id, versionId: version.id }, query: version.parentId ? { against: version.parentId } : {} },
        }),
      ),
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["versions", project.id] });
    void queryClient.invalidateQueries({ queryKey: ["files", project.id] });
  };
  const restore = useMutation({
    mutationFn: () => unwrap(api.POST("/api/projects/{id}/versions/{versionId}/restore", { params: { path: { id: project.id, versionId: version.id } } })),
    onSuccess: () => {
      setConfirmRestore(false);
      toast.success(`Restored version ${version.number}`, "Recorded as a new version: nothing was lost.");
      refresh();
      onClose();
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const addTag = useMutation({
    mutationFn: () => unwrap(api.POST("/api/projects/{id}/versions/{versionId}/tags", { params: { path: { id: project.id, versionId: version.id } }, body: { name: tag } })),
    onSuccess: () => {
      setTag("");
      refresh();
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const removeTag = useMutation({
    mutationFn: (name: string) =>
      unwrap(api.DELETE("/api/projects/{id}/versions/{versionId}/tags/{name}", { params: { path: { id: project.id, versionId: version.id, name } } })),
    onSuccess: () => refresh(),
    onError: (error) => toast.error(errorText(error)),
  });
  const download = useMutation({
    mutationFn: () => unwrap(api.GET("/api/projects/{id}/versions/{versionId}/archive", { params: { path: { id: project.id, versionId: version.id } } })),
    onSuccess: (archive) => {
      window.location.assign(archive.url);
    },
    onError: (error) => toast.error(errorText(error)),
  });
  const files = diff.data?.files ?? [];
  const change = files.find((f) => f.path === chosen) ?? files[0];
  return (
    <div className="flex h-full min-h-0 flex-col">
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-3 py-2">
        <Button variant="ghost" size="sm" onClick={onClose}>
          ← All versions
        </Button>
        <h2 className="font-medium">
          Version {version.number}
          <span className="ml-2 text-sm font-normal text-muted-foreground">{version.message}</span>
        </h2>
        <div className="ml-auto flex flex-wrap gap-1">
          <Link
            to={`/projects/${project.id}/preview${version.isCurrent ? "" : `?version=${version.id}`}`}
            className="inline-flex h-8 items-center rounded-md border border-border bg-surface px-3 text-sm font-medium hover:bg-muted"
          >
            Preview this version
          </Link>
          <Button variant="secondary" size="sm" onClick={() => download.mutate()} busy={download.isPending}>
            Download zip
          </Button>
          {access.edit && !version.isCurrent && (
            <Button size="sm" onClick={() => setConfirmRestore(true)}>
              Restore
            </Button>
          )}
        </div>
      </div>
      <div className="flex flex-wrap items-center gap-2 border-b border-border px-3 py-1.5 text-sm">
        {(version.tags ?? []).map((name) => (
          <span key={name} className="flex items-center gap-1 rounded-full bg-muted px-2 py-0.5 text-xs">
            {name}
            {access.edit && (
              <button type="button" onClick={() => removeTag.mutate(name)} aria-label={`Remove tag ${name}`} className="text-muted-foreground hover:text-danger">
                ×
              </button>
            )}
          </span>
        ))}
        {access.edit && (
          <form
            className="flex items-center gap-1"
            onSubmit={(event) => {
              event.preventDefault();
              if (tag.trim()) addTag.mutate();
            }}
          >
            <label htmlFor="tag" className="sr-only">
              New tag
            </label>
            <input id="tag" value={tag} onChange={(e) => setTag(e.target.value)} placeholder="Add a tag" className="h-7 w-28 rounded border border-border bg-surface px-2 text-xs" />
          </form>
        )}
      </div>
      <div className="flex min-h-0 flex-1 max-md:flex-col">
        <ul className="w-64 shrink-0 overflow-y-auto border-r border-border py-1 max-md:max-h-40 max-md:w-full" aria-label="Changed files">
          {diff.isLoading && <Skeleton className="m-2 h-20" />}
          {!diff.isLoading && files.length === 0 && <li className="p-3 text-sm text-muted-foreground">No file changed in this version.</li>}
          {files.map((file) => (
            <li key={file.path}>
              <button
                type="button"
                onClick={() => setChosen(file.path)}
                className={cn("flex w-full items-center gap-2 px-3 py-1 text-left text-xs hover:bg-muted", change?.path === file.path && "bg-primary/10")}
              >
                <span className={cn("w-4 font-bold", file.status === "added" && "text-success", file.status === "deleted" && "text-danger", file.status === "modified" && "text-warning")}>
                  {file.status[0]!.toUpperCase()}
                </span>
                <span className="truncate font-mono" title={file.oldPath ? `${file.oldPath} → ${file.path}` : file.path}>
                  {file.oldPath ? `${file.oldPath} → ` : ""}
                  {file.path}
                </span>
              </button>
            </li>
          ))}
        </ul>
        <div className="min-h-0 min-w-0 flex-1" data-testid="version-diff">
          {change && <FileDiff key={change.path} projectId={project.id} version={version} change={change} />}
        </div>
      </div>
      <Dialog
        open={confirmRestore}
        onOpenChange={setConfirmRestore}
        title={`Restore version ${version.number}?`}
        description="The files become exactly what they were in this version. This is recorded as a new version, so the versions after it stay and you can go back."
      >
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => setConfirmRestore(false)}>
            Cancel
          </Button>
          <Button onClick={() => restore.mutate()} busy={restore.isPending}>
            Restore
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

function SnapshotDialog({ projectId, open, onOpenChange }: { projectId: string; open: boolean; onOpenChange: (o: boolean) => void }) {
  const queryClient = useQueryClient();
  const [message, setMessage] = useState("");
  const snapshot = useMutation({
    mutationFn: () => unwrap(api.POST("/api/projects/{id}/versions", { params: { path: { id: projectId } }, body: { message: message || null } })),
    onSuccess: () => {
      setMessage("");
      onOpenChange(false);
      void queryClient.invalidateQueries({ queryKey: ["versions", projectId] });
    },
  });
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title="Save a version" description="Records the files as they are now.">
      <form
        className="space-y-4"
        onSubmit={(event) => {
          event.preventDefault();
          snapshot.mutate();
        }}
      >
        <FormError message={snapshot.error ? errorText(snapshot.error) : null} />
        <TextField label="Message (optional)" value={message} onChange={(e) => setMessage(e.target.value)} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" busy={snapshot.isPending}>
            Save version
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function VersionsPanel(props: PanelProps) {
  const { project, access } = props;
  const [open, setOpen] = useState<Version | null>(null);
  const [snapshotting, setSnapshotting] = useState(false);
  const versions = useInfiniteQuery({
    queryKey: ["versions", project.id],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(api.GET("/api/projects/{id}/versions", { params: { path: { id: project.id }, query: { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (page) => page.nextCursor ?? null,
  });
  if (open) return <VersionDetail {...props} version={open} onClose={() => setOpen(null)} />;
  const items = versions.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="flex h-full min-h-0 flex-col">
      <div className="flex items-center border-b border-border px-3 py-2">
        <h2 className="mr-auto font-medium">Versions</h2>
        {access.edit && (
          <Button variant="secondary" size="sm" onClick={() => setSnapshotting(true)}>
            Save a version
          </Button>
        )}
      </div>
      <ul className="min-h-0 flex-1 divide-y divide-border overflow-y-auto" aria-label="Versions">
        {versions.isLoading && <Skeleton className="m-3 h-40" />}
        {items.map((version) => (
          <li key={version.id}>
            <button type="button" onClick={() => setOpen(version)} className="flex w-full flex-wrap items-center gap-x-3 gap-y-1 px-3 py-2 text-left hover:bg-muted">
              <span className="w-10 font-mono text-sm text-muted-foreground">v{version.number}</span>
              <span className="min-w-0 flex-1 truncate text-sm">{version.message || "No message"}</span>
              <span className="rounded-full bg-muted px-2 py-0.5 text-xs">{SOURCE_LABELS[version.source] ?? version.source}</span>
              {version.isCurrent && <span className="rounded-full bg-primary/15 px-2 py-0.5 text-xs text-primary">current</span>}
              {(version.tags ?? []).map((tag) => (
                <span key={tag} className="rounded-full border border-border px-2 py-0.5 text-xs">
                  {tag}
                </span>
              ))}
              <span className="text-xs text-muted-foreground" title={dateTime(version.createdAt)}>
                {relativeTime(version.createdAt)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {versions.hasNextPage && (
        <Button variant="ghost" size="sm" onClick={() => void versions.fetchNextPage()} busy={versions.isFetchingNextPage}>
          Older versions
        </Button>
      )}
      <SnapshotDialog projectId={project.id} open={snapshotting} onOpenChange={setSnapshotting} />
    </div>
  );
}
