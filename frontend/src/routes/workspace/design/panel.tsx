import { useMutation } from "@tanstack/react-query";
import { useEffect, useId, useState, type ReactNode } from "react";
import { api, errorText, fieldError, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError, TextAreaField, TextField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton } from "@/components/ui/spinner";
import { dateTime, relativeTime } from "@/lib/time";
import type { PanelProps } from "../workspace";
import { documentOf, useAfterChange, useDesignSystem, type DesignSystem, type DesignSystemChange } from "./data";
import { Guidance } from "./guidance";
import { History } from "./history";
import { ChangeNotice } from "./notice";
import { Palette } from "./palette";
import { Scales } from "./scales";
import { Typography } from "./typography";

const MAX_DESCRIPTION = 2000;
const MAX_PAGE_NAME = 60;

/** Where the last change was made: its notice is shown there. */
type Origin = "system" | "colours" | "fonts" | "rules" | "history";
interface LastChange {
  origin: Origin;
  what: string;
  change: DesignSystemChange;
}

function generate(projectId: string, description: string, pageName: string | null) {
  return unwrap(
    api.POST("/api/projects/{id}/design-system", {
      params: { path: { id: projectId } },
      body: { description: description.trim() || null, ...(pageName ? { pageName } : {}) },
    }),
  );
}

/** No design system yet: what it is, and (for editors) generating it from the project's description. */
function Intro({ project, canEdit, onGenerated }: { project: PanelProps["project"]; canEdit: boolean; onGenerated: (change: DesignSystemChange) => void }) {
  const [description, setDescription] = useState(project.description ?? "");
  const run = useMutation({ mutationFn: () => generate(project.id, description, null), onSuccess: onGenerated });
  return (
    <Section title="Design system" description="No design system yet.">
      <div className="space-y-3 text-sm">
        <p>
          A design system gives the app one look: a colour palette for light and dark themes in which every text and control passes WCAG AA contrast,
          fonts with fallbacks, spacing, radius, shadow and motion tokens, the page layout pattern, anti-patterns to avoid and a checklist.
        </p>
        <p className="text-muted-foreground">
          It is saved in the project as <code className="font-mono">design-system/MASTER.md</code> and <code className="font-mono">src/design-tokens.css</code>,
          and every AI change follows it.
        </p>
        {canEdit ? (
          <form
            className="space-y-3"
            onSubmit={(event) => {
              event.preventDefault();
              run.mutate();
            }}
          >
            <TextAreaField
              label="What is the product?"
              hint="Generated from this description (the project's, unless you change it here)."
              value={description}
              maxLength={MAX_DESCRIPTION}
              rows={3}
              onChange={(event) => setDescription(event.target.value)}
              error={fieldError(run.error, "description")}
            />
            <FormError message={run.error && !fieldError(run.error, "description") ? errorText(run.error) : null} />
            <Button type="submit" busy={run.isPending} disabled={!description.trim()}>
              Generate
            </Button>
          </form>
        ) : (
          <p className="text-muted-foreground">Someone who may edit this project can generate it.</p>
        )}
      </div>
    </Section>
  );
}

