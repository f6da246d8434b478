import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, errorText, fieldError, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError, TextField } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { ordered, SIZE_ORDER, type DesignDocument, type DesignSystemChange, type Face, type SectionProps } from "./data";

const FAMILY = /^[A-Za-z0-9][A-Za-z0-9 ]{0,63}$/;

/** The stack the browser renders with: the family first (it shows only where it is installed: the web font
 * itself is not loaded here), then the fallbacks it was chosen with. */
function stackWith(family: string | null, face: Face): string {
  const names = family ? [family, ...face.fallback] : face.fallback;
  return names.map((name) => (name.includes(" ") ? `"${name}"` : name)).join(", ");
}

function FaceSample({ role, face, family, sample, size }: { role: string; face: Face; family: string | null; sample: string; size: string }) {
  return (
    <div className="grid gap-1 border-t border-border py-3 first:border-t-0 first:pt-0 sm:grid-cols-[9rem_1fr]">
      <div className="text-sm">
        <div className="font-medium">{role}</div>
        <div className="text-xs text-muted-foreground">
          {family ?? "System monospace"} · {face.weights.regular}/{face.weights.bold}
        </div>
      </div>
      <div className="min-w-0">
        <p style={{ fontFamily: stackWith(family, face), fontSize: size, fontWeight: face.weights.bold, lineHeight: 1.25 }} className="break-words">
          {sample}
        </p>
        <p style={{ fontFamily: stackWith(family, face), fontWeight: face.weights.regular }} className="mt-0.5 break-words text-sm">
          The quick brown fox jumps over the lazy dog — 0123456789
        </p>
        <code className="mt-1 block break-words font-mono text-xs text-muted-foreground">{stackWith(family, face)}</code>
      </div>
    </div>
  );
}

function FontEditor({ projectId, document, onSaved, onClose }: { projectId: string; document: DesignDocument; onSaved: (change: DesignSystemChange) => void; onClose: () => void }) {
  const typography = document.typography;
  const [heading, setHeading] = useState(typography.heading.family);
  const [body, setBody] = useState(typography.body.family);
  const [mono, setMono] = useState(typography.mono.family ?? "");
  const problem = (value: string, optional = false) =>
    optional && value.trim() === "" ? undefined : FAMILY.test(value.trim()) ? undefined : "Letters, digits and spaces, as the font is named";
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PATCH("/api/projects/{id}/design-system", {
          params: { path: { id: projectId } },
          body: { typography: { heading: heading.trim(), body: body.trim(), mono: mono.trim() || null } },
        }),
      ),
    onSuccess: onSaved,
  });
  const invalid = Boolean(problem(heading) || problem(body) || problem(mono, true));
  return (
    <form
      aria-label="Edit fonts"
      className="mb-4 space-y-3 rounded-md border border-border bg-muted/40 p-3"
      onSubmit={(event) => {
        event.preventDefault();
        if (!invalid) save.mutate();
      }}
    >
      <div className="grid gap-3 sm:grid-cols-3">
        <TextField label="Heading font" value={heading} onChange={(e) => setHeading(e.target.value)} error={problem(heading) ?? fieldError(save.error, "typography")} />
        <TextField label="Body font" value={body} onChange={(e) => setBody(e.target.value)} error={problem(body)} />
        <TextField label="Mono font" value={mono} onChange={(e) => setMono(e.target.value)} error={problem(mono, true)} hint="Empty: the system's" />
      </div>
      <div className="rounded-md border border-border bg-surface p-3" aria-label="Preview of the fonts" role="group">
        <FaceSample role="Heading" face={typography.heading} family={heading.trim() || null} sample="Design that reads well" size="1.25rem" />
        <FaceSample role="Body" face={typography.body} family={body.trim() || null} sample="Body copy for every page" size="1rem" />
      </div>
      <FormError message={save.error ? errorText(save.error) : null} />
      <div className="flex gap-2">
        <Button type="submit" size="sm" busy={save.isPending} disabled={invalid}>
          Save fonts
        </Button>
        <Button variant="secondary" size="sm" onClick={onClose}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

/** Heading, body and mono rendered with their stacks, and the type scale. */
export function Typography({
  projectId,
  document,
  canEdit,
  notice,
  onSaved,
}: SectionProps) {
  const [editing, setEditing] = useState(false);
  const typography = document.typography;
  const steps = ordered(typography.scale.steps, SIZE_ORDER);
  return (
    <Section
      title="Typography"
      description={typography.mood}
      actions={
        canEdit && !editing ? (
          <Button variant="secondary" size="sm" onClick={() => setEditing(true)}>
            Edit fonts
          </Button>
        ) : undefined
      }
    >
      {notice && <div className="mb-3">{notice}</div>}
      {editing && (
        <FontEditor
          projectId={projectId}
          document={document}
          onClose={() => setEditing(false)}
          onSaved={(change) => {
            setEditing(false);
            onSaved(change);
          }}
        />
      )}
      <div>
        <FaceSample role="Heading" face={typography.heading} family={typography.heading.family} sample="Design that reads well" size="1.5rem" />
        <FaceSample role="Body" face={typography.body} family={typography.body.family} sample="Body copy for every page" size="1rem" />
        <FaceSample role="Mono" face={typography.mono} family={typography.mono.family} sample="const total = 42;" size="0.95rem" />
      </div>
      <p className="mt-3 border-t border-border pt-3 text-xs text-muted-foreground">
        Shown here with the fonts installed on this device, else with their fallback stacks.
        {typography.googleFontsUrl ? (
          <>
            {" "}The app can load the web fonts from <code className="break-all font-mono">{typography.googleFontsUrl}</code>
          </>
        ) : (
          " The app uses system fonts only."
        )}
      </p>
      <div className="mt-3 border-t border-border pt-3">
        <h3 className="text-sm font-medium">
          Type scale <span className="font-normal text-muted-foreground">· ratio {typography.scale.ratio}, base {typography.scale.basePx}px</span>
        </h3>
        <ul aria-label="Type scale" className="mt-2 flex flex-wrap items-baseline gap-x-4 gap-y-1">
          {steps.map(([name, step]) => (
            <li key={name} className="flex items-baseline gap-1">
              <span style={{ fontFamily: typography.heading.stack, fontSize: step.size, lineHeight: 1 }}>Aa</span>
              <span className="text-xs text-muted-foreground">
                {name} {step.size}
              </span>
            </li>
          ))}
        </ul>
      </div>
    </Section>
  );
}
