"""Request and response bodies of the chats function (chats, messages, the prompt library)."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.models import ApiModel, RequestModel, UtcDatetime

MAX_TITLE_LENGTH = 255
MAX_MESSAGE_LENGTH = 100_000
MAX_PROMPT_LENGTH = 20_000
MAX_DESCRIPTION_LENGTH = 5_000
MAX_CATEGORY_LENGTH = 100
MAX_QUERY_LENGTH = 200


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def _line(value: str, what: str, max_length: int) -> str:
    """A one-line label (titles, categories): trimmed, 1..max_length, no control characters."""
    value = value.strip()
    if not value:
        raise ValueError(f"Give the {what} some text, not only spaces.")
    if len(value) > max_length:
        raise ValueError(f"Use at most {max_length} characters for the {what}.")
    if has_control_characters(value):
        raise ValueError(f"The {what} cannot contain control characters (tabs, line breaks...).")
    return value


def _text(value: str, what: str) -> str:
    """Free text (messages, prompt bodies): kept as sent, but not blank. (NUL and unpaired
    surrogates, which no text column can store, are refused for the whole body: RequestModel.)"""
    if not value.strip():
        raise ValueError(f"The {what} cannot be empty or only spaces.")
    return value


def _not_null(value: Any) -> Any:
    # Optional fields of a PATCH may be left out, but not set to null.
    if value is None:
        raise ValueError("Leave the field out instead of sending null.")
    return value


# -------------------------------------------------------------------------------------- chats


class Chat(ApiModel):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str | None = Field(description="Null until set, or until the first message names the chat.")
    created_by: uuid.UUID | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    active_job_id: uuid.UUID | None = Field(
        description="The job still queued or running in this chat (follow it with GET /api/jobs/{id}), else null."
    )


class ChatEnvelope(ApiModel):
    chat: Chat


class ChatPage(ApiModel):
    items: list[Chat]
    next_cursor: str | None = None


def _chat_title(value: str | None) -> str | None:
    return None if value is None else _line(value, "title", MAX_TITLE_LENGTH)


class CreateChatBody(RequestModel):
    title: str | None = Field(
        default=None,
        max_length=1024,
        description="Optional; without one, the chat is named after its first message.",
    )

    _check_title = field_validator("title")(_chat_title)


class UpdateChatBody(RequestModel):
    title: str = Field(max_length=1024)

    _check_title = field_validator("title")(_chat_title)


# ----------------------------------------------------------------------------------- messages


class ProposedChange(ApiModel):
    path: str
    from_: str | None = Field(default=None, alias="from", description="A rename's old path.")
    action: str = Field(description="write, edit, rename, delete or add-dependency.")
    description: str | None = None
    ok: bool = Field(description="False: this change cannot be applied (see error); the others still can.")
    error: str | None = None


class Proposal(ApiModel):
    title: str | None = None
    files: list[ProposedChange]
    dependencies: dict[str, str] = Field(default_factory=dict, description="npm packages to add, with versions.")
    applied: list[dict[str, Any]] | None = Field(default=None, description="Once approved: how each change went.")


class Message(ApiModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    role: Literal["user", "assistant", "system"]
    content: str
    metadata: dict[str, Any] | None
    approval_state: Literal["pending", "approved", "rejected"] | None = Field(
        description="Assistant turns with file changes: whether they were applied (null: nothing to approve)."
    )
    proposal: Proposal | None = Field(
        default=None, description="The file changes an assistant turn proposes (what Approve applies)."
    )
    created_by: uuid.UUID | None
    created_at: UtcDatetime

    @field_validator("proposal", mode="before")
    @classmethod
    def _public_part(cls, value: Any) -> Any:
        # What the stored proposal holds for the server only (the baseline: each touched file's
        # hash when the answer was made, for the staleness check) stays out.
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if key in Proposal.model_fields}
        return value


class MessageEnvelope(ApiModel):
    message: Message


class MessagePage(ApiModel):
    items: list[Message]
    next_cursor: str | None = None


class PostMessageBody(RequestModel):
    content: str = Field(max_length=MAX_MESSAGE_LENGTH)
    model_id: uuid.UUID | None = None
    # build: the answer may change files (a proposal to approve); ask: an answer only.
    mode: Literal["build", "ask"] = "build"

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _text(value, "message")


# ------------------------------------------------------------------------------------ prompts


class Prompt(ApiModel):
    id: uuid.UUID
    title: str
    description: str | None
    content: str
    category: str | None
    is_public: bool
    created_by: uuid.UUID | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class PromptEnvelope(ApiModel):
    prompt: Prompt


class PromptPage(ApiModel):
    items: list[Prompt]
    next_cursor: str | None = None


def _prompt_title(value: str | None) -> str | None:
    return None if value is None else _line(value, "title", MAX_TITLE_LENGTH)


def _prompt_content(value: str | None) -> str | None:
    return None if value is None else _text(value, "prompt")


def _description(value: str | None) -> str | None:
    """Trimmed; blank means none."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(f"Use at most {MAX_DESCRIPTION_LENGTH} characters for the description.")
    return value or None