/** Regenerating the master (or the shown page's override) from a new description, after a confirmation. */
function RegenerateDialog({
  projectId,
  open,
  page,
  initial,
  onClose,
  onDone,
}: {
  projectId: string;
  open: boolean;
  page: string | null;
  initial: string;
  onClose: () => void;
  onDone: (change: DesignSystemChange) => void;
}) {
  const [description, setDescription] = useState(initial);
  useEffect(() => {
    if (open) setDescription(initial);
  }, [open, initial]);
  const run = useMutation({
    mutationFn: () => generate(projectId, description, page),
    onSuccess: (change) => {
      run.reset();
      onDone(change);
    },
  });
  const close = () => {
    run.reset();
    onClose();
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => !next && close()}
      title={page ? `Regenerate the ${page} page's override?` : "Regenerate the design system?"}
      description={
        page
          ? "A new override for this page replaces the current one. The history keeps the current one: you can restore it."
          : "A new design system replaces the current one, with your edits to it. The history keeps the current one: you can restore it."
      }
    >
      <form
        className="space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          run.mutate();
        }}
      >
        <TextAreaField
          label="Description"
          hint={page ? "What is on the page. Default: the project's description." : undefined}
          value={description}
          rows={4}
          maxLength={MAX_DESCRIPTION}
          onChange={(event) => setDescription(event.target.value)}
          error={fieldError(run.error, "description")}
        />
        <FormError message={run.error && !fieldError(run.error, "description") ? errorText(run.error) : null} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" busy={run.isPending} disabled={!page && !description.trim()}>
            Replace
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function AddPageDialog({
  projectId,
  open,
  existing,
  onClose,
  onDone,
}: {
  projectId: string;
  open: boolean;
  existing: string[];
  onClose: () => void;
  onDone: (change: DesignSystemChange) => void;
}) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const reset = () => {
    setName("");
    setDescription("");
  };
  const run = useMutation({
    mutationFn: () => generate(projectId, description, name.trim()),
    onSuccess: (change) => {
      reset();
      run.reset();
      onDone(change);
    },
  });
  const taken = existing.some((page) => page.toLowerCase() === name.trim().toLowerCase());
  const close = () => {
    run.reset();
    reset();
    onClose();
  };
  return (
    <Dialog
      open={open}
      onOpenChange={(next) => !next && close()}
      title="Add a page override"
      description="A page can have its own layout pattern, effects, anti-patterns and checklist; its colours and fonts stay the master's."
    >
      <form
        className="space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          run.mutate();
        }}
      >
        <TextField
          label="Page name"
          placeholder="Pricing"
          value={name}
          maxLength={MAX_PAGE_NAME}
          onChange={(event) => setName(event.target.value)}
          error={taken ? "This page has an override: choose it and regenerate it." : fieldError(run.error, "pageName")}
        />
        <TextAreaField
          label="What is on the page? (optional)"
          hint="Default: the project's description."
          value={description}
          rows={3}
          maxLength={MAX_DESCRIPTION}
          onChange={(event) => setDescription(event.target.value)}
        />
        <FormError message={run.error && !fieldError(run.error, "pageName") ? errorText(run.error) : null} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" busy={run.isPending} disabled={!name.trim() || taken}>
            Generate override
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

const OVERRIDE_LABELS: Record<string, string> = { pattern: "the layout pattern", effects: "the effects", antiPatterns: "the anti-patterns", checklist: "the checklist" };

function overrideSummary(override: DesignSystem["override"]): string {
  const keys = Object.keys(override ?? {});
  return keys.length === 0 ? "it changes nothing yet" : `it changes ${keys.map((key) => OVERRIDE_LABELS[key] ?? key).join(", ")} (marked below)`;
}

