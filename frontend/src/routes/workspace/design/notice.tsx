import { Link } from "react-router";
import { cn } from "@/lib/cn";
import { contrastRatio, formatRatio } from "./contrast";
import { documentOf, tokenLabel, type Adjustment, type DesignSystemChange } from "./data";

export function PassBadge({ passes, label }: { passes: boolean; label?: string }) {
  return (
    <span
      className={cn(
        "inline-flex shrink-0 items-center rounded-full px-1.5 py-px text-xs font-medium",
        passes ? "border border-success/50 text-success" : "bg-danger/10 text-danger",
      )}
    >
      {label ?? (passes ? "AA" : "Fails AA")}
    </span>
  );
}

const link = "font-medium text-primary underline underline-offset-2 hover:no-underline";

/** "Accent (light) was moved from #FFE066 to #8A7000: 1.27:1 → 3.05:1 on Background": the ratio before and
 * after on the background where it failed worst, read from the saved document's contrast report. */
export function adjustmentText(adjustment: Adjustment, change: DesignSystemChange): string {
  const pairs = documentOf(change.designSystem).contrast.pairs.filter((p) => p.mode === adjustment.mode && p.foreground === adjustment.token);
  const lead = `${tokenLabel(adjustment.token)} (${adjustment.mode}) was moved from ${adjustment.from} to ${adjustment.to}`;
  if (pairs.length === 0) return `${lead}: ${adjustment.reason}.`;
  const worst = pairs.reduce((a, b) => (contrastRatio(adjustment.from, a.backgroundColor) <= contrastRatio(adjustment.from, b.backgroundColor) ? a : b));
  const before = contrastRatio(adjustment.from, worst.backgroundColor);
  return `${lead}: ${formatRatio(before)} → ${formatRatio(worst.ratio)} on ${tokenLabel(worst.background)}.`;
}

/** What a change did: the version it was saved as (with the way to the Versions tab) and any colour the API
 * moved for contrast. */
export function ChangeNotice({ projectId, change, what }: { projectId: string; change: DesignSystemChange; what: string }) {
  const adjusted = change.adjustments.length > 0;
  return (
    <div
      role="status"
      className={cn("rounded-md border px-3 py-2 text-sm", adjusted ? "border-warning/50 bg-warning/10" : "border-success/40 bg-success/10")}
      data-testid="design-change"
    >
      <p>
        {what} Saved as version {change.versionNumber} —{" "}
        <Link to={`/projects/${projectId}/versions`} className={link}>
          see Versions
        </Link>
        .
      </p>
      {adjusted && (
        <>
          <p className="mt-1 font-medium">Adjusted for contrast (WCAG AA):</p>
          <ul className="mt-0.5 list-disc space-y-0.5 pl-5" aria-label="Contrast adjustments">
            {change.adjustments.map((adjustment) => (
              <li key={`${adjustment.mode}-${adjustment.token}`}>{adjustmentText(adjustment, change)}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