def _category(value: str | None) -> str | None:
    """Trimmed; blank means none."""
    if value is None or not value.strip():
        return None
    return _line(value, "category", MAX_CATEGORY_LENGTH)


class CreatePromptBody(RequestModel):
    title: str = Field(max_length=1024)
    description: str | None = Field(default=None, max_length=2 * MAX_DESCRIPTION_LENGTH)
    content: str = Field(max_length=MAX_PROMPT_LENGTH)
    category: str | None = Field(default=None, max_length=1024)
    is_public: bool = Field(default=False, description="Public prompts are visible to every signed-in user.")

    _check_title = field_validator("title")(_prompt_title)
    _check_description = field_validator("description")(_description)
    _check_content = field_validator("content")(_prompt_content)
    _check_category = field_validator("category")(_category)


class UpdatePromptBody(RequestModel):
    """Only the fields sent change; description and category may be set to null to clear them."""

    title: str | None = Field(default=None, max_length=1024)
    description: str | None = Field(default=None, max_length=2 * MAX_DESCRIPTION_LENGTH)
    content: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    category: str | None = Field(default=None, max_length=1024)
    is_public: bool | None = None

    _check_not_null = field_validator("title", "content", "is_public", mode="before")(_not_null)
    _check_title = field_validator("title")(_prompt_title)
    _check_description = field_validator("description")(_description)
    _check_content = field_validator("content")(_prompt_content)
    _check_category = field_validator("category")(_category)


class JobUsage(ApiModel):
    prompt_tokens: int | None
    completion_tokens: int | None


class JobError(ApiModel):
    code: str
    message: str


class Job(ApiModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    mode: Literal["build", "ask"]
    model_id: uuid.UUID | None
    # The answer streamed so far, from the offset asked for (?since=), and the full length.
    output: str
    output_offset: int
    output_length: int
    usage: JobUsage
    error: JobError | None
    user_message_id: uuid.UUID | None
    assistant_message_id: uuid.UUID | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None


class JobEnvelope(ApiModel):
    job: Job


class PostedMessage(ApiModel):
    message: Message
    job: Job


class Decision(ApiModel):
    message: Message
    version_id: uuid.UUID | None = None


class ContextFile(ApiModel):
    path: str
    tokens: int


class ContextDesignSystem(ApiModel):
    """The project's design system as the prompt carries it (part of the system prompt)."""

    text: str
    tokens: int
    page_name: str | None = Field(description="The page whose override it carries (the prompt names it).")


class ContextPreview(ApiModel):
    model_id: uuid.UUID
    context_window: int
    max_output_tokens: int
    budget: int
    system_tokens: int
    design_system: ContextDesignSystem | None = Field(description="Null when the project has no design system.")
    history_tokens: int
    file_tokens: int
    included: list[ContextFile]
    listed: list[str]


class UndoResult(ApiModel):
    version_id: uuid.UUID
    restored_version_id: uuid.UUID


# ----------------------------------------------------------------------------- from the rows


def job_from_row(row: dict[str, Any], since: int) -> Job:
    """A job as the API shows it, with its output from character ``since`` on."""
    error = JobError(code=row["error_code"], message=row["error_message"] or "") if row["error_code"] else None
    return Job(
        id=row["id"],
        chat_id=row["chat_id"],
        status=row["status"],
        mode=row["mode"],
        model_id=row["model_id"],
        output=row["output"][since:],
        output_offset=min(since, len(row["output"])),
        output_length=len(row["output"]),
        usage=JobUsage(prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"]),
        error=error,
        user_message_id=row["user_message_id"],
        assistant_message_id=row["assistant_message_id"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )
