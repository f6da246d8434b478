// Pieces the Users and Organizations admin screens share: the search box and filters kept in the URL (a
// search can be linked to and survives a reload), the confirmation dialog of every change, and small labels.

import { useEffect, useId, useState, type FormEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { errorText } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { FormError } from "@/components/ui/field";
import { cn } from "@/lib/cn";
import { useDebounced } from "@/lib/debounce";
import { dateTime, relativeTime } from "@/lib/time";

// How long the search box waits for typing to stop before it searches.
const SEARCH_DELAY_MS = 300;

/** One value of the URL's query string, or null when absent or not one of `allowed`. */
export function useUrlChoice<T extends string>(name: string, allowed: readonly T[]): [T | null, (value: T | null) => void] {
  const [params, setParams] = useSearchParams();
  const raw = params.get(name);
  const value = raw !== null && (allowed as readonly string[]).includes(raw) ? (raw as T) : null;
  const set = (next: T | null) =>
    setParams(
      (current) => {
        const updated = new URLSearchParams(current);
        if (next) updated.set(name, next);
        else updated.delete(name);
        return updated;
      },
      { replace: true },
    );
  return [value, set];
}

/** The search box: what it holds reaches the URL's `q` (and so the query) once typing pauses. */
export function SearchBox({ label, placeholder }: { label: string; placeholder: string }) {
  const [params, setParams] = useSearchParams();
  const inUrl = params.get("q") ?? "";
  const [text, setText] = useState(inUrl);
  const settled = useDebounced(text.trim(), SEARCH_DELAY_MS);
  const id = useId();
  // The URL changed without the box (a link to the unfiltered list, history): the box follows it.
  useEffect(() => {
    if (inUrl !== settled) setText(inUrl);
    // Only a change of the URL's own value is followed, not the box settling.
  }, [inUrl]);
  useEffect(() => {
    if (settled === inUrl) return;
    setParams(
      (current) => {
        const updated = new URLSearchParams(current);
        if (settled) updated.set("q", settled);
        else updated.delete("q");
        return updated;
      },
      { replace: true },
    );
    // Only the settled text drives the URL; the URL changing back (history) is not fought over.
  }, [settled]);
  return (
    <div className="min-w-56 flex-1 space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      <input
        id={id}
        type="search"
        value={text}
        placeholder={placeholder}
        onChange={(e) => setText(e.target.value)}
        className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm placeholder:text-muted-foreground focus:outline-none focus:ring-2 focus:ring-ring"
      />
    </div>
  );
}

/** The query's `q`, as the search box last settled it. */
export function useUrlSearch(): string {
  const [params] = useSearchParams();
  return params.get("q") ?? "";
}

export function SelectField<T extends string>({
  label,
  value,
  onChange,
  options,
  className,
}: {
  label: string;
  value: T | "";
  onChange: (value: T | "") => void;
  options: readonly { value: T | ""; label: string }[];
  className?: string;
}) {
  const id = useId();
  return (
    <div className={cn("space-y-1.5", className)}>
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      <select
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value as T | "")}
        className="h-10 w-full rounded-md border border-border bg-surface px-3 text-sm"
      >
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

interface ConfirmProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  /** Fields the confirmation asks for (a reason, say). */
  children?: ReactNode;
}

/** Asks before a change is made; the API's refusal shows inside, so the person can read it and cancel. */
export function ConfirmDialog({ open, onOpenChange, title, description, confirmLabel, danger, busy, error, onConfirm, children }: ConfirmProps) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onConfirm();
  };
  return (
    <Dialog open={open} onOpenChange={onOpenChange} title={title} description={description}>
      <form className="space-y-4" onSubmit={submit}>
        {children}
        <FormError message={error ? errorText(error) : null} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={() => onOpenChange(false)} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant={danger ? "danger" : "primary"} busy={busy}>
            {confirmLabel}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

const TONES = {
  neutral: "border-border text-muted-foreground",
  success: "border-success/40 text-success",
  warning: "border-warning/40 text-warning",
  danger: "border-danger/40 text-danger",
} as const;

export function Badge({ tone = "neutral", children }: { tone?: keyof typeof TONES; children: ReactNode }) {
  return <span className={cn("inline-flex items-center whitespace-nowrap rounded-full border px-2 py-0.5 text-xs font-medium", TONES[tone])}>{children}</span>;
}

/** A past moment, relative ("3 days ago") with the exact time on hover and for assistive technology. */
export function When({ iso, empty = "Never" }: { iso: string | null | undefined; empty?: string }) {
  if (!iso) return <span className="text-muted-foreground">{empty}</span>;
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {relativeTime(iso)}
    </time>
  );
}

export function shortDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

export const count = new Intl.NumberFormat();

export const TIER_LABELS: Record<"free" | "pro" | "enterprise", string> = { free: "Free", pro: "Pro", enterprise: "Enterprise" };

export function tierLabel(tier: string): string {
  return TIER_LABELS[tier as keyof typeof TIER_LABELS] ?? tier;
}

export const tableClass = "w-full text-left text-sm";
export const headCell = "py-2 pr-4 font-medium whitespace-nowrap";
export const cell = "py-2 pr-4 align-top";
export const link = "font-medium text-primary underline-offset-2 hover:underline";
