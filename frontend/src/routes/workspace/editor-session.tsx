import { createContext, useContext, useState, type Dispatch, type ReactNode, type SetStateAction } from "react";
import type { components } from "@/api/schema";

export type FileContent = components["schemas"]["FileContent"];

export interface Conflict {
  mine: string;
  theirs: FileContent;
}

// The open file, its unsaved text and a pending save conflict belong to the workspace, not to the
// code panel: switching tabs or resizing the window (which swaps the pane layout and remounts the
// panel) must not drop someone's edits.
interface EditorSession {
  selected: string | null;
  setSelected: Dispatch<SetStateAction<string | null>>;
  draft: string | null;
  setDraft: Dispatch<SetStateAction<string | null>>;
  conflict: Conflict | null;
  setConflict: Dispatch<SetStateAction<Conflict | null>>;
}

const Session = createContext<EditorSession | null>(null);

export function EditorSessionProvider({ children }: { children: ReactNode }) {
  const [selected, setSelected] = useState<string | null>(null);
  const [draft, setDraft] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  return <Session.Provider value={{ selected, setSelected, draft, setDraft, conflict, setConflict }}>{children}</Session.Provider>;
}

export function useEditorSession(): EditorSession {
  const session = useContext(Session);
  if (!session) throw new Error("useEditorSession needs an EditorSessionProvider");
  return session;
}
