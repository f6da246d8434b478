import type { ReactNode } from "react";
import { Section } from "@/components/ui/page";
import { ordered, SIZE_ORDER, type DesignDocument } from "./data";

function Group({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <h3 className="text-sm font-medium">{title}</h3>
      <div className="mt-2">{children}</div>
    </div>
  );
}

/** Spacing, radius, shadow and motion, each drawn at its value. */
export function Scales({ document }: { document: DesignDocument }) {
  const { spacing, radius, shadow, motion, borderWidth } = document.tokens;
  const light = document.tokens.light;
  return (
    <Section title="Spacing, radius, shadow and motion" description={`Follow the ${document.style.name} style (${document.style.profile}).`}>
      <div className="grid gap-5 sm:grid-cols-2">
        <Group title="Spacing">
          <ul aria-label="Spacing" className="space-y-1">
            {ordered(spacing, SIZE_ORDER).map(([name, value]) => (
              <li key={name} className="flex items-center gap-2 text-xs">
                <span className="w-8 text-muted-foreground">{name}</span>
                <span aria-hidden="true" className="h-2.5 rounded-sm bg-primary/60" style={{ width: value }} />
                <code className="font-mono">{value}</code>
              </li>
            ))}
          </ul>
        </Group>
        <Group title="Radius">
          <ul aria-label="Radius" className="flex flex-wrap gap-3">
            {ordered(radius, SIZE_ORDER).map(([name, value]) => (
              <li key={name} className="flex flex-col items-center gap-1 text-xs">
                <span aria-hidden="true" className="h-10 w-10 border-2 border-primary/70 bg-primary/10" style={{ borderRadius: value }} />
                <span>
                  {name} <code className="font-mono text-muted-foreground">{value}</code>
                </span>
              </li>
            ))}
          </ul>
          <p className="mt-2 text-xs text-muted-foreground">
            Border width <code className="font-mono">{borderWidth}</code>
          </p>
        </Group>
        <Group title="Shadow">
          <ul aria-label="Shadow" className="flex flex-wrap gap-4">
            {ordered(shadow, SIZE_ORDER).map(([name, value]) => (
              <li key={name} className="flex flex-col items-center gap-1 text-xs">
                <span
                  aria-hidden="true"
                  className="h-10 w-14 rounded border border-border"
                  style={{ boxShadow: value, backgroundColor: light.surface, borderRadius: radius.md }}
                />
                <span title={value}>{name}</span>
              </li>
            ))}
          </ul>
        </Group>
        <Group title="Motion">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-xs">
            <dt className="text-muted-foreground">Durations</dt>
            <dd className="font-mono">
              {motion.durationFast} · {motion.durationBase} · {motion.durationSlow}
            </dd>
            <dt className="text-muted-foreground">Standard</dt>
            <dd className="break-all font-mono">{motion.easingStandard}</dd>
            <dt className="text-muted-foreground">Emphasized</dt>
            <dd className="break-all font-mono">{motion.easingEmphasized}</dd>
            <dt className="text-muted-foreground">Enter / exit</dt>
            <dd className="break-all font-mono">
              {motion.easingEnter} / {motion.easingExit}
            </dd>
            <dt className="text-muted-foreground">Reduced motion</dt>
            <dd>{motion.reducedMotion.policy}</dd>
          </dl>
        </Group>
      </div>
    </Section>
  );
}
