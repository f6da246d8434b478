"""Running one generation job: claim it, call the model, stream, record the answer and usage.

Exactly one answer per job, whatever SQS does: the job is claimed with a lease in Postgres
(a duplicate delivery finds it claimed or finished and does nothing), output is only written
while the lease is ours, and the assistant message and the job's end are committed together.
The job's row is written through :mod:`mm_common.ai.jobs`, the answer through
:mod:`mm_common.messages`; this module owns the monthly ``token_usage`` counters.

The chats function imports this module for the prompt preview (:func:`load_inputs`,
:func:`load_design`, :func:`build_messages`) only; the provider client and the edit protocol's parser are imported
by the job that needs them, so they do not weigh on that function's cold start.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mm_common import db, messages, plans
from mm_common.ai import context, jobs, npm, proposals
from mm_common.ai.catalog import model_with_provider
from mm_common.ai.keys import platform_api_key, user_api_key
from mm_common.ai.provider_types import ChatMessage, ProviderError, StreamResult
from mm_common.auth import Caller, Membership
from mm_common.db import Connection
from mm_common.errors import ApiError, PaymentRequired
from mm_common.observability import count
from mm_common.permissions import Action
from mm_common.snapshots import sha256_hex

if TYPE_CHECKING:
    from mm_common.ai.edit_protocol import ParsedAnswer
    from mm_common.design_systems import PromptDesign

MAX_ATTEMPTS = 3
FLUSH_INTERVAL_S = 0.3
# For a model whose catalog entry does not say: conservative for every provider we call.
DEFAULT_CONTEXT_WINDOW = 32_000
DEFAULT_MAX_OUTPUT_TOKENS = 4_096
# What a model may send that no text column can store: NUL, and surrogates a JSON "\ud800"
# escape decodes to without its pair (not Unicode text, so not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JobFailed(Exception):
    """The job ends failed with this code and message for the user (no retry)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Canceled(Exception):
    pass


