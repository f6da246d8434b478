import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { api, ApiError, unwrap } from "@/api/client";
import type { components } from "@/api/schema";

export type DesignSystem = components["schemas"]["DesignSystem"];
export type DesignSystemChange = components["schemas"]["DesignSystemChange"];
export type DesignSystemRevision = components["schemas"]["DesignSystemRevision"];
export type Adjustment = components["schemas"]["ContrastAdjustment"];
export type Mode = "light" | "dark";

export const MODES: Mode[] = ["light", "dark"];
/** The five colours a design system is built from; each one sets its token in both modes. */
export const SEED_KEYS = ["primary", "secondary", "accent", "background", "text"] as const;
export type SeedKey = (typeof SEED_KEYS)[number];

export interface ContrastPair {
  mode: Mode;
  foreground: string;
  background: string;
  foregroundColor: string;
  backgroundColor: string;
  kind: "text" | "ui";
  ratio: number;
  minimum: number;
  passes: boolean;
  aaa: boolean;
}

export interface Face {
  family: string | null;
  kind: "sans" | "serif" | "mono" | "handwriting";
  fallback: string[];
  stack: string;
  weights: { regular: number; bold: number };
  offeredWeights: number[] | null;
}

/** The parts of the design-system document (layers/common/mm_common/design/schema.json) this panel shows. */
export interface DesignDocument {
  schemaVersion: number;
  projectName: string;
  description: string;
  category: string;
  pattern: { name: string; sections: string[]; ctaPlacement: string; colorStrategy: string; conversion: string };
  style: { name: string; type: string; profile: string; keywords: string[]; effects: string; bestFor: string[]; performance: string; accessibility: string };
  palette: Record<SeedKey, string> & { notes: string };
  colorOverrides: Record<Mode, Record<string, string>>;
  tokens: {
    light: Record<string, string>;
    dark: Record<string, string>;
    spacing: Record<string, string>;
    radius: Record<string, string>;
    borderWidth: string;
    shadow: Record<string, string>;
    blur: Record<string, string>;
    motion: {
      durationFast: string;
      durationBase: string;
      durationSlow: string;
      easingStandard: string;
      easingEmphasized: string;
      easingEnter: string;
      easingExit: string;
      reducedMotion: { query: string; policy: string };
    };
  };
  typography: {
    heading: Face & { family: string };
    body: Face & { family: string };
    mono: Face;
    scale: { ratio: number; basePx: number; steps: Record<string, { size: string; lineHeight: string }> };
    googleFontsUrl: string | null;
    mood: string;
    bestFor: string;
  };
  effects: string[];
  antiPatterns: string[];
  checklist: string[];
  decisionRules: Record<string, string>;
  contrast: {
    standard: string;
    allPass: boolean;
    pairs: ContrastPair[];
    adjustments: { mode: Mode; token: string; from: string; to: string; reason: string }[];
  };
  generatedByAi: boolean;
}

/** The document the API validated against its JSON Schema, typed for reading. */
export function documentOf(system: Pick<DesignSystem, "document">): DesignDocument {
  return system.document as unknown as DesignDocument;
}

export const designKeys = {
  all: (projectId: string) => ["design-system", projectId] as const,
  system: (projectId: string, page: string | null) => ["design-system", projectId, "system", page] as const,
  revisions: (projectId: string, page: string | null) => ["design-system", projectId, "revisions", page] as const,
};

/** The design system (a page's override merged over the master when a page is chosen); null when the project
 * has none yet. */
export function useDesignSystem(projectId: string, page: string | null) {
  return useQuery({
    queryKey: designKeys.system(projectId, page),
    queryFn: async () => {
      try {
        const envelope = await unwrap(
          api.GET("/api/projects/{id}/design-system", { params: { path: { id: projectId }, query: page ? { page } : {} } }),
        );
        return envelope.designSystem;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404 && error.code === "design_system_not_found") return null;
        throw error;
      }
    },
    // Choosing another page keeps the shown one (and the page selector, with its focus) until it has loaded.
    placeholderData: keepPreviousData,
  });
}

export function useRevisions(projectId: string, page: string | null) {
  return useQuery({
    queryKey: designKeys.revisions(projectId, page),
    queryFn: () =>
      unwrap(
        api.GET("/api/projects/{id}/design-system/revisions", {
          params: { path: { id: projectId }, query: { limit: 50, ...(page ? { page } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
}

/** After a change: the design system, its history and (a change is a new version with new files) the
 * workspace's versions and files are read again; the changed system is shown at once. */
export function useAfterChange(projectId: string) {
  const queryClient = useQueryClient();
  return (change: DesignSystemChange) => {
    queryClient.setQueryData(designKeys.system(projectId, change.designSystem.pageName), change.designSystem);
    void queryClient.invalidateQueries({ queryKey: designKeys.all(projectId) });
    void queryClient.invalidateQueries({ queryKey: ["versions", projectId] });
    void queryClient.invalidateQueries({ queryKey: ["files", projectId] });
    void queryClient.invalidateQueries({ queryKey: ["file", projectId] });
  };
}

export const TOKEN_LABELS: Record<string, string> = {
  background: "Background",
  surface: "Surface",
  muted: "Muted",
  text: "Text",
  surfaceForeground: "Surface text",
  mutedForeground: "Muted text",
  border: "Border",
  primary: "Primary",
  primaryForeground: "On primary",
  ring: "Focus ring",
  secondary: "Secondary",
  secondaryForeground: "On secondary",
  accent: "Accent",
  accentForeground: "On accent",
  success: "Success",
  successForeground: "On success",
  warning: "Warning",
  warningForeground: "On warning",
  error: "Error",
  errorForeground: "On error",
  info: "Info",
  infoForeground: "On info",
  shadow: "Shadow tint",
};

/** A scale's entries in their order (the stored document's keys come back in the database's order). */
export function ordered<T>(values: Record<string, T>, order: readonly string[]): [string, T][] {
  const known = order.filter((key) => key in values).map((key): [string, T] => [key, values[key]!]);
  return [...known, ...Object.entries(values).filter(([key]) => !order.includes(key))];
}

export const COLOR_ORDER = Object.keys(TOKEN_LABELS);
export const SIZE_ORDER = ["none", "xs", "sm", "base", "md", "lg", "xl", "2xl", "3xl", "4xl", "full"] as const;

export function tokenLabel(token: string): string {
  return TOKEN_LABELS[token] ?? token;
}

/** What each editable section of the panel gets: the document shown, whether the caller may change it, the
 * notice of the section's last change, and where a saved change goes. */
export interface SectionProps {
  projectId: string;
  document: DesignDocument;
  canEdit: boolean;
  notice: ReactNode;
  onSaved: (change: DesignSystemChange) => void;
}
