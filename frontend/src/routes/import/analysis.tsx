import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { api, unwrap } from "@/api/client";
import { isPlanLimit, PlanLimitNotice } from "@/components/plan-limit";
import { Button } from "@/components/ui/button";
import { Section } from "@/components/ui/page";
import { detailMessages, plural, type Analysis, type AnalyzedApp, type Import, type StartOptions } from "./data";
import { ImportError } from "./pick-files";

interface Choice {
  chosen: boolean;
  projectName: string;
}

const OPTIONS: { key: keyof StartOptions; label: string; hint: string }[] = [
  { key: "chats", label: "Chat history", hint: "Each app's chats and messages, linked to the versions they made." },
  { key: "files", label: "Project files (with their history)", hint: "The files and every commit as a version. Needs the app's archive." },
  { key: "prompts", label: "Prompts", hint: "The prompt library, into your own prompts." },
  { key: "models", label: "AI model settings (list only)", hint: "The custom models are listed for an administrator to add; API keys never come along." },
  { key: "envVars", label: "Environment variables", hint: "The apps' .env files, sealed as project variables." },
];

const DEFAULT_OPTIONS: Required<StartOptions> = { chats: true, files: true, prompts: true, models: false, envVars: false };

const usable = (app: AnalyzedApp) => app.archive !== null && !app.archiveError;

function AppFacts({ app }: { app: AnalyzedApp }) {
  const facts = [plural(app.chats, "chat"), plural(app.messages, "message")];
  if (app.commits !== null) facts.push(plural(app.commits, "commit"));
  if (app.files !== null) facts.push(plural(app.files, "file"));
  if (app.skippedFiles) facts.push(`${plural(app.skippedFiles, "file")} left out`);
  if (app.envFiles) facts.push(plural(app.envFiles, ".env file"));
  return <p className="text-sm text-muted-foreground">{facts.join(" · ")}</p>;
}