class LeaseLost(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: str  # what this delivery did: ran, skipped
    detail: str = ""


def storable(text: str) -> str:
    """The model's text as it can be stored: NUL dropped, an unpaired surrogate replaced (U+FFFD)."""
    return _UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", text)


def _fail(job_id: str, owner: str, code: str, message: str) -> None:
    with db.transaction() as conn:
        jobs.fail(conn, job_id, owner, code, message)


def _month_start() -> datetime:
    now = datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _resolve_key(conn: Connection, job: dict[str, Any], model: dict[str, Any]) -> tuple[str, bool]:
    """(key, metered): the user's own key, else the platform's key within the tier's quota."""
    own = user_api_key(conn, job["created_by"], model["provider_id"]) if job["created_by"] else None
    if own:
        return own, False
    platform = platform_api_key(model["env_var_name"])
    if platform is None and model["kind"] != "openai_compatible":
        raise JobFailed(
            "no_api_key",
            f"There is no key for {model['provider_name']}: add your own in Settings → API keys.",
        )
    # The tier's monthly tokens on the platform's keys: a generation may start while any are left (it may end
    # a little over; the next one is refused).
    try:
        plans.check(conn, job["organization_id"], "ai_tokens", lock=False)
    except PaymentRequired as refused:
        limit = refused.details["limit"]
        raise JobFailed(
            "quota_exceeded",
            f"Your organization has used its {limit:,} AI tokens for this month on the platform's keys. "
            "Add your own API key, or upgrade the plan.",
        ) from None
    return platform or "", True


def load_inputs(
    conn: Connection, *, project_id: Any, chat_id: Any, exclude_message_id: Any = None
) -> tuple[dict[str, str], list[ChatMessage], set[str]]:
    """The project's text files, the chat's recent turns and the recently changed paths."""
    files = {
        r["path"]: r["content"]
        for r in conn.execute(
            "SELECT path, content FROM project_files WHERE project_id = %s AND content IS NOT NULL", (project_id,)
        ).fetchall()
    }
    turns = conn.execute(
        """
        SELECT role, content FROM messages
        WHERE chat_id = %s AND id IS DISTINCT FROM %s AND role IN ('user', 'assistant')
        ORDER BY created_at DESC, id DESC LIMIT %s
        """,
        (chat_id, exclude_message_id, context.MAX_HISTORY_TURNS),
    ).fetchall()
    history = [ChatMessage(role=t["role"], content=t["content"]) for t in reversed(turns)]
    recent = {
        r["path"]
        for r in conn.execute(
            "SELECT path FROM project_files WHERE project_id = %s ORDER BY updated_at DESC LIMIT 20", (project_id,)
        ).fetchall()
    }
    return files, history, recent


def _load(conn: Connection, job: dict[str, Any]) -> tuple[dict[str, str], list[ChatMessage], str, set[str]]:
    files, history, recent = load_inputs(
        conn, project_id=job["project_id"], chat_id=job["chat_id"], exclude_message_id=job["user_message_id"]
    )
    prompt_row = conn.execute("SELECT content FROM messages WHERE id = %s", (job["user_message_id"],)).fetchone()
    return files, history, prompt_row["content"] if prompt_row else "", recent


def context_window(model: dict[str, Any]) -> int:
    return int(model["context_window"] or DEFAULT_CONTEXT_WINDOW)


def max_output_tokens(model: dict[str, Any]) -> int:
    return int(model["max_output_tokens"] or DEFAULT_MAX_OUTPUT_TOKENS)


def load_design(conn: Connection, project_id: Any, prompt: str) -> PromptDesign | None:
    """The project's design system for the prompt (with the override of a page the prompt names)."""
    from mm_common import design_systems

    return design_systems.prompt_for(conn, project_id, prompt)


def build_messages(
    files: dict[str, str],
    history: list[ChatMessage],
    prompt: str,
    recent: set[str],
    model: dict[str, Any],
    mode: str,
    design: PromptDesign | None = None,
) -> tuple[list[ChatMessage], context.ContextPlan]:
    design_text = design.text if design is not None else None
    system = context.system_prompt(mode=mode, ai_rules=files.get("AI_RULES.md"), design_system=design_text)
    plan = context.plan_context(
        files,
        prompt=prompt,
        history=history,
        recent_paths=recent,
        context_window=context_window(model),
        max_output_tokens=max_output_tokens(model),
        system_text=system,
    )
    if design is not None:
        plan.design_system_tokens = context.estimate_tokens(design.text)
        plan.design_system_page = design.page_name
    messages = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content=context.codebase_message(files, plan)),
        ChatMessage(role="assistant", content="Understood. I have the code."),
        *history,
        ChatMessage(role="user", content=prompt),
    ]
    return messages, plan


def proposal_from(parsed: ParsedAnswer, files: dict[str, str]) -> dict[str, Any] | None:
    """What the answer would change, for the user to approve (None: it changes nothing)."""
    from mm_common.ai.edit_protocol import AddDependencies, DeleteFile, EditFile, RenameFile, WriteFile

    entries: list[dict[str, Any]] = []
    dependencies: list[str] = []
    for action in parsed.actions:
        if isinstance(action, WriteFile):
            entries.append({"path": action.path, "action": "write", "description": action.description, "ok": True})
        elif isinstance(action, EditFile):
            entries.append({"path": action.path, "action": "edit", "description": action.description, "ok": True})
        elif isinstance(action, RenameFile):
            entries.append(
                {"path": action.target, "from": action.source, "action": "rename", "description": None, "ok": True}
            )
        elif isinstance(action, DeleteFile):
            entries.append({"path": action.path, "action": "delete", "description": None, "ok": True})
        elif isinstance(action, AddDependencies):
            dependencies.extend(action.packages)
    for problem in parsed.problems:
        entries.append(
            {"path": problem.path, "action": problem.tag, "description": None, "ok": False, "error": problem.reason}
        )
    if not entries and not dependencies:
        return None
    versions = npm.resolve(dependencies) if dependencies else {}
    for spec in dependencies:
        name = spec.rsplit("@", 1)[0] if spec.rfind("@") > 0 else spec
        if name not in versions:
            entries.append(
                {
                    "path": "package.json",
                    "action": "add-dependency",
                    "description": None,
                    "ok": False,
                    "error": f"The npm registry does not know the package '{name}'.",
                }
            )
    touched = {e["path"] for e in entries if e.get("path")} | {e["from"] for e in entries if e.get("from")}
    return {
        "title": parsed.summary,
        "files": entries,
        "dependencies": versions,
        # The sha256 of every touched file when the answer was made: approving later re-checks them.
        "baseline": {p: _sha(files.get(p)) for p in sorted(touched)},
    }


