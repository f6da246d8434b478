"""The values of a call to an AI provider: the messages sent, the result and the errors.

Kept apart from :mod:`mm_common.ai.providers`, which makes the call (over httpx, in three wire
protocols), so that code which only builds messages or names provider kinds (a chat's prompt
preview, the chats function) does not load all that at every cold start. ``providers``
re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["PROVIDER_KINDS", "ChatMessage", "ErrorCode", "ProviderError", "ProviderKind", "StreamResult", "Usage"]

ProviderKind = Literal["openai", "anthropic", "gemini", "openrouter", "openai_compatible"]
"""How a provider is spoken to; ``openrouter`` and ``openai_compatible`` use the OpenAI protocol."""

ErrorCode = Literal[
    "invalid_api_key",
    "rate_limited",
    "provider_unavailable",
    "bad_request",
    "timeout",
    "stream_interrupted",
    "provider_address_refused",
]
"""The stable codes of :class:`ProviderError`."""

PROVIDER_KINDS: Final[tuple[ProviderKind, ...]] = ("openai", "anthropic", "gemini", "openrouter", "openai_compatible")

_RETRYABLE: Final[dict[ErrorCode, bool]] = {
    "invalid_api_key": False,
    "rate_limited": True,
    "provider_unavailable": True,
    "bad_request": False,
    "timeout": True,
    "stream_interrupted": True,
    "provider_address_refused": False,
}


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation sent to the model."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts the provider reported for one request.

    ``prompt_tokens`` includes Anthropic's cache-read and cache-creation input tokens;
    ``completion_tokens`` includes Gemini's thinking tokens (``thoughtsTokenCount``), which are
    billed as output, as OpenAI's ``completion_tokens`` already includes reasoning tokens.
    """

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamResult:
    """The outcome of a completed stream.

    ``finish_reason`` is normalised across providers: ``"stop"``, ``"length"`` (the output token
    limit was hit), ``"content_filter"``, ``"tool_calls"``, or else the provider's own value in
    lower case; None when the provider gave none.
    """

    text: str
    usage: Usage | None
    finish_reason: str | None


class ProviderError(Exception):
    """A provider call that failed, described for the user and classified for the caller.

    Attributes:
        code: one of ``invalid_api_key``, ``rate_limited``, ``provider_unavailable``,
            ``bad_request``, ``timeout``, ``stream_interrupted``, ``provider_address_refused`` (the
            provider's host names or resolves to an address the platform does not call).
        message: a sentence fit to show the user; never contains the API key.
        retryable: whether trying again later may succeed (``stream_interrupted`` is retryable,
            but only the caller knows whether to repeat a partly delivered answer).
        status: the HTTP status behind the failure, when there was one.
        retry_after: seconds the provider asked to wait (``Retry-After``), capped; else None.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.retryable = _RETRYABLE[code] if retryable is None else retryable
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"ProviderError(code={self.code!r}, status={self.status!r}, "
            f"retryable={self.retryable!r}, message={self.message!r})"
        )
