// Small SVG charts for the admin overview: columns over days (one series, or several stacked) and horizontal
// bars for a handful of labelled amounts. Drawn in CSS pixels at the width the chart is given (measured), so
// the text stays legible on a phone and 365 days still fit; the colours are the app's tokens, so dark mode
// follows. Each chart carries its own text alternative: a one-sentence summary (role="img") and, on demand,
// the numbers as a table.

import { useLayoutEffect, useRef, useState, type ReactNode } from "react";

/** Series colours, from the app's tokens: distinct in both themes, the last one for "the rest". */
export const CHART_COLORS = [
  "var(--mm-primary)",
  "var(--mm-success)",
  "var(--mm-warning)",
  "color-mix(in oklab, var(--mm-primary) 45%, var(--mm-surface))",
  "color-mix(in oklab, var(--mm-success) 45%, var(--mm-surface))",
] as const;
/** The i-th series colour (they repeat after the palette's end). */
export function chartColor(index: number): string {
  return CHART_COLORS[index % CHART_COLORS.length] ?? CHART_COLORS[0];
}
export const REST_COLOR = "var(--mm-muted-foreground)";
export const GOOD_COLOR = "var(--mm-success)";
export const BAD_COLOR = "var(--mm-danger)";

export interface ChartSeries {
  key: string;
  label: string;
  color: string;
  /** One value per day, in the order of the chart's days. */
  values: number[];
}

const integer = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
// The API's days are UTC calendar days: shown as such, whatever the reader's time zone.
const shortDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const yearDay = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: "short", year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });

function utc(iso: string): Date {
  return new Date(`${iso}T00:00:00Z`);
}

export function formatDay(iso: string): string {
  return shortDay.format(utc(iso));
}

export function formatLongDay(iso: string): string {
  return longDay.format(utc(iso));
}

/** A scale's top and its ticks: round steps (1, 2 or 5 × 10ⁿ, whole numbers) and about four of them. An
 * empty series still gets an axis (0 to 1). */
export function niceTicks(max: number, count = 4): number[] {
  const top = max > 0 ? max : 1;
  const raw = top / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude);
  const ticks: number[] = [];
  for (let tick = 0; tick < top + step; tick += step) {
    ticks.push(tick);
    if (tick >= top) break;
  }
  return ticks;
}

/** The element's content width, kept current (0 until measured: the chart draws after its first layout). */
function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.floor(entry.contentRect.width));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

function Legend({ items }: { items: { key: string; label: string; color: string; total: string }[] }) {
  return (
    <ul className="flex flex-wrap gap-x-4 gap-y-1 text-xs text-muted-foreground" aria-label="Legend">
      {items.map((item) => (
        <li key={item.key} className="flex items-center gap-1.5">
          <span className="inline-block h-2.5 w-2.5 shrink-0 rounded-sm" style={{ background: item.color }} aria-hidden="true" />
          <span className="text-foreground">{item.label}</span>
          <span className="tabular-nums">{item.total}</span>
        </li>
      ))}
    </ul>
  );
}

/** The numbers behind a chart, drawn only once opened (a year of days is a long table). */
function DataTable({ summary, children }: { summary: string; children: () => ReactNode }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="text-sm" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary className="cursor-pointer select-none text-xs font-medium text-muted-foreground hover:text-foreground">{summary}</summary>
      {open && <div className="mt-2 max-h-72 overflow-auto rounded-md border border-border">{children()}</div>}
    </details>
  );
}

const MARGIN = { top: 8, right: 8, bottom: 22, left: 44 };
// Below this band width bars touch (a gap would eat the bar); x labels keep this much room each.
const GAP_FROM = 6;
const LABEL_ROOM = 64;

export interface DayChartProps {
  /** What is counted, as a heading would say it ("Sign-ups"). */
  title: string;
  /** The UTC days, oldest first (ISO dates). */
  days: string[];
  /** One series, or several stacked in the order given (bottom first). */
  series: ChartSeries[];
  /** How a value reads (axis, tooltip, summary, table). */
  format?: (value: number) => string;
  /** Said over the empty axes when every value is zero. */
  emptyText: string;
  height?: number;
  /** A legend under the chart (on by default for several series). */
  legend?: boolean;
}

/** Columns over days with a y axis, day labels that thin out, a hover read-out, a summary for assistive
 * technology and a table of the days that had any. */
