import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { api, ApiError, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/page";
import type { Organization } from "@/lib/organization";
import { detailMessages, fileSize, uploadFile, UploadError, type Import } from "./data";

/** One file on its way up: how much of it the storage has. */
export interface UploadProgress {
  name: string;
  size: number;
  loaded: number;
  done: boolean;
}

const fileInput =
  "block w-full rounded-md border border-border bg-surface text-sm text-foreground file:mr-3 file:h-10 file:cursor-pointer file:border-0 file:border-r file:border-border file:bg-muted file:px-3 file:text-sm file:font-medium file:text-foreground focus:outline-none focus:ring-2 focus:ring-ring";

/** Upload progress bars, one per file. */
export function UploadList({ uploads }: { uploads: UploadProgress[] }) {
  return (
    <ul className="space-y-3" aria-label="Uploads">
      {uploads.map((upload) => {
        const percent = upload.size === 0 ? 100 : Math.round((upload.loaded / upload.size) * 100);
        return (
          <li key={upload.name} className="space-y-1.5">
            <div className="flex flex-wrap items-baseline gap-x-3 text-sm">
              <span className="mr-auto font-medium break-all">{upload.name}</span>
              <span className={upload.done ? "font-medium text-success" : "tabular-nums text-muted-foreground"}>
                {upload.done ? "Uploaded" : `${percent}% of ${fileSize(upload.size)}`}
              </span>
            </div>
            <div
              role="progressbar"
              aria-label={`Upload of ${upload.name}`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
              aria-valuetext={upload.done ? "Uploaded" : `${percent}%`}
              className="h-2 overflow-hidden rounded-full bg-muted"
            >
              <div className={upload.done ? "h-full rounded-full bg-success" : "h-full rounded-full bg-primary"} style={{ width: `${percent}%` }} />
            </div>
          </li>
        );
      })}
    </ul>
  );
}

/** An API or upload failure, with the API's per-file details (e.g. which file is over the limit). */
export function ImportError({ error }: { error: unknown }) {
  if (!error) return null;
  const details = detailMessages(error);
  const message = error instanceof ApiError || error instanceof UploadError ? error.message : "That did not work. Try again.";
  return (
    <div role="alert" className="rounded-md border border-danger/40 bg-danger/10 px-3 py-2 text-sm text-danger">
      <p className="font-medium">{message}</p>
      {details.length > 0 && (
        <ul className="mt-1 list-disc space-y-0.5 pl-5">
          {details.map((detail, index) => (
            <li key={index}>{detail.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * Step 1: the desktop app's database and one archive per app. Creates the import, uploads every file to its
 * slot with a progress bar each, then asks for the analysis.
 */
export function PickFiles({
  organization,
  uploads,
  onUploads,
  onAnalyzing,
}: {
  organization: Organization;
  uploads: UploadProgress[] | null;
  onUploads: (uploads: UploadProgress[] | null) => void;
  onAnalyzing: (started: Import) => void;
}) {
  const [database, setDatabase] = useState<File | null>(null);
  const [archives, setArchives] = useState<File[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const stop = useRef<AbortController | null>(null);
  const archivesInput = useRef<HTMLInputElement>(null);
  const databaseHelp = useId();
  const archivesHelp = useId();
  // Leaving the page stops the uploads under way.
  useEffect(() => () => stop.current?.abort(), []);

  const addArchives = (chosen: FileList | null) => {
    const added = Array.from(chosen ?? []);
    setArchives((current) => [...current.filter((file) => !added.some((a) => a.name === file.name)), ...added]);
    // The same file can be chosen again after it was removed.
    if (archivesInput.current) archivesInput.current.value = "";
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (!database) {
      setProblem("Choose the desktop app's sqlite.db.");
      return;
    }
    setProblem(null);
    setBusy(true);
    const controller = new AbortController();
    stop.current = controller;
    const files = [database, ...archives];
    let progress: UploadProgress[] = files.map((file, index) => ({
      name: index === 0 ? "sqlite.db" : file.name,
      size: file.size,
      loaded: 0,
      done: false,
    }));
    const report = (index: number, change: Partial<UploadProgress>) => {
      progress = progress.map((item, i) => (i === index ? { ...item, ...change } : item));
      onUploads(progress);
    };
    try {
      const created = await unwrap(
        api.POST("/api/imports", {
          body: {
            organizationId: organization.id,
            databaseSize: database.size,
            archives: archives.map((file) => ({ name: file.name, size: file.size })),
          },
        }),
      );
      onUploads(progress);
      // The slots come in the order asked for: the database, then the archives.
      const slots = created.import.uploads;
      for (const [index, file] of files.entries()) {
        const slot = index === 0 ? slots.find((s) => s.kind === "database") : slots.find((s) => s.kind === "archive" && s.name === file.name);
        if (!slot) throw new UploadError(`There is no place to upload ${file.name}: start again.`);
        await uploadFile(slot, file, (loaded) => report(index, { loaded }), controller.signal);
        report(index, { loaded: file.size, done: true });
      }
      const analyzing = await unwrap(api.POST("/api/imports/{id}/analyze", { params: { path: { id: created.import.id } } }));
      onAnalyzing(analyzing.import);
    } catch (caught) {
      if (!controller.signal.aborted) setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="1. Choose the files" description="Your desktop app's database, and one archive for each app whose files and history you want.">
      <form onSubmit={submit} className="space-y-5" noValidate>
        <div className="space-y-1.5">
          <label htmlFor="import-database" className="block text-sm font-medium">
            The desktop app's database (sqlite.db)
          </label>
          <input
            id="import-database"
            type="file"
            accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3,application/x-sqlite3"
            className={fileInput}
            aria-describedby={databaseHelp}
            aria-invalid={problem ? true : undefined}
            disabled={busy}
            onChange={(event) => setDatabase(event.target.files?.[0] ?? null)}
          />
          <div id={databaseHelp} className="text-sm text-muted-foreground">
            {problem ? (
              <p className="text-danger">{problem}</p>
            ) : (
              <p>
                Close the desktop app first. On macOS it is <code className="rounded bg-muted px-1">~/Library/Application Support/dyad/sqlite.db</code>
                , on Windows <code className="rounded bg-muted px-1">%APPDATA%\dyad\sqlite.db</code>.
              </p>
            )}
          </div>
        </div>

        <div className="space-y-1.5">
          <label htmlFor="import-archives" className="block text-sm font-medium">
            App archives (.zip or git bundle)
          </label>
          <input
            id="import-archives"
            ref={archivesInput}
            type="file"
            multiple
            accept=".zip,.bundle,application/zip"
            className={fileInput}
            aria-describedby={archivesHelp}
            disabled={busy}
            onChange={(event) => addArchives(event.target.files)}
          />
          <p id={archivesHelp} className="text-sm text-muted-foreground">
            One per app: a zip of the app's folder with its <code className="rounded bg-muted px-1">.git</code> folder (e.g.{" "}
            <code className="rounded bg-muted px-1">~/dyad-apps/&lt;app&gt;</code>), or a git bundle made in that folder with{" "}
            <code className="rounded bg-muted px-1">git bundle create app.bundle --all</code>. An archive is matched to its app by the folder's name.
            Without one, an app brings its chats only.
          </p>
          {archives.length > 0 && (
            <ul className="divide-y divide-border rounded-md border border-border" aria-label="Chosen archives">
              {archives.map((file) => (
                <li key={file.name} className="flex items-center gap-3 px-3 py-2 text-sm">
                  <span className="mr-auto break-all">{file.name}</span>
                  <span className="shrink-0 text-muted-foreground">{fileSize(file.size)}</span>
                  <Button
                    variant="ghost"
                    size="sm"
                    disabled={busy}
                    aria-label={`Remove ${file.name}`}
                    onClick={() => setArchives((current) => current.filter((f) => f !== file))}
                  >
                    Remove
                  </Button>
                </li>
              ))}
            </ul>
          )}
        </div>

        <ImportError error={error} />
        {uploads && <UploadList uploads={uploads} />}
        <div className="flex justify-end">
          <Button type="submit" busy={busy}>
            Upload and analyze
          </Button>
        </div>
      </form>
    </Section>
  );
}