function AppRow({
  app,
  choice,
  problem,
  onChange,
}: {
  app: AnalyzedApp;
  choice: Choice;
  problem?: string;
  onChange: (choice: Choice) => void;
}) {
  const id = `import-app-${app.appId}`;
  return (
    <li className="space-y-3 py-4 first:pt-0 last:pb-0">
      <div className="flex items-start gap-3">
        <input
          id={`${id}-chosen`}
          type="checkbox"
          className="mt-1 h-4 w-4 accent-primary"
          checked={choice.chosen}
          onChange={(event) => onChange({ ...choice, chosen: event.target.checked })}
          aria-describedby={`${id}-archive`}
        />
        <div className="min-w-0 flex-1 space-y-0.5">
          <label htmlFor={`${id}-chosen`} className="block cursor-pointer font-medium">
            {app.name}
          </label>
          <AppFacts app={app} />
          <p id={`${id}-archive`} className="text-sm">
            {app.archive ? (
              <>
                Archive: <span className="font-medium">{app.archive}</span>
              </>
            ) : (
              <span className="font-medium text-warning">No archive uploaded: only its chats can come along.</span>
            )}
          </p>
          {app.archiveError && <p className="text-sm font-medium text-danger">{app.archiveError}</p>}
          <p className="text-xs text-muted-foreground">Folder: {app.path}</p>
        </div>
      </div>
      <div className="space-y-1.5 sm:pl-7">
        <label htmlFor={`${id}-project`} className="block text-sm font-medium">
          Project name for {app.name}
        </label>
        <input
          id={`${id}-project`}
          value={choice.projectName}
          maxLength={255}
          disabled={!choice.chosen}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${id}-problem` : undefined}
          onChange={(event) => onChange({ ...choice, projectName: event.target.value })}
          className="h-10 w-full max-w-md rounded-md border border-border bg-surface px-3 text-sm text-foreground focus:outline-none focus:ring-2 focus:ring-ring disabled:bg-muted aria-[invalid=true]:border-danger"
        />
        {problem && (
          <p id={`${id}-problem`} className="text-sm text-danger">
            {problem}
          </p>
        )}
      </div>
    </li>
  );
}

function Extras({ analysis }: { analysis: Analysis }) {
  return (
    <dl className="grid gap-4 text-sm sm:grid-cols-2">
      <div>
        <dt className="font-medium">Prompts</dt>
        <dd className="text-muted-foreground">{analysis.prompts ? plural(analysis.prompts, "prompt") : "None"}</dd>
      </div>
      <div>
        <dt className="font-medium">Themes</dt>
        <dd className="text-muted-foreground">{analysis.themes.length ? analysis.themes.join(", ") : "None"}</dd>
      </div>
      <div className="sm:col-span-2">
        <dt className="font-medium">Custom AI models, for an administrator to add</dt>
        <dd>
          {analysis.customModels.length === 0 ? (
            <span className="text-muted-foreground">None</span>
          ) : (
            <ul className="mt-1 space-y-1" aria-label="Custom AI models">
              {analysis.customModels.map((model) => (
                <li key={`${model.provider}/${model.apiName}`}>
                  <span className="font-medium">{model.displayName}</span>{" "}
                  <span className="text-muted-foreground">
                    ({model.apiName}
                    {model.provider ? ` from ${model.provider}` : ""}
                    {model.apiBaseUrl ? `, ${model.apiBaseUrl}` : ""})
                  </span>
                </li>
              ))}
            </ul>
          )}
        </dd>
      </div>
      {analysis.unmatchedArchives.length > 0 && (
        <div className="sm:col-span-2">
          <dt className="font-medium">Archives that match no app</dt>
          <dd className="text-muted-foreground">
            {analysis.unmatchedArchives.join(", ")}: name each archive after its app's folder.
          </dd>
        </div>
      )}
    </dl>
  );
}

/** Step 2: what the files hold; which apps to import, under which names, with what. */
export function ChooseApps({ theImport, onStarted }: { theImport: Import; onStarted: (started: Import) => void }) {
  const analysis = theImport.analysis as Analysis;
  const navigate = useNavigate();
  const [choices, setChoices] = useState<Record<number, Choice>>(() =>
    Object.fromEntries(analysis.apps.map((app) => [app.appId, { chosen: usable(app), projectName: app.name }])),
  );
  const [options, setOptions] = useState<Required<StartOptions>>(DEFAULT_OPTIONS);
  const [error, setError] = useState<unknown>(null);
  const [problems, setProblems] = useState<Record<number, string>>({});
  const [busy, setBusy] = useState(false);
  const choiceOf = (app: AnalyzedApp): Choice => choices[app.appId] ?? { chosen: false, projectName: app.name };
  const chosen = analysis.apps.filter((app) => choiceOf(app).chosen);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setProblems({});
    const apps = chosen.map((app) => ({ appId: app.appId, projectName: choiceOf(app).projectName.trim() || null }));
    setBusy(true);
    try {
      const started = await unwrap(
        api.POST("/api/imports/{id}/start", { params: { path: { id: theImport.id } }, body: { apps, options } }),
      );
      onStarted(started.import);
    } catch (caught) {
      setError(caught);
      // "apps[2].appId" names the third app asked for: its message goes next to it.
      const found: Record<number, string> = {};
      for (const { field, message } of detailMessages(caught)) {
        const match = /^apps\[(\d+)\]/.exec(field);
        const app = match ? apps[Number(match[1])] : undefined;
        if (app) found[app.appId] = message;
      }
      setProblems(found);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} className="space-y-8" noValidate>
      <Section title="2. Choose what to import" description="Each app you choose becomes a new project in this organization.">
        {analysis.apps.length === 0 ? (
          <p className="text-sm text-muted-foreground">The database holds no apps.</p>
        ) : (
          <ul className="divide-y divide-border" aria-label="Apps in the desktop app">
            {analysis.apps.map((app) => (
              <AppRow
                key={app.appId}
                app={app}
                choice={choiceOf(app)}
                problem={problems[app.appId]}
                onChange={(choice) => setChoices((current) => ({ ...current, [app.appId]: choice }))}
              />
            ))}
          </ul>
        )}
      </Section>

      <Section title="Also in the database">
        <Extras analysis={analysis} />
      </Section>

      {analysis.warnings.length > 0 && (
        <section aria-labelledby="import-warnings" className="rounded-lg border border-warning/50 bg-warning/10 px-4 py-3 text-sm">
          <h2 id="import-warnings" className="font-semibold">
            Good to know
          </h2>
          <ul className="mt-1 list-disc space-y-1 pl-5">
            {analysis.warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </section>
      )}

      <Section title="Options">
        <fieldset className="space-y-3">
          <legend className="sr-only">What to bring along</legend>
          {OPTIONS.map(({ key, label, hint }) => (
            <label key={key} className="flex cursor-pointer gap-3">
              <input
                type="checkbox"
                className="mt-1 h-4 w-4 shrink-0 accent-primary"
                checked={options[key]}
                onChange={(event) => setOptions((current) => ({ ...current, [key]: event.target.checked }))}
              />
              <span>
                <span className="block text-sm font-medium">{label}</span>
                <span className="block text-sm text-muted-foreground">{hint}</span>
              </span>
            </label>
          ))}
        </fieldset>
      </Section>

      {isPlanLimit(error) ? <PlanLimitNotice error={error} organizationId={theImport.organizationId} /> : <ImportError error={error} />}
      <div className="flex flex-wrap items-center justify-end gap-3">
        <p className="mr-auto text-sm text-muted-foreground" aria-live="polite">
          {chosen.length === 0 ? "Choose at least one app." : `${plural(chosen.length, "app")} chosen.`}
        </p>
        <Button variant="secondary" onClick={() => navigate("/")}>
          Start fresh
        </Button>
        <Button type="submit" busy={busy} disabled={chosen.length === 0}>
          Import
        </Button>
      </div>
    </form>
  );
}
