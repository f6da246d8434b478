// Monaco from our own bundle (never a CDN): the editor and its workers are part of the build and
// load only with the code and versions views.
import { loader } from "@monaco-editor/react";
import * as monaco from "monaco-editor";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import CssWorker from "monaco-editor/language/css/css.worker?worker";
import HtmlWorker from "monaco-editor/language/html/html.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";
import TsWorker from "monaco-editor/language/typescript/ts.worker?worker";

self.MonacoEnvironment = {
  getWorker(_: string, label: string) {
    if (label === "typescript" || label === "javascript") return new TsWorker();
    if (label === "json") return new JsonWorker();
    if (label === "css" || label === "scss" || label === "less") return new CssWorker();
    if (label === "html" || label === "handlebars" || label === "razor") return new HtmlWorker();
    return new EditorWorker();
  },
};

loader.config({ monaco });

// Options every editor shares. Monaco's EditContext input (its default in Chromium) leaves its
// focusable element unnamed in the diff editor; the textarea input carries the aria labels.
export const EDITOR_BASE = { editContext: false, minimap: { enabled: false }, automaticLayout: true } as const;

// The diff editor's own originalAriaLabel/modifiedAriaLabel do not reach its input elements
// (axe reports them unnamed), so each side is named through its inner editor.
export function labelDiffSides(editor: monaco.editor.IStandaloneDiffEditor, original: string, modified: string): void {
  editor.getOriginalEditor().updateOptions({ ariaLabel: original });
  editor.getModifiedEditor().updateOptions({ ariaLabel: modified });
}

export function editorTheme(): string {
  return document.documentElement.classList.contains("dark") ? "vs-dark" : "vs";
}

const LANGUAGES: Record<string, string> = {
  ts: "typescript",
  tsx: "typescript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  json: "json",
  css: "css",
  scss: "scss",
  less: "less",
  html: "html",
  md: "markdown",
  py: "python",
  yml: "yaml",
  yaml: "yaml",
  sh: "shell",
  sql: "sql",
  svg: "xml",
  xml: "xml",
};

export function languageOf(path: string): string {
  const extension = path.split(".").pop()?.toLowerCase() ?? "";
  return LANGUAGES[extension] ?? "plaintext";
}
