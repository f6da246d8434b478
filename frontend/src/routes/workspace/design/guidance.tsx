import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError, TextAreaField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import type { DesignSystemChange, SectionProps } from "./data";

const MAX_ITEMS = 30;
const MAX_CHARS = 200;

/** Marks what the shown page's override changes in the master. */
function PageMark({ page }: { page: string | null }) {
  if (!page) return null;
  return <span className="ml-2 rounded-full bg-primary/10 px-2 py-0.5 text-xs font-normal text-primary">overridden by {page}</span>;
}

function AntiPatternEditor({ projectId, items, onSaved, onClose }: { projectId: string; items: string[]; onSaved: (change: DesignSystemChange) => void; onClose: () => void }) {
  const [text, setText] = useState(items.join("\n"));
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const problem =
    lines.length > MAX_ITEMS ? `At most ${MAX_ITEMS} anti-patterns.` : lines.some((line) => line.length > MAX_CHARS) ? `Each one at most ${MAX_CHARS} characters.` : undefined;
  const save = useMutation({
    mutationFn: () => unwrap(api.PATCH("/api/projects/{id}/design-system", { params: { path: { id: projectId } }, body: { antiPatterns: lines } })),
    onSuccess: onSaved,
  });
  return (
    <form
      aria-label="Edit anti-patterns"
      className="mt-2 space-y-2"
      onSubmit={(event) => {
        event.preventDefault();
        if (!problem) save.mutate();
      }}
    >
      <TextAreaField label="Anti-patterns, one a line" rows={Math.min(12, Math.max(4, lines.length + 1))} value={text} onChange={(e) => setText(e.target.value)} error={problem} />
      <FormError message={save.error ? errorText(save.error) : null} />
      <div className="flex gap-2">
        <Button type="submit" size="sm" busy={save.isPending} disabled={Boolean(problem)}>
          Save anti-patterns
        </Button>
        <Button variant="secondary" size="sm" onClick={onClose}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

/** The pattern's sections, the anti-patterns and the checklist; on a page, what its override changes is marked. */
export function Guidance({
  projectId,
  document,
  override,
  page,
  canEdit,
  notice,
  onSaved,
}: SectionProps & { override: Record<string, unknown> | null; page: string | null }) {
  const [editing, setEditing] = useState(false);
  const overrides = (key: string) => (override && key in override ? page : null);
  const patternOverride = (override?.pattern ?? {}) as Record<string, unknown>;
  const { pattern } = document;
  return (
    <Section title="Layout and rules" description={`${document.style.name} · ${document.category}`}>
      <div className="grid gap-5 md:grid-cols-2">
        <div className="min-w-0">
          <h3 className="text-sm font-medium">
            Pattern: {pattern.name}
            <PageMark page={override && "sections" in patternOverride ? page : null} />
          </h3>
          <ol aria-label="Sections" className="mt-1.5 list-decimal space-y-0.5 pl-5 text-sm">
            {pattern.sections.map((section) => (
              <li key={section}>{section}</li>
            ))}
          </ol>
          <dl className="mt-2 space-y-1 text-xs">
            {(
              [
                ["ctaPlacement", "Call to action"],
                ["colorStrategy", "Colour strategy"],
                ["conversion", "Conversion"],
              ] as const
            ).map(([key, label]) =>
              pattern[key] ? (
                <div key={key}>
                  <dt className="inline font-medium">{label}: </dt>
                  <dd className="inline text-muted-foreground">{pattern[key]}</dd>
                  <PageMark page={override && key in patternOverride ? page : null} />
                </div>
              ) : null,
            )}
          </dl>
          {document.effects.length > 0 && (
            <>
              <h3 className="mt-3 text-sm font-medium">
                Effects
                <PageMark page={overrides("effects")} />
              </h3>
              <ul aria-label="Effects" className="mt-1 list-disc space-y-0.5 pl-5 text-sm">
                {document.effects.map((effect) => (
                  <li key={effect}>{effect}</li>
                ))}
              </ul>
            </>
          )}
        </div>
        <div className="min-w-0 space-y-3">
          <div>
            <div className="flex items-center gap-2">
              <h3 className="text-sm font-medium">
                Anti-patterns
                <PageMark page={overrides("antiPatterns")} />
              </h3>
              {canEdit && !editing && (
                <Button variant="ghost" size="sm" className="ml-auto h-7" onClick={() => setEditing(true)}>
                  Edit<span className="sr-only"> anti-patterns</span>
                </Button>
              )}
            </div>
            {notice && <div className="mt-2">{notice}</div>}
            {editing ? (
              <AntiPatternEditor
                projectId={projectId}
                items={document.antiPatterns}
                onClose={() => setEditing(false)}
                onSaved={(change) => {
                  setEditing(false);
                  onSaved(change);
                }}
              />
            ) : document.antiPatterns.length > 0 ? (
              <ul aria-label="Anti-patterns" className="mt-1 list-disc space-y-0.5 pl-5 text-sm">
                {document.antiPatterns.map((item) => (
                  <li key={item}>{item}</li>
                ))}
              </ul>
            ) : (
              <p className="mt-1 text-sm text-muted-foreground">None listed.</p>
            )}
          </div>
          <div>
            <h3 className="text-sm font-medium">
              Checklist
              <PageMark page={overrides("checklist")} />
            </h3>
            <ul aria-label="Checklist" className="mt-1 space-y-0.5 text-sm">
              {document.checklist.map((item) => (
                <li key={item} className="flex gap-2">
                  <span aria-hidden="true" className="text-muted-foreground">
                    ☐
                  </span>
                  {item}
                </li>
              ))}
            </ul>
          </div>
        </div>
      </div>
    </Section>
  );
}