def _sha(content: str | None) -> str | None:
    return sha256_hex(content.encode("utf-8")) if content is not None else None


def run_job(job_id: str, owner: str, deadline: float) -> Outcome:
    """Run one delivery of a job. Raises only for failures SQS should retry."""
    with db.transaction() as conn:
        job = jobs.claim(conn, job_id, owner)
        if job is None:
            status = jobs.status_of(conn, job_id)
            if status is None:
                raise ValueError(f"no generation job {job_id}")  # poison: retried, then the DLQ
            return Outcome(job_id, "skipped", status)
    if job["attempts"] > MAX_ATTEMPTS:
        _fail(job_id, owner, "gave_up", f"The answer failed {MAX_ATTEMPTS} times. Try again.")
        return Outcome(job_id, "ran", "gave_up")
    try:
        with db.transaction() as conn:
            model = model_with_provider(conn, job["model_id"])
            if model is None:
                raise JobFailed("model_unavailable", "The chosen model is no longer available. Pick another one.")
            api_key, metered = _resolve_key(conn, job, model)
            files, history, prompt, recent = _load(conn, job)
            design = load_design(conn, job["project_id"], prompt)
        chat_messages, _plan = build_messages(files, history, prompt, recent, model, job["mode"], design)
        result = _stream(job_id, owner, model, api_key, chat_messages, deadline)
    except JobFailed as failure:
        _fail(job_id, owner, failure.code, failure.message)
        return Outcome(job_id, "ran", failure.code)
    except ProviderError as error:
        _fail(job_id, owner, error.code, error.message)
        return Outcome(job_id, "ran", error.code)
    except Canceled:
        with db.transaction() as conn:
            jobs.end_canceled(conn, job_id, owner)
        return Outcome(job_id, "ran", "canceled")
    except LeaseLost:
        return Outcome(job_id, "skipped", "lease lost")
    message_id = _finish(job, owner, model, result, files, metered)
    if message_id is not None:
        _auto_approve(job, message_id)
    return Outcome(job_id, "ran", "succeeded")


def _creator_may_edit(conn: Connection, job: dict[str, Any]) -> bool:
    """Whether whoever asked may still change the project, as the permission table says: an
    answer is applied in their name, and their account or role may have changed meanwhile."""
    if job["created_by"] is None:
        return False
    row = conn.execute(
        """
        SELECT u.role, u.is_active, m.id AS member_id, m.role AS member_role, m.permissions
        FROM users u LEFT JOIN organization_members m ON m.user_id = u.id AND m.organization_id = %s
        WHERE u.id = %s
        """,
        (job["organization_id"], job["created_by"]),
    ).fetchone()
    if row is None or not row["is_active"]:
        return False
    creator = Caller(
        user_id=job["created_by"],
        role=row["role"],
        membership=Membership(
            organization_id=job["organization_id"],
            member_id=row["member_id"],
            role=row["member_role"],
            permissions=frozenset(row["permissions"] or []),
        ),
    )
    return creator.may(Action.PROJECT_EDIT)


def _auto_approve(job: dict[str, Any], message_id: Any) -> None:
    """Projects set to auto-approve get the answer applied at once, in the name of whoever asked
    if they may still edit the project (a stale answer stays pending for them to decide)."""
    with db.transaction() as conn:
        project = conn.execute("SELECT auto_approve FROM projects WHERE id = %s", (job["project_id"],)).fetchone()
        has_proposal = conn.execute(
            "SELECT 1 FROM messages WHERE id = %s AND approval_state = 'pending'", (message_id,)
        ).fetchone()
        allowed = bool(project and project["auto_approve"] and has_proposal) and _creator_may_edit(conn, job)
    if not allowed:
        return
    try:
        with db.transaction() as conn:
            proposals.approve(conn, message_id, job["created_by"])
    except ApiError:
        return  # the user decides instead
    count("generation", "ProposalAutoApproved")