/** What the design system is, which page is shown, and generating it again. */
function Overview({
  system,
  project,
  page,
  canEdit,
  notice,
  onPage,
  onChanged,
}: {
  system: DesignSystem;
  project: PanelProps["project"];
  page: string | null;
  canEdit: boolean;
  notice: ReactNode;
  onPage: (page: string | null) => void;
  onChanged: (change: DesignSystemChange, what: string) => void;
}) {
  const document = documentOf(system);
  const [regenerating, setRegenerating] = useState(false);
  const [adding, setAdding] = useState(false);
  const selectId = useId();
  return (
    <Section
      title="Design system"
      description={`${document.style.name} · ${document.pattern.name}`}
      actions={
        canEdit ? (
          <div className="flex flex-wrap gap-2">
            <Button variant="secondary" size="sm" onClick={() => setAdding(true)}>
              Add page override
            </Button>
            <Button variant="secondary" size="sm" onClick={() => setRegenerating(true)}>
              Regenerate
            </Button>
          </div>
        ) : undefined
      }
    >
      <div className="space-y-3 text-sm">
        {notice}
        <p className="text-muted-foreground">
          {document.description ? <>“{document.description}” · </> : null}
          Revision {system.revision}, {system.generatedByAi ? "generated" : "edited by hand"}{" "}
          <span title={dateTime(system.updatedAt)}>{relativeTime(system.updatedAt)}</span>.
        </p>
        <div className="flex flex-wrap items-center gap-2">
          <label htmlFor={selectId} className="font-medium">
            Page
          </label>
          <select
            id={selectId}
            value={page ?? ""}
            onChange={(event) => onPage(event.target.value || null)}
            className="h-8 rounded-md border border-border bg-surface px-2 text-sm focus:outline-none focus:ring-2 focus:ring-ring"
          >
            <option value="">Whole app (master)</option>
            {system.pages.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          {page && (
            <span className="text-muted-foreground">
              The {page} page's override merged over the master: {overrideSummary(system.override)}.
            </span>
          )}
        </div>
      </div>
      <RegenerateDialog
        projectId={project.id}
        open={regenerating}
        page={page}
        initial={page ? "" : document.description || project.description || ""}
        onClose={() => setRegenerating(false)}
        onDone={(change) => {
          setRegenerating(false);
          onChanged(change, page ? `The ${page} page's override was generated again.` : "The design system was generated again.");
        }}
      />
      <AddPageDialog
        projectId={project.id}
        open={adding}
        existing={system.pages}
        onClose={() => setAdding(false)}
        onDone={(change) => {
          setAdding(false);
          onChanged(change, `The ${change.designSystem.pageName ?? "page"} override was generated.`);
          onPage(change.designSystem.pageName);
        }}
      />
    </Section>
  );
}

/** The Design tab: the project's design system (palette in both themes with contrast, fonts, tokens, layout and
 * rules), generating and editing it, page overrides and its history. Without the edit permission everything is
 * shown and nothing can be changed. */
export function DesignPanel({ project, access }: PanelProps) {
  const [page, setPage] = useState<string | null>(null);
  const system = useDesignSystem(project.id, page);
  const [last, setLast] = useState<LastChange | null>(null);
  const afterChange = useAfterChange(project.id);
  const changed = (origin: Origin, what: string) => (change: DesignSystemChange) => {
    afterChange(change);
    setLast({ origin, what, change });
  };
  const notice = (origin: Origin) => (last?.origin === origin ? <ChangeNotice projectId={project.id} change={last.change} what={last.what} /> : null);
  // Edits change the master; on a page they would not show where they are made.
  const canEditMaster = access.edit && page === null;
  let body: ReactNode;
  if (system.isLoading) {
    body = (
      <div className="space-y-6" aria-busy="true">
        <Skeleton className="h-28 w-full" />
        <Skeleton className="h-64 w-full" />
      </div>
    );
  } else if (system.error) {
    body = (
      <Section title="Design system">
        <FormError message={errorText(system.error)} />
        <Button variant="secondary" size="sm" className="mt-3" onClick={() => void system.refetch()}>
          Try again
        </Button>
      </Section>
    );
  } else if (!system.data) {
    body = <Intro project={project} canEdit={access.edit} onGenerated={changed("system", "The design system was generated.")} />;
  } else {
    const document = documentOf(system.data);
    body = (
      <>
        <Overview
          system={system.data}
          project={project}
          page={page}
          canEdit={access.edit}
          notice={notice("system")}
          onPage={setPage}
          onChanged={(change, what) => changed("system", what)(change)}
        />
        <Palette projectId={project.id} document={document} canEdit={canEditMaster} notice={notice("colours")} onSaved={changed("colours", "Colours saved.")} />
        <Typography projectId={project.id} document={document} canEdit={canEditMaster} notice={notice("fonts")} onSaved={changed("fonts", "Fonts saved.")} />
        <Scales document={document} />
        <Guidance
          projectId={project.id}
          document={document}
          override={system.data.override}
          page={page}
          canEdit={canEditMaster}
          notice={notice("rules")}
          onSaved={changed("rules", "Anti-patterns saved.")}
        />
        <History
          projectId={project.id}
          page={page}
          canEdit={access.edit}
          notice={notice("history")}
          onRestored={(change) => changed("history", "The revision was restored.")(change)}
        />
      </>
    );
  }
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-4xl space-y-6 p-4">{body}</div>
    </div>
  );
}
