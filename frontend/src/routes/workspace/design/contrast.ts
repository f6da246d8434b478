/** WCAG 2.2 contrast, the same definitions the API checks with (mm_common.design.contrast): sRGB channels
 * linearised, relative luminance L = 0.2126 R + 0.7152 G + 0.0722 B, ratio (L1 + 0.05) / (L2 + 0.05) with L1
 * the lighter. AA asks 4.5:1 for text and 3:1 for user-interface parts. */

export const TEXT_MINIMUM = 4.5;
export const UI_MINIMUM = 3;

const FULL = /^#[0-9a-f]{6}$/i;
const SHORT = /^#[0-9a-f]{3}$/i;

/** `#RRGGBB` in upper case from `#RGB`, `#RRGGBB` (the `#` may be left out); null for anything else. */
export function normalizeHex(value: string): string | null {
  let text = value.trim();
  if (!text.startsWith("#")) text = `#${text}`;
  if (SHORT.test(text)) text = `#${[...text.slice(1)].map((ch) => ch + ch).join("")}`;
  return FULL.test(text) ? text.toUpperCase() : null;
}

function linear(channel: number): number {
  return channel <= 0.04045 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
}

export function relativeLuminance(hex: string): number {
  const [red, green, blue] = [1, 3, 5].map((start) => parseInt(hex.slice(start, start + 2), 16) / 255);
  return 0.2126 * linear(red!) + 0.7152 * linear(green!) + 0.0722 * linear(blue!);
}

export function contrastRatio(first: string, second: string): number {
  const [lighter, darker] = [relativeLuminance(first), relativeLuminance(second)].sort((a, b) => b - a);
  return (lighter! + 0.05) / (darker! + 0.05);
}

export function minimumFor(kind: "text" | "ui"): number {
  return kind === "text" ? TEXT_MINIMUM : UI_MINIMUM;
}

/** "4.52:1", rounded down so that a ratio shown as passing never is one that fails. */
export function formatRatio(ratio: number): string {
  return `${(Math.floor(ratio * 100) / 100).toFixed(2)}:1`;
}
