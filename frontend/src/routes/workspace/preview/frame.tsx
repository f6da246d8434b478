import { useEffect, useState, type RefObject } from "react";
import { cn } from "@/lib/cn";
import type { RuntimeError } from "./data";

export type Device = "full" | 375 | 768 | 1280;

export const DEVICES: { value: Device; label: string; description: string }[] = [
  { value: "full", label: "Full", description: "Full width" },
  { value: 375, label: "375", description: "Phone, 375 pixels wide" },
  { value: 768, label: "768", description: "Tablet, 768 pixels wide" },
  { value: 1280, label: "1280", description: "Desktop, 1280 pixels wide" },
];

// Enough to see what went wrong; an app that logs in a loop should not grow the list forever.
const MAX_ERRORS = 50;
const KINDS = new Set(["error", "unhandledrejection", "console.error"]);

function asRuntimeError(data: unknown): RuntimeError | null {
  if (typeof data !== "object" || data === null) return null;
  const message = data as { source?: unknown; kind?: unknown; message?: unknown; stack?: unknown };
  if (message.source !== "mm-preview" || typeof message.kind !== "string" || !KINDS.has(message.kind)) return null;
  return {
    kind: message.kind as RuntimeError["kind"],
    message: typeof message.message === "string" ? message.message : String(message.message),
    stack: typeof message.stack === "string" ? message.stack : null,
  };
}

/** The errors the framed app reported (uncaught errors, unhandled rejections, console.error), from the script the
 * preview worker injects. Only messages of that frame's own window count: any page may post to this one. `resetKey`
 * starts the list over (another site framed, or a reload). */
export function useRuntimeErrors(frame: RefObject<HTMLIFrameElement | null>, resetKey: string): RuntimeError[] {
  const [errors, setErrors] = useState<RuntimeError[]>([]);
  useEffect(() => {
    setErrors([]);
  }, [resetKey]);
  useEffect(() => {
    const receive = (event: MessageEvent) => {
      const source = frame.current?.contentWindow;
      if (!source || event.source !== source) return;
      const error = asRuntimeError(event.data);
      if (error) setErrors((list) => (list.length >= MAX_ERRORS ? list : [...list, error]));
    };
    window.addEventListener("message", receive);
    return () => window.removeEventListener("message", receive);
  }, [frame]);
  return errors;
}

/** The framed site at the chosen device width (the full pane by default; wider than the pane scrolls). */
export function PreviewFrame({
  frame,
  url,
  versionNumber,
  device,
  reloads,
}: {
  frame: RefObject<HTMLIFrameElement | null>;
  url: string;
  versionNumber: number;
  device: Device;
  reloads: number;
}) {
  return (
    <div className={cn("h-full min-h-0 overflow-auto", device !== "full" && "bg-muted p-2")}>
      <iframe
        // A new element on reload: setting the same src again would not load it again.
        key={`${url}#${reloads}`}
        ref={frame}
        src={url}
        title={`Preview of version ${versionNumber}`}
        // The preview is served from a site of its own, so its scripts (with same-origin) reach only that site.
        sandbox="allow-scripts allow-forms allow-popups allow-modals allow-same-origin"
        className={cn("block h-full bg-white", device === "full" ? "w-full border-0" : "mx-auto max-w-none rounded-md border border-border shadow-sm")}
        style={device === "full" ? undefined : { width: `${device}px` }}
      />
    </div>
  );
}
