"""What the model is told: our rules for the edit protocol, the project's AI_RULES.md and design system,
the code that fits in the model's window (chosen by relevance), and the recent turns of the chat.

Tokens are estimated locally (no tokenizer download at run time): about 3.5 characters per
token for code and prose, with a safety margin, is conservative for every provider we call.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from mm_common.ai.provider_types import ChatMessage

CHARS_PER_TOKEN = 3.5
SAFETY_MARGIN = 0.9  # use at most 90 % of what the estimate says is left
MAX_HISTORY_TURNS = 12
NEVER_SENT = re.compile(
    r"(^|/)(node_modules|dist|build|\.next|coverage|\.turbo|\.cache)/|"
    r"(^|/)(package-lock\.json|pnpm-lock\.yaml|yarn\.lock|bun\.lockb)$|\.(map|min\.js|png|jpe?g|gif|webp|ico|woff2?|ttf|otf|pdf|zip)$"
)

PROTOCOL_RULES = """You are MoreMinimore, an AI that builds and edits web apps. You answer in the chat and change the
project's files with these tags (the only way to change files):

<mm-write path="src/components/Button.tsx" description="What this file does">
FULL FILE CONTENT
</mm-write>
  Writes a whole file (creates or replaces it). Always write the COMPLETE file: never leave
  placeholders such as "// ... rest of the code" or "existing code here".

<mm-edit path="src/App.tsx" description="What changes">
<<<<<<< SEARCH
exact lines from the current file
=======
the new lines
>>>>>>> REPLACE
</mm-edit>
  Changes part of a file. Each SEARCH must match exactly one place in the current file.

<mm-rename from="src/old.tsx" to="src/new.tsx"></mm-rename>
<mm-delete path="src/unused.tsx"></mm-delete>
<mm-add-dependency packages="react-router-dom zod"></mm-add-dependency>   (space separated)
<mm-chat-summary>A short title for this change</mm-chat-summary>   (exactly one, at the end)

Rules: paths are relative to the project root; keep changes small and complete; explain briefly
what you did in plain words outside the tags; do not use both mm-write and mm-edit on one file
in the same answer. In "ask" mode, answer the question without any tag."""


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


@dataclass
class ContextPlan:
    """Which files go to the model whole, which are only listed, and the token estimates."""

    included: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    file_tokens: int = 0
    system_tokens: int = 0
    # The design system's share of system_tokens, and the page whose override it carries.
    design_system_tokens: int = 0
    design_system_page: str | None = None
    history_tokens: int = 0
    budget: int = 0


def _relevance(path: str, mentioned: set[str], recent: set[str], size: int) -> tuple[int, int, int, str]:
    """Smaller sorts first: files the prompt names, then recently changed, then small sources."""
    name = posixpath.basename(path)
    return (
        0 if path in mentioned or name in mentioned else 1,
        0 if path in recent else 1,
        size,
        path,
    )


def plan_context(
    files: dict[str, str],
    *,
    prompt: str,
    history: list[ChatMessage],
    recent_paths: set[str],
    context_window: int,
    max_output_tokens: int,
    system_text: str,
) -> ContextPlan:
    plan = ContextPlan()
    plan.system_tokens = estimate_tokens(system_text)
    plan.history_tokens = sum(estimate_tokens(m.content) for m in history) + estimate_tokens(prompt)
    budget = int((context_window - max_output_tokens - plan.system_tokens - plan.history_tokens) * SAFETY_MARGIN)
    plan.budget = max(0, budget)
    words = set(re.findall(r"[\w./-]+\.\w+", prompt))
    candidates = sorted(
        (p for p in files if not NEVER_SENT.search(p)),
        key=lambda p: _relevance(p, words, recent_paths, len(files[p])),
    )
    for path in candidates:
        cost = estimate_tokens(files[path]) + estimate_tokens(path) + 10
        if plan.file_tokens + cost <= plan.budget:
            plan.included.append(path)
            plan.file_tokens += cost
        else:
            plan.listed.append(path)
    plan.included.sort()
    plan.listed.sort()
    return plan


def system_prompt(*, mode: str, ai_rules: str | None, design_system: str | None = None) -> str:
    """Our rules, the project's AI_RULES.md, and its design system (``mm_common.design.render.prompt_section``:
    the tokens, fonts, sections, anti-patterns and checklist every change must follow)."""
    parts = [PROTOCOL_RULES, f"Mode: {mode}."]
    if ai_rules:
        parts.append("The project's own rules (AI_RULES.md), follow them:\n" + ai_rules.strip())
    if design_system:
        parts.append(design_system.strip())
    return "\n\n".join(parts)


def codebase_message(files: dict[str, str], plan: ContextPlan) -> str:
    chunks = ["This is the project's current code."]
    for path in plan.included:
        chunks.append(f'<mm-file path="{path}">\n{files[path]}\n</mm-file>')
    if plan.listed:
        chunks.append("Other files (not shown; ask for them if you need them):\n" + "\n".join(plan.listed))
    return "\n\n".join(chunks)
