import Editor, { DiffEditor } from "@monaco-editor/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, errorText, unwrap } from "@/api/client";
import type { components } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextField } from "@/components/ui/field";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { useToast } from "@/components/ui/toast";
import { cn } from "@/lib/cn";
import { type Conflict, type FileContent, useEditorSession } from "./editor-session";
import { EDITOR_BASE, editorTheme, labelDiffSides, languageOf } from "./monaco";
import type { PanelProps } from "./workspace";

type FileEntry = components["schemas"]["FileEntry"];

async function allFiles(projectId: string): Promise<FileEntry[]> {
  const items: FileEntry[] = [];
  let cursor: string | null | undefined = null;
  do {
    const page: components["schemas"]["FilePage"] = await unwrap(
      api.GET("/api/projects/{id}/files", { params: { path: { id: projectId }, query: { limit: 1000, ...(cursor ? { cursor } : {}) } } }),
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

interface TreeNode {
  name: string;
  path: string;
  children: TreeNode[];
  file?: FileEntry;
}

function buildTree(files: FileEntry[]): TreeNode[] {
  const root: TreeNode = { name: "", path: "", children: [] };
  for (const file of files) {
    const parts = file.path.split("/");
    let node = root;
    parts.forEach((part, index) => {
      const path = parts.slice(0, index + 1).join("/");
      let child = node.children.find((c) => c.name === part && (index === parts.length - 1 ? c.file : !c.file));
      if (!child) {
        child = { name: part, path, children: [], ...(index === parts.length - 1 ? { file } : {}) };
        node.children.push(child);
      }
      node = child;
    });
  }
  const sort = (nodes: TreeNode[]) => {
    nodes.sort((a, b) => (a.file ? 1 : 0) - (b.file ? 1 : 0) || a.name.localeCompare(b.name));
    nodes.forEach((n) => sort(n.children));
  };
  sort(root.children);
  return root.children;
}

function Tree({ nodes, selected, onSelect, depth = 0 }: { nodes: TreeNode[]; selected: string | null; onSelect: (path: string) => void; depth?: number }) {
  return (
    <ul role={depth === 0 ? "tree" : "group"} aria-label={depth === 0 ? "Files" : undefined}>
      {nodes.map((node) =>
        node.file ? (
          <li key={node.path} role="treeitem" aria-selected={selected === node.path}>
            <button
              type="button"
              onClick={() => onSelect(node.path)}
              className={cn(
                "w-full truncate rounded px-2 py-0.5 text-left font-mono text-xs hover:bg-muted",
                selected === node.path && "bg-primary/10 text-primary",
              )}
              style={{ paddingLeft: `${depth * 12 + 8}px` }}
              title={node.path}
            >
              {node.name}
            </button>
          </li>
        ) : (
          <li key={node.path} role="treeitem" aria-expanded="true">
            <details open>
              <summary className="cursor-pointer truncate rounded px-2 py-0.5 font-mono text-xs text-muted-foreground hover:bg-muted" style={{ paddingLeft: `${depth * 12 + 8}px` }}>
                {node.name}/
              </summary>
              <Tree nodes={node.children} selected={selected} onSelect={onSelect} depth={depth + 1} />
            </details>
          </li>
        ),
      )}
    </ul>
  );
}

function ConflictDialog({ path, conflict, onReload, onOverwrite, onClose }: { path: string; conflict: Conflict | null; onReload: () => void; onOverwrite: () => void; onClose: () => void }) {
  return (
    <Dialog
      open={conflict !== null}
      onOpenChange={(open) => !open && onClose()}
      title="Someone changed this file"
      description={`${path} changed since you opened it. Left: the saved version. Right: your edit.`}
      wide
    >
      {conflict && (
        <div className="space-y-4">
          <div className="h-80 overflow-hidden rounded border border-border" data-testid="conflict-diff">
            <DiffEditor
              original={conflict.theirs.content}
              modified={conflict.mine}
              language={languageOf(path)}
              theme={editorTheme()}
              options={{ ...EDITOR_BASE, readOnly: true, renderSideBySide: true }}
              onMount={(editor) => labelDiffSides(editor, `${path}, saved version`, `${path}, your edit`)}
            />
          </div>
          <div className="flex flex-wrap justify-end gap-2">
            <Button variant="secondary" onClick={onReload}>
              Discard mine and reload
            </Button>
            <Button variant="danger" onClick={onOverwrite}>
              Overwrite with mine
            </Button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

function NewFileDialog({ open, onOpenChange, onCreate, title, initial = "" }: { open: boolean; onOpenChange: (o: boolean) => void; onCreate: (path: string) => Promise<void>; title: string; initial?: string }) {
  const [path, setPath] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setPath(initial);
      setError(null);
    }
  }, [open, initial]);
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title={title}>
      <form
        className="space-y-4"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          try {
            await onCreate(path.trim());
            onOpenChange(false);
          } catch (caught) {
            setError(errorText(caught));
          } finally {
            setBusy(false);
          }
        }}
      >
        <FormError message={error} />
        <TextField label="Path" placeholder="src/components/Button.tsx" value={path} onChange={(e) => setPath(e.target.value)} autoFocus />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" busy={busy} disabled={!path.trim()}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function toBase64(bytes: ArrayBuffer): string {
  let binary = "";
  const view = new Uint8Array(bytes);
  for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function CodePanel({ project, access }: PanelProps) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const files = useQuery({ queryKey: ["files", project.id], queryFn: () => allFiles(project.id) });
  const tree = useMemo(() => buildTree(files.data ?? []), [files.data]);
  const { selected, setSelected, draft, setDraft, conflict, setConflict } = useEditorSession();
  const [dialog, setDialog] = useState<"new" | "rename" | null>(null);
  // Bumped when the editor must show the server's text again (a reload after a conflict).
  const [revision, setRevision] = useState(0);
  const upload = useRef<HTMLInputElement>(null);

  const content = useQuery({
    queryKey: ["file", project.id, selected],
    enabled: Boolean(selected),
    queryFn: () => unwrap(api.GET("/api/projects/{id}/files/{path}", { params: { path: { id: project.id, path: selected! } } })),
    select: (envelope) => envelope as unknown as FileContent,
    staleTime: Infinity,
  });
  const file = content.data;
  const dirty = draft !== null && file !== undefined && draft !== file.content;

  useEffect(() => {
    if (!dirty) return;
    const guard = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", guard);
    return () => window.removeEventListener("beforeunload", guard);
  }, [dirty]);

  const open = (path: string) => {
    if (dirty && !window.confirm("You have unsaved changes. Discard them?")) return;
    setDraft(null);
    setSelected(path);
  };

  const refresh = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: ["files", project.id] });
  }, [queryClient, project.id]);

  const save = useMutation({
    mutationFn: async ({ text, force }: { text: string; force: boolean }) => {
      const { data, error, response } = await api.PUT("/api/projects/{id}/files/{path}", {
        params: { path: { id: project.id, path: selected! }, header: force ? {} : { "If-Match": `"${file!.sha256}"` } },
        body: { content: text, encoding: "utf-8" },
      });
      if (response.status === 412) {
        const theirs = await unwrap(api.GET("/api/projects/{id}/files/{path}", { params: { path: { id: project.id, path: selected! } } }));
        setConflict({ mine: text, theirs: theirs as unknown as FileContent });
        return null;
      }
      if (!response.ok) throw new ApiError(response.status, (error as { error?: { code?: string } })?.error?.code ?? "http_error", (error as { error?: { message?: string } })?.error?.message ?? "Saving failed.");
      return data;
    },
    onSuccess: (saved) => {
      if (!saved) return;
      toast.success("Saved", selected ?? undefined);
      setDraft(null);
      void queryClient.invalidateQueries({ queryKey: ["file", project.id, selected] });
      refresh();
    },
    onError: (error) => toast.error(errorText(error)),
  });

  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/projects/{id}/files/{path}", { params: { path: { id: project.id, path: selected! } } })),
    onSuccess: () => {
      toast.success("Deleted", selected ?? undefined);
      setSelected(null);
      setDraft(null);
      refresh();
    },
    onError: (error) => toast.error(errorText(error)),
  });

  const create = async (path: string) => {
    await unwrap(
      api.PUT("/api/projects/{id}/files/{path}", { params: { path: { id: project.id, path }, header: { "If-None-Match": "*" } }, body: { content: "", encoding: "utf-8" } }),
    );
    refresh();
    setDraft(null);
    setSelected(path);
  };
  const rename = async (to: string) => {
    await unwrap(api.POST("/api/projects/{id}/rename-file", { params: { path: { id: project.id } }, body: { from: selected!, to } }));
    refresh();
    setSelected(to);
  };
  const uploadFiles = async (list: FileList | null) => {
    for (const item of Array.from(list ?? [])) {
      try {
        const data = toBase64(await item.arrayBuffer());
        await unwrap(api.PUT("/api/projects/{id}/files/{path}", { params: { path: { id: project.id, path: `public/${item.name}` } }, body: { content: data, encoding: "base64" } }));
        toast.success("Uploaded", `public/${item.name}`);
      } catch (caught) {
        toast.error(errorText(caught), `Could not upload ${item.name}`);
      }
    }
    refresh();
  };

  return (
    <div className="flex h-full min-h-0 max-md:flex-col">
      <aside className="flex w-60 shrink-0 flex-col border-r border-border max-md:h-48 max-md:w-full max-md:border-b max-md:border-r-0">
        <div className="flex items-center gap-1 border-b border-border px-2 py-1.5">
          <span className="mr-auto text-xs font-medium uppercase text-muted-foreground">Files</span>
          {access.edit && (
            <>
              <Button variant="ghost" size="sm" onClick={() => setDialog("new")} aria-label="New file">
                New
              </Button>
              <Button variant="ghost" size="sm" onClick={() => upload.current?.click()} aria-label="Upload files">
                Upload
              </Button>
              <input ref={upload} type="file" multiple className="hidden" onChange={(e) => void uploadFiles(e.target.files)} aria-hidden="true" tabIndex={-1} />
            </>
          )}
        </div>
        <div className="min-h-0 flex-1 overflow-y-auto py-1">
          {files.isLoading ? <Skeleton className="m-2 h-40" /> : <Tree nodes={tree} selected={selected} onSelect={open} />}
        </div>
      </aside>
      <section className="flex min-h-0 min-w-0 flex-1 flex-col" aria-label="Editor">
        {selected ? (
          <>
            <div className="flex items-center gap-2 border-b border-border px-3 py-1.5">
              <span className="truncate font-mono text-xs" data-testid="open-file">
                {selected}
                {dirty && <span className="ml-1 text-warning" aria-label="unsaved changes">●</span>}
              </span>
              {access.edit && file?.encoding === "utf-8" && (
                <div className="ml-auto flex gap-1">
                  <Button variant="ghost" size="sm" onClick={() => setDialog("rename")}>
                    Rename
                  </Button>
                  <Button
                    variant="ghost"
                    size="sm"
                    onClick={() => {
                      if (window.confirm(`Delete ${selected}?`)) remove.mutate();
                    }}
                  >
                    Delete
                  </Button>
                  <Button size="sm" onClick={() => save.mutate({ text: draft ?? file.content, force: false })} busy={save.isPending} disabled={!dirty}>
                    Save
                  </Button>
                </div>
              )}
            </div>
            <div className="min-h-0 flex-1">
              {content.isLoading || !file ? (
                <div className="flex h-full items-center justify-center">
                  <Spinner className="h-5 w-5 text-muted-foreground" />
                </div>
              ) : file.encoding === "base64" ? (
                <p className="p-4 text-sm text-muted-foreground">This is a binary file ({file.size.toLocaleString()} bytes); it cannot be edited here.</p>
              ) : (
                <Editor
                  key={`${selected}#${revision}`}
                  path={selected}
                  defaultValue={draft ?? file.content}
                  language={languageOf(selected)}
                  theme={editorTheme()}
                  loading={<Spinner className="h-5 w-5 text-muted-foreground" />}
                  onChange={(value) => setDraft(value ?? "")}
                  onMount={(editor, monaco) => {
                    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, () => {
                      document.querySelector<HTMLButtonElement>("[data-save]")?.click();
                    });
                  }}
                  options={{ ...EDITOR_BASE, ariaLabel: `Code of ${selected}`, readOnly: !access.edit, fontSize: 13, scrollBeyondLastLine: false }}
                />
              )}
            </div>
            {dirty && <button type="button" data-save className="hidden" onClick={() => save.mutate({ text: draft ?? "", force: false })} />}
          </>
        ) : (
          <div className="flex flex-1 items-center justify-center p-6 text-center text-sm text-muted-foreground">
            {files.data?.length ? "Choose a file to see its code." : "No files yet: ask the AI in the chat, or create one."}
          </div>
        )}
      </section>
      <ConflictDialog
        path={selected ?? ""}
        conflict={conflict}
        onClose={() => setConflict(null)}
        onReload={() => {
          setConflict(null);
          setDraft(null);
          void queryClient.invalidateQueries({ queryKey: ["file", project.id, selected] }).then(() => setRevision((r) => r + 1));
        }}
        onOverwrite={() => {
          const mine = conflict?.mine ?? "";
          setConflict(null);
          save.mutate({ text: mine, force: true });
        }}
      />
      <NewFileDialog open={dialog === "new"} onOpenChange={(o) => setDialog(o ? "new" : null)} onCreate={create} title="New file" />
      <NewFileDialog open={dialog === "rename"} onOpenChange={(o) => setDialog(o ? "rename" : null)} onCreate={rename} title="Rename or move" initial={selected ?? ""} />
    </div>
  );
}
