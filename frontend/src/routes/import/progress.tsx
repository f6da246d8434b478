import { Link } from "react-router";
import { Section } from "@/components/ui/page";
import { Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { count, plural, type Import, type ImportedApp } from "./data";

// The importer's stages, in order (the worker reports each as it reaches it).
const STAGES: Record<string, string> = {
  project: "Creating the project",
  versions: "Bringing the history",
  chats: "Bringing the chats",
  done: "Done",
};
const STAGE_ORDER = Object.keys(STAGES);

const STATUS_LABELS: Record<ImportedApp["status"], string> = {
  queued: "Waiting",
  importing: "Importing",
  completed: "Imported",
  failed: "Failed",
};

const COUNT_LABELS: [key: string, one: string, many: string][] = [
  ["versions", "version", "versions"],
  ["files", "file", "files"],
  ["skippedFiles", "file left out", "files left out"],
  ["chats", "chat", "chats"],
  ["messages", "message", "messages"],
  ["variables", "variable", "variables"],
];

function Counts({ counts }: { counts: Record<string, number> }) {
  const shown = COUNT_LABELS.flatMap(([key, one, many]) => {
    const value = counts[key];
    return value === undefined ? [] : [{ key, label: value === 1 ? one : many, value }];
  });
  if (shown.length === 0) return null;
  return (
    <ul className="flex flex-wrap gap-x-4 gap-y-1 text-sm" aria-label="Brought along">
      {shown.map(({ key, label, value }) => (
        <li key={key}>
          <span className="font-medium tabular-nums">{count.format(value)}</span> <span className="text-muted-foreground">{label}</span>
        </li>
      ))}
    </ul>
  );
}

function AppProgress({ app }: { app: ImportedApp }) {
  const step = app.status === "completed" ? STAGE_ORDER.length : app.stage ? STAGE_ORDER.indexOf(app.stage) + 1 : 0;
  const stage = app.stage ? (STAGES[app.stage] ?? app.stage) : "Waiting to start";
  const errors = app.errors.map((error) => (typeof error.message === "string" ? error.message : "Something went wrong."));
  return (
    <li className="space-y-2 py-4 first:pt-0 last:pb-0">
      <div className="flex flex-wrap items-center gap-3">
        <h3 className="mr-auto font-medium">{app.projectName}</h3>
        <span
          className={cn(
            "rounded-full px-2 py-0.5 text-xs font-medium",
            app.status === "completed" ? "border border-success/60 text-success" : app.status === "failed" ? "border border-danger/60 text-danger" : "bg-muted text-foreground",
          )}
        >
          {STATUS_LABELS[app.status]}
        </span>
      </div>
      {app.status !== "completed" && app.status !== "failed" && (
        <div
          role="progressbar"
          aria-label={`Import of ${app.projectName}`}
          aria-valuemin={0}
          aria-valuemax={STAGE_ORDER.length}
          aria-valuenow={Math.max(step, 0)}
          aria-valuetext={stage}
          className="h-2 overflow-hidden rounded-full bg-muted"
        >
          <div className="h-full rounded-full bg-primary transition-all" style={{ width: `${(Math.max(step, 0) / STAGE_ORDER.length) * 100}%` }} />
        </div>
      )}
      {app.status !== "completed" && <p className="text-sm text-muted-foreground">{app.status === "failed" ? "Stopped" : stage}</p>}
      <Counts counts={app.counts} />
      {app.projectId && app.status === "completed" && (
        <Link
          to={`/projects/${app.projectId}`}
          className="inline-flex h-9 items-center justify-center rounded-md bg-primary px-3 text-sm font-medium text-primary-foreground hover:opacity-90"
        >
          Open {app.projectName}
        </Link>
      )}
      {app.warnings.length > 0 && <p className="text-sm font-medium">Good to know</p>}
      {app.warnings.length > 0 && (
        <ul className="list-disc space-y-1 pl-5 text-sm" aria-label={`Warnings for ${app.projectName}`}>
          {app.warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      )}
      {errors.length > 0 && (
        <ul className="list-disc space-y-1 pl-5 text-sm text-danger" aria-label={`Errors for ${app.projectName}`}>
          {errors.map((message, index) => (
            <li key={index}>{message}</li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** Steps 3 and 4: each chosen app on its way to a project, then the projects it became. */
export function ImportProgress({ theImport }: { theImport: Import }) {
  const working = theImport.status === "importing";
  const title = working ? "3. Importing" : theImport.status === "completed" ? "Import finished" : "Import stopped";
  const done = theImport.apps.filter((app) => app.status === "completed").length;
  return (
    <Section
      title={title}
      description={
        working
          ? "You can leave this page: the import goes on, and its result stays in the list of imports below."
          : `${count.format(done)} of ${plural(theImport.apps.length, "app")} imported.`
      }
    >
      <div role="status" className="mb-4 flex items-center gap-2 text-sm empty:hidden">
        {working && (
          <>
            <Spinner className="h-4 w-4" />
            <span>Importing…</span>
          </>
        )}
      </div>
      {theImport.status === "failed" && theImport.error && (
        <p role="alert" className="mb-4 rounded-md border border-danger/40 bg-danger/10 px-3 py-2 text-sm text-danger">
          {theImport.error.message}
        </p>
      )}
      <ul className="divide-y divide-border" aria-label="Imported apps">
        {theImport.apps.map((app) => (
          <AppProgress key={app.id} app={app} />
        ))}
      </ul>
    </Section>
  );
}
