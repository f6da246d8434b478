// /admin/overview: the platform at a glance for administrators and co-admins. Totals, the health of the queues
// and jobs (trouble stands out and leads to System logs), and day-by-day charts of a period kept in the
// address (?days=7|30|90|365), all from one call: GET /api/admin/analytics.

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, useSearchParams } from "react-router";
import { api, errorText, unwrap } from "@/api/client";
import type { paths } from "@/api/schema";
import { Button } from "@/components/ui/button";
import { FormError } from "@/components/ui/field";
import { Section } from "@/components/ui/page";
import { Skeleton, Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { money, TIER_NAMES, usePlans, type Tier } from "../billing/data";
import { BAD_COLOR, BarList, chartColor, DayChart, GOOD_COLOR, REST_COLOR, type ChartSeries } from "./charts";

const LOAD_FAILED = "The numbers could not be loaded.";

type Analytics = paths["/api/admin/analytics"]["get"]["responses"][200]["content"]["application/json"]["analytics"];
type Health = Analytics["health"];

const PERIODS = [7, 30, 90, 365] as const;
type Period = (typeof PERIODS)[number];
const DEFAULT_PERIOD: Period = 30;
// Models beyond this many (by tokens in the period) are drawn together as "Other models".
const TOP_MODELS = 5;

const count = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

function periodOf(params: URLSearchParams): Period {
  const asked = Number(params.get("days"));
  return PERIODS.find((period) => period === asked) ?? DEFAULT_PERIOD;
}

/** The last `days` UTC days, today included (the API counts UTC days). */
function rangeOf(days: Period): { from: string; to: string } {
  const today = new Date();
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (days - 1)));
  return { from: from.toISOString().slice(0, 10), to: today.toISOString().slice(0, 10) };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

// ------------------------------------------------------------------------------------------- totals

interface Stat {
  label: string;
  value: string;
  note?: string;
}

function statsOf(analytics: Analytics, days: number): Stat[] {
  const { totals, series } = analytics;
  const succeeded = sum(series.deployments.map((d) => d.succeeded));
  const failed = sum(series.deployments.map((d) => d.failed));
  const period = `last ${days} days`;
  return [
    { label: "Users", value: count.format(totals.users), note: `${count.format(totals.verifiedUsers)} verified` },
    { label: "Organizations", value: count.format(totals.organizations) },
    {
      label: "Projects",
      value: count.format(totals.projects),
      note: `${count.format(totals.activeProjects7d)} active in 7 days, ${count.format(totals.activeProjects30d)} in 30`,
    },
    { label: "Live deployments", value: count.format(totals.liveDeployments), note: "Deployed and not stopped" },
    { label: "Sign-ups", value: count.format(sum(series.signups.map((d) => d.count))), note: period },
    { label: "Messages", value: count.format(sum(series.messages.map((d) => d.count))), note: period },
    { label: "AI tokens", value: compact.format(sum(series.aiTokens.map((d) => d.tokens))), note: period },
    { label: "Deployments", value: count.format(succeeded + failed), note: `${count.format(failed)} failed, ${period}` },
  ];
}

