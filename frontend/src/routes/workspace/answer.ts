// Splits an assistant answer (possibly still streaming) into prose and file cards, for display
// only: the server parses the answer for real and its proposal is what gets applied.

export type AnswerPart =
  | { kind: "text"; text: string }
  | { kind: "file"; action: string; path: string; from?: string; description?: string; body: string; open: boolean }
  | { kind: "summary"; text: string };

const TAGS = ["write", "edit", "rename", "delete", "add-dependency", "chat-summary", "search-replace"];
const OPEN = new RegExp(`<(mm|dyad)-(${TAGS.join("|")})((?:\\s+[\\w-]+="[^"]*")*)\\s*(/?)>`, "g");

function attributes(raw: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of raw.matchAll(/([\w-]+)="([^"]*)"/g)) found[match[1]!] = match[2]!;
  return found;
}

const ACTION_NAMES: Record<string, string> = { "search-replace": "edit" };

export function splitAnswer(answer: string): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let cursor = 0;
  OPEN.lastIndex = 0;
  for (let match = OPEN.exec(answer); match; match = OPEN.exec(answer)) {
    const [whole, prefix, tag, rawAttributes, selfClosing] = match;
    if (match.index > cursor) parts.push({ kind: "text", text: answer.slice(cursor, match.index) });
    const attrs = attributes(rawAttributes ?? "");
    const closing = `</${prefix}-${tag}>`;
    const bodyStart = match.index + whole.length;
    const end = selfClosing ? bodyStart : answer.indexOf(closing, bodyStart);
    const open = !selfClosing && end < 0;
    const body = selfClosing ? "" : answer.slice(bodyStart, open ? undefined : end);
    if (tag === "chat-summary") {
      parts.push({ kind: "summary", text: body.trim() });
    } else {
      parts.push({
        kind: "file",
        action: ACTION_NAMES[tag!] ?? tag!,
        path: attrs.path ?? attrs.to ?? attrs.packages ?? "",
        from: attrs.from,
        description: attrs.description,
        body,
        open,
      });
    }
    cursor = open ? answer.length : end + (selfClosing ? 0 : closing.length);
    OPEN.lastIndex = cursor;
  }
  if (cursor < answer.length) parts.push({ kind: "text", text: answer.slice(cursor) });
  return parts.filter((part) => part.kind !== "text" || part.text.trim() !== "");
}

export const ACTION_VERBS: Record<string, [string, string]> = {
  write: ["Writing", "Wrote"],
  edit: ["Editing", "Edited"],
  rename: ["Renaming", "Renamed"],
  delete: ["Deleting", "Deleted"],
  "add-dependency": ["Adding", "Added"],
};