export function DayChart({ title, days, series, format = (value) => integer.format(value), emptyText, height = 180, legend }: DayChartProps) {
  const [box, width] = useWidth<HTMLDivElement>();
  const [hover, setHover] = useState<number | null>(null);
  const totals = days.map((_, day) => series.reduce((sum, s) => sum + (s.values[day] ?? 0), 0));
  const total = totals.reduce((sum, value) => sum + value, 0);
  const peak = Math.max(0, ...totals);
  const peakDay = totals.indexOf(peak);
  const ticks = niceTicks(peak);
  const top = ticks[ticks.length - 1] ?? 1;
  const plotWidth = Math.max(0, width - MARGIN.left - MARGIN.right);
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const band = days.length > 0 ? plotWidth / days.length : 0;
  const gap = band >= GAP_FROM ? Math.min(band * 0.25, 6) : 0;
  const barWidth = Math.max(1, band - gap);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  // Labels every `step` days, counted back from the last day so that today is always labelled.
  const step = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotWidth / LABEL_ROOM))));
  const first = days[0];
  const last = days[days.length - 1];
  const span = first && last ? `${yearDay.format(utc(first))} to ${yearDay.format(utc(last))}` : "";
  const summary =
    total === 0
      ? `${title} per day, ${span}: none.`
      : `${title} per day, ${span}: ${format(total)} in total; the busiest day was ${formatDay(days[peakDay] ?? "")} with ${format(peak)}.`;
  const showLegend = legend ?? series.length > 1;

  return (
    <figure className="space-y-2">
      <div ref={box} className="relative w-full" style={{ height }}>
        {width > 0 && (
          <svg
            width={width}
            height={height}
            role="img"
            aria-label={summary}
            className="block overflow-visible"
            onPointerMove={(event) => {
              const x = event.clientX - event.currentTarget.getBoundingClientRect().left - MARGIN.left;
              const day = Math.floor(x / band);
              setHover(band > 0 && day >= 0 && day < days.length ? day : null);
            }}
            onPointerLeave={() => setHover(null)}
          >
            {ticks.map((tick) => (
              <g key={tick}>
                <line x1={MARGIN.left} x2={MARGIN.left + plotWidth} y1={y(tick)} y2={y(tick)} style={{ stroke: "var(--mm-border)" }} />
                <text x={MARGIN.left - 6} y={y(tick)} dy="0.32em" textAnchor="end" className="text-[10px] tabular-nums" style={{ fill: "var(--mm-muted-foreground)" }}>
                  {tick >= 10_000 ? compact.format(tick) : format(tick)}
                </text>
              </g>
            ))}
            {hover !== null && (
              <rect x={MARGIN.left + hover * band} y={MARGIN.top} width={band} height={plotHeight} style={{ fill: "var(--mm-muted)" }} />
            )}
            {days.map((day, index) => {
              let base = 0;
              return (
                <g key={day}>
                  {series.map((s) => {
                    const value = s.values[index] ?? 0;
                    if (value <= 0) return null;
                    const y0 = y(base);
                    base += value;
                    const y1 = y(base);
                    return <rect key={s.key} x={MARGIN.left + index * band + gap / 2} y={y1} width={barWidth} height={Math.max(1, y0 - y1)} style={{ fill: s.color }} />;
                  })}
                </g>
              );
            })}
            <line
              x1={MARGIN.left}
              x2={MARGIN.left + plotWidth}
              y1={MARGIN.top + plotHeight}
              y2={MARGIN.top + plotHeight}
              style={{ stroke: "var(--mm-muted-foreground)" }}
            />
            {days.map((day, index) =>
              (days.length - 1 - index) % step === 0 ? (
                <text
                  key={day}
                  x={MARGIN.left + index * band + band / 2}
                  y={height - 6}
                  textAnchor={index === days.length - 1 && step > 1 ? "end" : "middle"}
                  className="text-[10px]"
                  style={{ fill: "var(--mm-muted-foreground)" }}
                >
                  {formatDay(day)}
                </text>
              ) : null,
            )}
            {total === 0 && (
              <text x={MARGIN.left + plotWidth / 2} y={MARGIN.top + plotHeight / 2} textAnchor="middle" className="text-xs" style={{ fill: "var(--mm-muted-foreground)" }}>
                {emptyText}
              </text>
            )}
          </svg>
        )}
        {hover !== null && days[hover] && (
          <div
            aria-hidden="true"
            className="pointer-events-none absolute top-0 z-10 min-w-32 rounded-md border border-border bg-surface-raised px-2 py-1 text-xs shadow-md"
            style={
              MARGIN.left + hover * band + band / 2 > width / 2
                ? { right: width - (MARGIN.left + hover * band) + 4 }
                : { left: MARGIN.left + (hover + 1) * band + 4 }
            }
          >
            <p className="font-medium">{formatLongDay(days[hover])}</p>
            {series.length > 1 && <p className="tabular-nums">Total: {format(totals[hover] ?? 0)}</p>}
            {series.map((s) => (
              <p key={s.key} className="flex items-center gap-1.5 tabular-nums">
                <span className="inline-block h-2 w-2 rounded-sm" style={{ background: s.color }} />
                {series.length > 1 ? `${s.label}: ` : ""}
                {format(s.values[hover] ?? 0)}
              </p>
            ))}
          </div>
        )}
      </div>
      {showLegend && (
        <Legend items={series.map((s) => ({ key: s.key, label: s.label, color: s.color, total: format(s.values.reduce((a, b) => a + b, 0)) }))} />
      )}
      <DataTable summary={`${title}: the numbers`}>
        {() => {
          const active = days.map((day, index) => ({ day, index })).filter(({ index }) => (totals[index] ?? 0) > 0);
          if (active.length === 0) return <p className="p-3 text-muted-foreground">None on any day from {span}.</p>;
          return (
            <table className="w-full text-left text-xs">
              <caption className="px-3 pt-2 text-left text-muted-foreground">
                {title} per day, {span}. Days not listed had none.
              </caption>
              <thead className="sticky top-0 bg-surface">
                <tr>
                  <th scope="col" className="px-3 py-1.5 font-medium">
                    Day
                  </th>
                  {series.map((s) => (
                    <th key={s.key} scope="col" className="px-3 py-1.5 text-right font-medium">
                      {s.label}
                    </th>
                  ))}
                  {series.length > 1 && (
                    <th scope="col" className="px-3 py-1.5 text-right font-medium">
                      Total
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {active.map(({ day, index }) => (
                  <tr key={day} className="border-t border-border">
                    <th scope="row" className="px-3 py-1 font-normal whitespace-nowrap">
                      <time dateTime={day}>{formatLongDay(day)}</time>
                    </th>
                    {series.map((s) => (
                      <td key={s.key} className="px-3 py-1 text-right tabular-nums">
                        {format(s.values[index] ?? 0)}
                      </td>
                    ))}
                    {series.length > 1 && <td className="px-3 py-1 text-right font-medium tabular-nums">{format(totals[index] ?? 0)}</td>}
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </DataTable>
    </figure>
  );
}

export interface Bar {
  key: string;
  label: string;
  value: number;
  /** The value as read (money, say). */
  display: string;
  color?: string;
}

/** Labelled horizontal bars against the largest (amounts in different units are not compared: give one
 * list per unit). */
export function BarList({ title, bars, emptyText }: { title: string; bars: Bar[]; emptyText: string }) {
  const largest = Math.max(0, ...bars.map((bar) => bar.value));
  const summary = largest === 0 ? `${title}: none.` : `${title}: ${bars.map((bar) => `${bar.label} ${bar.display}`).join(", ")}.`;
  return (
    <figure className="space-y-2">
      <div role="img" aria-label={summary} className="space-y-2">
        {bars.map((bar) => (
          <div key={bar.key} className="grid grid-cols-[6rem_1fr_auto] items-center gap-3 text-sm" aria-hidden="true">
            <span className="truncate text-muted-foreground">{bar.label}</span>
            <span className="h-3 overflow-hidden rounded-sm bg-muted">
              <span
                className="block h-full rounded-sm"
                style={{ width: largest > 0 ? `${(bar.value / largest) * 100}%` : 0, background: bar.color ?? "var(--mm-primary)" }}
              />
            </span>
            <span className="text-right font-medium tabular-nums">{bar.display}</span>
          </div>
        ))}
        {largest === 0 && (
          <p className="text-xs text-muted-foreground" aria-hidden="true">
            {emptyText}
          </p>
        )}
      </div>
    </figure>
  );
}