function Totals({ stats }: { stats: Stat[] }) {
  return (
    <section aria-labelledby="overview-totals">
      <h2 id="overview-totals" className="sr-only">
        Totals
      </h2>
      <ul aria-label="Totals" className="grid grid-cols-2 gap-3 lg:grid-cols-4">
        {stats.map((stat) => {
          const id = `stat-${stat.label.toLowerCase().replace(/\W+/g, "-")}`;
          return (
            <li key={stat.label} aria-labelledby={id} className="rounded-lg border border-border bg-surface px-4 py-3">
              <p id={id} className="text-sm text-muted-foreground">
                {stat.label}
              </p>
              <p className="mt-1 text-2xl font-semibold tabular-nums">{stat.value}</p>
              {stat.note && <p className="mt-0.5 truncate text-xs text-muted-foreground">{stat.note}</p>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

// ------------------------------------------------------------------------------------------- health

const QUEUE_NAMES: Record<string, string> = {
  "generation-jobs": "AI generation queue",
  "gitea-mirror": "Git mirror queue",
  "project-cleanup": "Project clean-up queue",
  "preview-builds": "Preview build queue",
  imports: "Import queue",
};

type Level = "fine" | "warning" | "trouble";

interface Check {
  key: string;
  label: string;
  level: Level;
  text: string;
  to?: string;
}

function checksOf(health: Health): Check[] {
  const queues: Check[] = health.queues.map((queue) => {
    const label = QUEUE_NAMES[queue.name] ?? queue.name;
    if (queue.depth === null) return { key: queue.name, label, level: "warning", text: "Could not be read" };
    const waiting = `${count.format(queue.depth)} waiting`;
    if (queue.dlqDepth !== null && queue.dlqDepth > 0) {
      return { key: queue.name, label, level: "trouble", text: `${count.format(queue.dlqDepth)} in the dead-letter queue · ${waiting}` };
    }
    return { key: queue.name, label, level: "fine", text: waiting };
  });
  return [
    ...queues,
    {
      key: "stuck",
      label: "Stuck AI jobs",
      level: health.stuckJobs > 0 ? "warning" : "fine",
      text: health.stuckJobs > 0 ? `${count.format(health.stuckJobs)} past their lease or never claimed` : "None",
    },
    {
      key: "failed-jobs",
      label: "Failed AI jobs, last 24 hours",
      level: health.failedJobs24h > 0 ? "trouble" : "fine",
      text: health.failedJobs24h > 0 ? count.format(health.failedJobs24h) : "None",
      to: "/admin/logs?tab=jobs",
    },
    {
      key: "failed-deployments",
      label: "Failed deployments, last 24 hours",
      level: health.failedDeployments24h > 0 ? "trouble" : "fine",
      text: health.failedDeployments24h > 0 ? count.format(health.failedDeployments24h) : "None",
      to: "/admin/logs?tab=deployments",
    },
  ];
}

const LEVEL_STYLE: Record<Level, { mark: string; word: string; tone: string; row: string }> = {
  fine: { mark: "✓", word: "OK", tone: "bg-success text-primary-foreground dark:text-background", row: "" },
  warning: { mark: "!", word: "Warning", tone: "bg-warning text-primary-foreground dark:text-background", row: "" },
  trouble: { mark: "✕", word: "Problem", tone: "bg-danger text-danger-foreground", row: "bg-danger/10" },
};

function HealthPanel({ health }: { health: Health }) {
  const checks = checksOf(health);
  const problems = checks.filter((check) => check.level !== "fine").length;
  return (
    <Section
      title="Platform health"
      description="Right now, whatever the period."
      actions={
        <Link to="/admin/logs" className="text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
          System logs
        </Link>
      }
    >
      <p className={cn("mb-3 text-sm font-medium", problems > 0 ? "text-danger" : "text-success")}>
        {problems === 0 ? "Everything looks fine." : problems === 1 ? "1 thing needs a look." : `${problems} things need a look.`}
      </p>
      <ul aria-label="Health checks" className="grid gap-1 sm:grid-cols-2">
        {checks.map((check) => {
          const style = LEVEL_STYLE[check.level];
          return (
            <li key={check.key} className={cn("flex items-start gap-3 rounded-md px-2 py-1.5", style.row)}>
              <span className={cn("mt-0.5 flex h-5 w-5 shrink-0 items-center justify-center rounded-full text-xs font-bold", style.tone)} aria-hidden="true">
                {style.mark}
              </span>
              <span className="min-w-0 flex-1 text-sm">
                <span className="block font-medium">
                  {check.label}
                  <span className="sr-only"> ({style.word})</span>
                </span>
                <span className={cn("block", check.level === "trouble" ? "font-medium text-danger" : check.level === "warning" ? "font-medium text-warning" : "text-muted-foreground")}>
                  {check.text}
                </span>
              </span>
              {check.to && check.level !== "fine" && (
                <Link to={check.to} className="shrink-0 text-sm font-medium text-primary underline underline-offset-2 hover:no-underline">
                  See them<span className="sr-only"> ({check.label.toLowerCase()})</span>
                </Link>
              )}
            </li>
          );
        })}
      </ul>
    </Section>
  );
}

// ------------------------------------------------------------------------------------------- charts

function ChartBlock({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="min-w-0 space-y-2">
      <h3 className="text-sm font-medium">{title}</h3>
      {children}
    </div>
  );
}

/** Tokens per model: the models that used most in the period drawn on their own, the rest together. */
function tokenSeries(analytics: Analytics, days: string[]): ChartSeries[] {
  const index = new Map(days.map((day, i) => [day, i]));
  const byModel = new Map<string, { label: string; values: number[] }>();
  for (const entry of analytics.series.aiTokens) {
    const key = entry.model === null ? "(deleted)" : `${entry.provider ?? ""}/${entry.model}`;
    const label = entry.model === null ? "Deleted models" : entry.provider ? `${entry.model} (${entry.provider})` : entry.model;
    const model = byModel.get(key) ?? { label, values: days.map(() => 0) };
    const at = index.get(entry.day);
    if (at !== undefined) model.values[at] = (model.values[at] ?? 0) + entry.tokens;
    byModel.set(key, model);
  }
  const ranked = [...byModel.entries()].map(([key, model]) => ({ key, ...model, total: sum(model.values) })).filter((model) => model.total > 0);
  ranked.sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
  const shown: ChartSeries[] = ranked.slice(0, TOP_MODELS).map((model, i) => ({ key: model.key, label: model.label, color: chartColor(i), values: model.values }));
  const rest = ranked.slice(TOP_MODELS);
  if (rest.length > 0) {
    shown.push({ key: "other", label: "Other models", color: REST_COLOR, values: days.map((_, i) => sum(rest.map((model) => model.values[i] ?? 0))) });
  }
  // With no tokens at all, one empty series still draws the axes.
  return shown.length > 0 ? shown : [{ key: "none", label: "Tokens", color: chartColor(0), values: days.map(() => 0) }];
}

function ActivityCharts({ analytics, days }: { analytics: Analytics; days: string[] }) {
  const { series } = analytics;
  return (
    <Section title="Sign-ups and messages" description="Per UTC day.">
      <div className="grid gap-6 lg:grid-cols-2">
        <ChartBlock title="Sign-ups">
          <DayChart
            title="Sign-ups"
            days={days}
            series={[{ key: "signups", label: "Sign-ups", color: chartColor(0), values: series.signups.map((d) => d.count) }]}
            emptyText="No sign-ups in this period"
          />
        </ChartBlock>
        <ChartBlock title="Chat messages">
          <DayChart
            title="Chat messages"
            days={days}
            series={[{ key: "messages", label: "Messages", color: chartColor(0), values: series.messages.map((d) => d.count) }]}
            emptyText="No messages in this period"
          />
        </ChartBlock>
      </div>
    </Section>
  );
}

function TokenChart({ analytics, days }: { analytics: Analytics; days: string[] }) {
  const series = tokenSeries(analytics, days);
  return (
    <Section title="AI tokens by model" description={`Prompt and completion tokens per UTC day; the ${TOP_MODELS} models that used most on their own.`}>
      <DayChart
        title="AI tokens"
        days={days}
        series={series}
        format={(value) => (value >= 10_000 ? compact.format(value) : count.format(value))}
        emptyText="No tokens used in this period"
        height={220}
        legend={series[0]?.key !== "none"}
      />
    </Section>
  );
}

function FailureCharts({ analytics, days }: { analytics: Analytics; days: string[] }) {
  const { series } = analytics;
  return (
    <Section title="Deployments and failed jobs" description="By the UTC day they ended.">
      <div className="grid gap-6 lg:grid-cols-2">
        <ChartBlock title="Deployments">
          <DayChart
            title="Deployments"
            days={days}
            series={[
              { key: "succeeded", label: "Succeeded", color: GOOD_COLOR, values: series.deployments.map((d) => d.succeeded) },
              { key: "failed", label: "Failed", color: BAD_COLOR, values: series.deployments.map((d) => d.failed) },
            ]}
            emptyText="No deployments in this period"
            legend
          />
        </ChartBlock>
        <ChartBlock title="Failed AI jobs">
          <DayChart
            title="Failed AI jobs"
            days={days}
            series={[{ key: "failed-jobs", label: "Failed", color: BAD_COLOR, values: series.failedJobs.map((d) => d.count) }]}
            emptyText="No failed jobs in this period"
          />
        </ChartBlock>
      </div>
    </Section>
  );
}

const TIER_ORDER: Tier[] = ["pro", "enterprise", "free"];

function tierName(tier: string): string {
  return (TIER_NAMES as Record<string, string>)[tier] ?? tier;
}

function RevenuePanel({ analytics, days }: { analytics: Analytics; days: number }) {
  const plans = usePlans();
  const { mrrByTier, paidInvoices } = analytics.revenue;
  const currencyOf = new Map((plans.data ?? []).map((plan) => [plan.tier as string, plan.currency]));
  const tiers = Object.entries(mrrByTier).sort(([a], [b]) => TIER_ORDER.indexOf(a as Tier) - TIER_ORDER.indexOf(b as Tier));
  // MRR is in each plan's own currency: the total is only given when they all agree.
  const currencies = [...new Set(tiers.map(([tier]) => currencyOf.get(tier)))];
  const sharedCurrency = currencies.length === 1 ? currencies[0] : undefined;
  const paid = Object.entries(paidInvoices.amountByCurrency).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Section title="Revenue" description="Monthly recurring revenue from current subscriptions at the plans' prices (yearly ones count a twelfth).">
      <div className="grid gap-6 lg:grid-cols-2">
        <ChartBlock title="Monthly recurring revenue by plan">
          {plans.error ? (
            <FormError message={errorText(plans.error, LOAD_FAILED)} />
          ) : !plans.data ? (
            <Skeleton className="h-20 w-full" />
          ) : (
            <>
              <BarList
                title="Monthly recurring revenue by plan"
                bars={tiers.map(([tier, cents], i) => {
                  const currency = currencyOf.get(tier);
                  return {
                    key: tier,
                    label: tierName(tier),
                    value: cents,
                    display: currency ? money(cents, currency) : count.format(cents),
                    color: chartColor(i),
                  };
                })}
                emptyText="No paying subscriptions."
              />
              {sharedCurrency && (
                <p className="text-sm">
                  Total: <span className="font-semibold tabular-nums">{money(sum(tiers.map(([, cents]) => cents)), sharedCurrency)}</span> a month
                </p>
              )}
            </>
          )}
        </ChartBlock>
        <ChartBlock title={`Invoices paid, last ${days} days`}>
          <p className="text-sm">
            <span className="text-2xl font-semibold tabular-nums">{count.format(paidInvoices.count)}</span>{" "}
            <span className="text-muted-foreground">{paidInvoices.count === 1 ? "invoice paid" : "invoices paid"}</span>
          </p>
          {paid.length === 0 ? (
            <p className="text-sm text-muted-foreground">Nothing was paid in this period.</p>
          ) : (
            <ul aria-label="Paid per currency" className="space-y-1 text-sm">
              {paid.map(([currency, amount]) => (
                <li key={currency} className="flex justify-between gap-3 border-t border-border pt-1">
                  <span className="text-muted-foreground">{currency.toUpperCase()}</span>
                  <span className="font-medium tabular-nums">{money(amount, currency)}</span>
                </li>
              ))}
            </ul>
          )}
        </ChartBlock>
      </div>
    </Section>
  );
}

// ------------------------------------------------------------------------------------------- screen

function PeriodPicker({ period, onChange }: { period: Period; onChange: (period: Period) => void }) {
  return (
    <div role="group" aria-label="Period" className="inline-flex rounded-md border border-border bg-surface p-0.5">
      {PERIODS.map((days) => (
        <button
          key={days}
          type="button"
          aria-pressed={period === days}
          onClick={() => onChange(days)}
          className={cn(
            "cursor-pointer rounded px-3 py-1 text-sm",
            period === days ? "bg-primary font-medium text-primary-foreground" : "text-muted-foreground hover:bg-muted hover:text-foreground",
          )}
        >
          {days === 365 ? "1 year" : `${days} days`}
        </button>
      ))}
    </div>
  );
}

function Loading() {
  return (
    <div className="space-y-8" aria-busy="true" aria-label="Loading the numbers">
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
        {Array.from({ length: 8 }, (_, i) => (
          <Skeleton key={i} className="h-[5.5rem] w-full" />
        ))}
      </div>
      <Skeleton className="h-44 w-full" />
      <Skeleton className="h-72 w-full" />
      <Skeleton className="h-80 w-full" />
    </div>
  );
}

export function OverviewScreen() {
  const [params, setParams] = useSearchParams();
  const period = periodOf(params);
  const { from, to } = rangeOf(period);
  const analytics = useQuery({
    queryKey: ["admin", "analytics", from, to],
    queryFn: () => unwrap(api.GET("/api/admin/analytics", { params: { query: { from, to } } })),
    select: (envelope) => envelope.analytics,
    // Another period keeps the current numbers on screen (marked as updating) until its own arrive.
    placeholderData: keepPreviousData,
  });
  const data = analytics.data;
  const days = data?.series.signups.map((entry) => entry.day) ?? [];
  const updating = analytics.isFetching && !analytics.isLoading;

  return (
    <div className="mt-6 space-y-8">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="mr-auto text-2xl font-semibold">Overview</h1>
        <span className="flex h-5 w-5 items-center" aria-live="polite">
          {updating && (
            <>
              <Spinner className="h-4 w-4 text-muted-foreground" />
              <span className="sr-only">Updating</span>
            </>
          )}
        </span>
        <PeriodPicker
          period={period}
          onChange={(next) =>
            setParams(
              (current) => {
                const updated = new URLSearchParams(current);
                if (next === DEFAULT_PERIOD) updated.delete("days");
                else updated.set("days", String(next));
                return updated;
              },
              { replace: true },
            )
          }
        />
        <Button variant="secondary" size="sm" onClick={() => void analytics.refetch()} disabled={analytics.isFetching}>
          Refresh
        </Button>
        {/* Said, not shown by dimming the numbers: dimmed text would fall below the contrast it needs. */}
        <span role="status" className="text-sm text-muted-foreground" data-testid="overview-updating">
          {updating ? "Updating…" : ""}
        </span>
      </div>
      {analytics.error && !data ? (
        <div className="space-y-3">
          <FormError message={errorText(analytics.error, LOAD_FAILED)} />
          <Button variant="secondary" onClick={() => void analytics.refetch()} busy={analytics.isFetching}>
            Try again
          </Button>
        </div>
      ) : !data ? (
        <Loading />
      ) : (
        <div className="space-y-8" aria-busy={updating}>
          {analytics.error && <FormError message={`${errorText(analytics.error, LOAD_FAILED)} The numbers shown are older.`} />}
          <Totals stats={statsOf(data, days.length)} />
          <HealthPanel health={data.health} />
          <ActivityCharts analytics={data} days={days} />
          <TokenChart analytics={data} days={days} />
          <FailureCharts analytics={data} days={days} />
          <RevenuePanel analytics={data} days={days.length} />
        </div>
      )}
    </div>
  );
}
