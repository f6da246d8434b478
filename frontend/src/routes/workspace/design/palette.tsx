import { useMutation } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, errorText, unwrap } from "@/api/client";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { contrastRatio, formatRatio, normalizeHex } from "./contrast";
import { COLOR_ORDER, MODES, ordered, SEED_KEYS, tokenLabel, type ContrastPair, type DesignDocument, type DesignSystemChange, type Mode, type SectionProps, type SeedKey } from "./data";
import { PassBadge } from "./notice";

const MODE_LABELS: Record<Mode, string> = { light: "Light", dark: "Dark" };

function Swatch({ token, color }: { token: string; color: string }) {
  return (
    <li className="flex min-w-0 items-center gap-2">
      <span aria-hidden="true" className="h-7 w-7 shrink-0 rounded border border-border" style={{ backgroundColor: color }} />
      <span className="min-w-0 leading-tight">
        <span className="block truncate text-xs">{tokenLabel(token)}</span>
        <code className="font-mono text-xs text-muted-foreground">{color}</code>
      </span>
    </li>
  );
}

/** A pair drawn as it is used: text pairs as text on the background, UI pairs as a line on it. */
function PairSample({ pair }: { pair: Pick<ContrastPair, "kind" | "foregroundColor" | "backgroundColor"> }) {
  return (
    <span
      aria-hidden="true"
      className="flex h-6 w-9 shrink-0 items-center justify-center rounded border border-border"
      style={{ backgroundColor: pair.backgroundColor }}
    >
      {pair.kind === "text" ? (
        <svg viewBox="0 0 20 12" className="h-3 w-5">
          <text x="10" y="10" textAnchor="middle" fontSize="11" fontWeight="600" fill={pair.foregroundColor}>
            Aa
          </text>
        </svg>
      ) : (
        <span className="h-1 w-5 rounded-full" style={{ backgroundColor: pair.foregroundColor }} />
      )}
    </span>
  );
}

function PairRow({ pair }: { pair: ContrastPair }) {
  return (
    <tr className="border-t border-border">
      <td className="py-1 pr-2">
        <PairSample pair={pair} />
      </td>
      <td className="py-1 pr-2 text-xs">
        {tokenLabel(pair.foreground)} on {tokenLabel(pair.background)}
        <span className="text-muted-foreground"> · {pair.kind === "text" ? "text" : "UI"}</span>
      </td>
      <td className="py-1 pr-2 text-right font-mono text-xs tabular-nums">{formatRatio(pair.ratio)}</td>
      <td className="py-1 text-right">
        <PassBadge passes={pair.passes} label={pair.passes ? (pair.aaa ? "AAA" : "AA") : undefined} />
      </td>
    </tr>
  );
}