def _stream(
    job_id: str, owner: str, model: dict[str, Any], api_key: str, chat_messages: list[ChatMessage], deadline: float
) -> StreamResult:
    """Call the model, storing the output so far every FLUSH_INTERVAL_S (which is also when a
    cancel is noticed). Raises Canceled, or LeaseLost when another delivery took the job over."""
    buffer: list[str] = []
    last_flush = [time.monotonic()]

    def flush() -> None:
        with db.transaction() as conn:
            progress = jobs.save_output(conn, job_id, owner, "".join(buffer))
        if progress is None:
            raise LeaseLost()
        if progress.cancel_requested:
            raise Canceled()
        last_flush[0] = time.monotonic()

    def on_text(chunk: str) -> None:
        first = not buffer
        buffer.append(storable(chunk))
        # The first text is stored at once (the person sees the answer start); then at most
        # every FLUSH_INTERVAL_S.
        if first or time.monotonic() - last_flush[0] >= FLUSH_INTERVAL_S:
            flush()

    from mm_common.ai.providers import stream_chat

    result = stream_chat(
        kind=model["kind"],
        base_url=model["api_base_url"],
        api_key=api_key,
        model=model["api_name"],
        messages=chat_messages,
        max_output_tokens=max_output_tokens(model),
        on_text=on_text,
        deadline=deadline,
    )
    return replace(result, text=storable(result.text))


def _finish(
    job: dict[str, Any], owner: str, model: dict[str, Any], result: StreamResult, files: dict[str, str], metered: bool
) -> Any:
    """Record the answer (and usage) and end the job, together; return the assistant message's
    id (None when another delivery took the job over: its answer counts, not this one)."""
    from mm_common.ai.edit_protocol import parse_answer

    parsed = parse_answer(result.text)
    proposal = proposal_from(parsed, files) if job["mode"] == "build" else None
    usage = result.usage
    prompt_tokens = usage.prompt_tokens if usage else None
    completion_tokens = usage.completion_tokens if usage else None
    with db.transaction() as conn:
        if not jobs.hold(conn, job["id"], owner):
            return None
        message = messages.add_assistant_message(
            conn,
            chat_id=job["chat_id"],
            content=result.text,
            metadata={
                "jobId": str(job["id"]),
                "model": model["api_name"],
                "provider": model["provider_slug"],
                "usage": {"promptTokens": prompt_tokens, "completionTokens": completion_tokens},
                "finishReason": result.finish_reason,
                "meteredKey": metered,
            },
            proposal=proposal,
            model_id=model["model_id"],
            summary=parsed.summary,
        )
        jobs.succeed(
            conn,
            job["id"],
            output=result.text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            assistant_message_id=message["id"],
        )
        if usage:
            _record_usage(
                conn,
                job["organization_id"],
                prompt_tokens=prompt_tokens or 0,
                completion_tokens=completion_tokens or 0,
                metered=metered,
            )
    return message["id"]


def _record_usage(
    conn: Connection, organization_id: Any, *, prompt_tokens: int, completion_tokens: int, metered: bool
) -> None:
    """Add a job's tokens to the organization's month (metered: on the platform's key)."""
    conn.execute(
        """
        INSERT INTO token_usage AS t (organization_id, period_month, prompt_tokens, completion_tokens,
                                 metered_prompt_tokens, metered_completion_tokens)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (organization_id, period_month) DO UPDATE SET
            prompt_tokens = t.prompt_tokens + EXCLUDED.prompt_tokens,
            completion_tokens = t.completion_tokens + EXCLUDED.completion_tokens,
            metered_prompt_tokens = t.metered_prompt_tokens + EXCLUDED.metered_prompt_tokens,
            metered_completion_tokens = t.metered_completion_tokens + EXCLUDED.metered_completion_tokens
        """,
        (
            organization_id,
            _month_start().date(),
            prompt_tokens,
            completion_tokens,
            prompt_tokens if metered else 0,
            completion_tokens if metered else 0,
        ),
    )
