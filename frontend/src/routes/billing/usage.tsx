import { Section } from "@/components/ui/page";
import { cn } from "@/lib/cn";
import type { Subscription } from "./data";

type Counted = "projects" | "members" | "deployments" | "aiTokens";

const RESOURCES: { key: Counted; label: string; hint?: string }[] = [
  { key: "projects", label: "Projects" },
  { key: "members", label: "Members", hint: "Pending invitations count too." },
  { key: "deployments", label: "Deployed apps" },
  { key: "aiTokens", label: "AI tokens this month", hint: "On the platform's AI keys; your own keys do not count." },
];

// From this share of a limit on, the bar warns.
const NEAR = 0.8;
const count = new Intl.NumberFormat();

function UsageRow({ label, hint, used, limit }: { label: string; hint?: string; used: number; limit: number | null }) {
  const share = limit === null ? 0 : limit === 0 ? 1 : used / limit;
  const level = limit === null ? "fine" : share >= 1 ? "full" : share >= NEAR ? "near" : "fine";
  const amount = limit === null ? `${count.format(used)} · Unlimited` : `${count.format(used)} / ${count.format(limit)}`;
  return (
    <li className="space-y-1.5 py-3">
      <div className="flex flex-wrap items-baseline gap-x-3">
        <span className="mr-auto font-medium">{label}</span>
        <span className={cn("text-sm tabular-nums", level === "full" ? "font-medium text-danger" : level === "near" ? "font-medium text-warning" : "text-muted-foreground")}>
          {amount}
        </span>
      </div>
      {limit !== null && (
        <div
          role="progressbar"
          aria-label={label}
          aria-valuemin={0}
          aria-valuemax={limit}
          aria-valuenow={Math.min(used, limit)}
          aria-valuetext={`${count.format(used)} of ${count.format(limit)} used`}
          className="h-2 overflow-hidden rounded-full bg-muted"
        >
          <div
            className={cn("h-full rounded-full", level === "full" ? "bg-danger" : level === "near" ? "bg-warning" : "bg-primary")}
            style={{ width: `${Math.min(share, 1) * 100}%` }}
          />
        </div>
      )}
      {(level !== "fine" || hint) && (
        <p className="text-xs text-muted-foreground">
          {level === "full" ? (limit === 0 ? "Not included in this plan. " : "Limit reached: upgrade for more. ") : level === "near" ? "Almost at the limit. " : ""}
          {hint}
        </p>
      )}
    </li>
  );
}

/** Each limited resource against the plan's limit (unlimited ones say so). */
export function Usage({ subscription }: { subscription: Subscription }) {
  const { limits, usage } = subscription;
  return (
    <Section title="Usage" description="What this organization uses against its plan's limits.">
      <ul className="divide-y divide-border" aria-label="Usage">
        {RESOURCES.map(({ key, label, hint }) => (
          <UsageRow key={key} label={label} hint={hint} used={usage[key]} limit={limits[key]} />
        ))}
        <li className="flex flex-wrap items-baseline gap-x-3 py-3">
          <span className="mr-auto font-medium">Custom domains</span>
          <span className="text-sm text-muted-foreground">
            {limits.customDomains ? `Included · ${count.format(usage.customDomains)} in use` : "Not included in this plan"}
          </span>
        </li>
      </ul>
    </Section>
  );
}