function ModeColumn({ document, mode }: { document: DesignDocument; mode: Mode }) {
  const colors = document.tokens[mode];
  const pairs = document.contrast.pairs.filter((pair) => pair.mode === mode);
  const failing = pairs.filter((pair) => !pair.passes).length;
  const headingId = useId();
  return (
    <section aria-labelledby={headingId} className="min-w-0 rounded-md border border-border p-3">
      <h3 id={headingId} className="flex items-center gap-2 text-sm font-semibold">
        {MODE_LABELS[mode]}
        <span className="text-xs font-normal text-muted-foreground">
          {failing === 0 ? `all ${pairs.length} pairs pass AA` : `${failing} of ${pairs.length} pairs fail AA`}
        </span>
      </h3>
      <ul aria-label={`${MODE_LABELS[mode]} colours`} className="mt-2 grid grid-cols-2 gap-x-2 gap-y-1.5">
        {ordered(colors, COLOR_ORDER).map(([token, color]) => (
          <Swatch key={token} token={token} color={color} />
        ))}
      </ul>
      <details className="mt-3" open>
        <summary className="cursor-pointer text-sm font-medium">Contrast of each pair</summary>
        <table className="mt-1 w-full">
          <caption className="sr-only">{MODE_LABELS[mode]} contrast pairs (WCAG 2.2)</caption>
          <thead className="sr-only">
            <tr>
              <th scope="col">Sample</th>
              <th scope="col">Pair</th>
              <th scope="col">Ratio</th>
              <th scope="col">AA</th>
            </tr>
          </thead>
          <tbody>
            {pairs.map((pair) => (
              <PairRow key={`${pair.foreground}-${pair.background}`} pair={pair} />
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}

interface LiveCheck {
  mode: Mode;
  key: string;
  foreground: string;
  background: string;
  foregroundColor: string;
  backgroundColor: string;
  kind: "text" | "ui";
  ratio: number;
  minimum: number;
}

// The brand colours are used as they are in both themes; the background and text seeds set the light theme,
// and the dark theme derives its own from them.
const SEED_MODES: Record<SeedKey, Mode[]> = { primary: MODES, secondary: MODES, accent: MODES, background: ["light"], text: ["light"] };

/** How a seed colour would fare on save: each pair it takes part in, with the colour put in its place. The
 * colour's own "on …" text colour is chosen again on save, so those pairs are left out. */
function liveChecks(document: DesignDocument, key: SeedKey, value: string): LiveCheck[] {
  return document.contrast.pairs
    .filter((pair) => SEED_MODES[key].includes(pair.mode) && !document.colorOverrides[pair.mode]?.[key])
    .filter((pair) => (pair.foreground === key && pair.background !== `${key}Foreground`) || (pair.background === key && pair.foreground !== `${key}Foreground`))
    .map((pair) => {
      const foregroundColor = pair.foreground === key ? value : pair.foregroundColor;
      const backgroundColor = pair.background === key ? value : pair.backgroundColor;
      return { ...pair, key, foregroundColor, backgroundColor, ratio: contrastRatio(foregroundColor, backgroundColor) };
    });
}

function ColorField({ name, value, saved, onChange }: { name: SeedKey; value: string; saved: string; onChange: (value: string) => void }) {
  const id = useId();
  const valid = normalizeHex(value);
  return (
    <div className="flex items-end gap-2">
      <div className="w-24 shrink-0 pb-2 text-sm font-medium" id={`${id}-label`}>
        {tokenLabel(name)}
      </div>
      <input
        type="color"
        aria-label={`${tokenLabel(name)} colour picker`}
        value={(valid ?? saved).toLowerCase()}
        onChange={(event) => onChange(event.target.value.toUpperCase())}
        className="h-9 w-11 shrink-0 cursor-pointer rounded border border-border bg-surface p-0.5"
      />
      <div className="min-w-0">
        <label htmlFor={id} className="sr-only">
          {tokenLabel(name)} hex
        </label>
        <input
          id={id}
          value={value}
          onChange={(event) => onChange(event.target.value)}
          spellCheck={false}
          aria-invalid={valid ? undefined : true}
          aria-describedby={valid ? undefined : `${id}-error`}
          className="h-9 w-28 rounded-md border border-border bg-surface px-2 font-mono text-sm focus:outline-none focus:ring-2 focus:ring-ring aria-[invalid=true]:border-danger"
        />
      </div>
      {!valid && (
        <span id={`${id}-error`} className="pb-2 text-xs text-danger">
          Use #RRGGBB
        </span>
      )}
    </div>
  );
}

function ColorEditor({
  projectId,
  document,
  onSaved,
  onClose,
}: {
  projectId: string;
  document: DesignDocument;
  onSaved: (change: DesignSystemChange) => void;
  onClose: () => void;
}) {
  const [draft, setDraft] = useState<Record<SeedKey, string>>(() => Object.fromEntries(SEED_KEYS.map((key) => [key, document.palette[key]])) as Record<SeedKey, string>);
  const changed = SEED_KEYS.filter((key) => normalizeHex(draft[key]) !== document.palette[key]);
  const invalid = SEED_KEYS.some((key) => normalizeHex(draft[key]) === null);
  const checks = changed.flatMap((key) => {
    const value = normalizeHex(draft[key]);
    return value ? liveChecks(document, key, value) : [];
  });
  const failing = checks.filter((check) => check.ratio < check.minimum);
  const save = useMutation({
    mutationFn: () => {
      const palette = Object.fromEntries(changed.map((key) => [key, normalizeHex(draft[key])!]));
      return unwrap(api.PATCH("/api/projects/{id}/design-system", { params: { path: { id: projectId } }, body: { palette } }));
    },
    onSuccess: onSaved,
  });
  return (
    <form
      aria-label="Edit colours"
      className="space-y-3 rounded-md border border-border bg-muted/40 p-3"
      onSubmit={(event) => {
        event.preventDefault();
        if (changed.length > 0 && !invalid) save.mutate();
      }}
    >
      <p className="text-sm text-muted-foreground">
        The five colours the system is built from. Every colour is checked on save: one that fails a pair is moved in lightness until it passes AA.
      </p>
      <div className="space-y-2">
        {SEED_KEYS.map((key) => (
          <ColorField key={key} name={key} value={draft[key]} saved={document.palette[key]} onChange={(value) => setDraft((d) => ({ ...d, [key]: value }))} />
        ))}
      </div>
      <div role="status" aria-live="polite" aria-label="Live contrast" className="text-sm">
        {changed.length === 0 ? (
          <p className="text-muted-foreground">Change a colour to see its contrast here before saving.</p>
        ) : checks.length > 0 ? (
          <>
            <p className={failing.length > 0 ? "font-medium text-danger" : "font-medium text-success"}>
              {failing.length > 0
                ? `${failing.length} of ${checks.length} pairs fail AA: saving moves the colour until they pass.`
                : `All ${checks.length} pairs pass AA.`}
            </p>
            <ul className="mt-1 space-y-0.5" aria-label="Contrast of the changed colours">
              {checks.map((check) => (
                <li key={`${check.mode}-${check.foreground}-${check.background}`} className="flex items-center gap-2 text-xs">
                  <PairSample pair={check} />
                  <span className="min-w-0 flex-1">
                    {MODE_LABELS[check.mode]}: {tokenLabel(check.foreground)} on {tokenLabel(check.background)}
                  </span>
                  <span className="font-mono tabular-nums">{formatRatio(check.ratio)}</span>
                  <span className="text-muted-foreground">needs {check.minimum}:1</span>
                  <PassBadge passes={check.ratio >= check.minimum} />
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </div>
      <FormError message={save.error ? errorText(save.error) : null} />
      <div className="flex gap-2">
        <Button type="submit" size="sm" busy={save.isPending} disabled={changed.length === 0 || invalid}>
          Save colours
        </Button>
        <Button variant="secondary" size="sm" onClick={onClose}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

/** The colour tokens of both themes side by side, each pair's contrast, and (for editors) the seed colours. */
export function Palette({
  projectId,
  document,
  canEdit,
  notice,
  onSaved,
}: SectionProps) {
  const [editing, setEditing] = useState(false);
  return (
    <Section
      title="Colours"
      description={document.contrast.allPass ? "Every text and UI pair passes WCAG 2.2 AA in both themes." : "Some pairs fail WCAG 2.2 AA."}
      actions={
        canEdit && !editing ? (
          <Button variant="secondary" size="sm" onClick={() => setEditing(true)}>
            Edit colours
          </Button>
        ) : undefined
      }
    >
      <div className="space-y-3">
        {notice}
        {editing && (
          <ColorEditor
            projectId={projectId}
            document={document}
            onClose={() => setEditing(false)}
            onSaved={(change) => {
              setEditing(false);
              onSaved(change);
            }}
          />
        )}
        <div className="grid gap-3 lg:grid-cols-2">
          {MODES.map((mode) => (
            <ModeColumn key={mode} document={document} mode={mode} />
          ))}
        </div>
        {document.palette.notes && <p className="text-xs text-muted-foreground">{document.palette.notes}</p>}
      </div>
    </Section>
  );
}
