import type { ReactNode } from "react";
import { cn } from "@/lib/cn";

export function Page({ title, actions, children, className }: { title: string; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <div className={cn("mx-auto max-w-5xl px-4 py-6 sm:px-6", className)}>
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="mr-auto text-2xl font-semibold">{title}</h1>
        {actions}
      </div>
      <div className="mt-6 space-y-8">{children}</div>
    </div>
  );
}

export function Section({ title, description, children, actions }: { title: string; description?: ReactNode; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="rounded-lg border border-border bg-surface" aria-label={title}>
      <div className="flex flex-wrap items-start gap-3 border-b border-border px-4 py-3">
        <div className="mr-auto">
          <h2 className="font-semibold">{title}</h2>
          {description && <p className="text-sm text-muted-foreground">{description}</p>}
        </div>
        {actions}
      </div>
      <div className="p-4">{children}</div>
    </section>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return <p className="rounded-md border border-dashed border-border p-6 text-center text-sm text-muted-foreground">{children}</p>;
}
