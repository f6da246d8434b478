"""Streaming chat with the AI providers MoreMinimore supports, with real token usage and honest errors.

One entry point, :func:`stream_chat`, speaks three wire protocols over ``httpx``:

* OpenAI Chat Completions (``POST {base}/chat/completions``, ``stream: true`` and
  ``stream_options.include_usage``), used by the ``openai``, ``openrouter`` and
  ``openai_compatible`` kinds. Usage arrives in a last chunk whose ``choices`` is empty, before
  ``data: [DONE]``; servers that ignore ``stream_options`` send none, and the result's usage is None.
* Anthropic Messages (``POST {base}/messages``): ``message_start`` (input tokens),
  ``content_block_delta``/``text_delta`` (text), ``message_delta`` (stop reason, output tokens),
  ``message_stop``; ``ping`` and ``error`` events may appear anywhere.
* Google Gemini (``POST {base}/models/{model}:streamGenerateContent?alt=sse``): each event is a
  whole ``GenerateContentResponse``; text in ``candidates[0].content.parts[].text``, the end in
  ``finishReason``, usage in ``usageMetadata``. There is no end sentinel.

Failures become :class:`ProviderError` with a stable ``code``. Rate limits, server errors and
timeouts are retried with backoff, but only while no text of the attempt has reached ``on_text``
and while the caller's deadline allows; the API key never appears in a message, a log line or an
exception raised here.

Connections go through :mod:`mm_common.ai.netguard`: the provider's host is resolved, every
address it resolves to is checked against the platform's address rule, and the connection goes to
a checked address; a refused host fails with ``provider_address_refused`` before anything is sent.

httpx is imported by the first call, not with this module: the functions that only need the
values here (:class:`ChatMessage`, the provider kinds) do not load it at every cold start.
"""

from __future__ import annotations

import codecs
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from mm_common.ai.netguard import AddressRefused, guarded_client, host_refusal
from mm_common.ai.provider_types import (
    PROVIDER_KINDS,
    ChatMessage,
    ErrorCode,
    ProviderError,
    ProviderKind,
    StreamResult,
    Usage,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ANTHROPIC_VERSION",
    "PROVIDER_KINDS",
    "ChatMessage",
    "ErrorCode",
    "ProviderError",
    "ProviderKind",
    "SseDecoder",
    "SseEvent",
    "StreamResult",
    "Usage",
    "iter_sse_events",
    "stream_chat",
]

ANTHROPIC_VERSION: Final = "2023-06-01"
"""The ``anthropic-version`` header sent with every Anthropic request."""

CONNECT_TIMEOUT_S: Final = 10.0
"""Longest wait for a TCP/TLS connection (always capped by the time left before the deadline)."""
READ_TIMEOUT_S: Final = 120.0
"""Longest silence tolerated between two reads; reasoning models can think a while before the first token."""
WRITE_TIMEOUT_S: Final = 30.0
BACKOFF_BASE_S: Final = 0.5
"""The first retry waits between half of this and this; each further retry doubles it."""
BACKOFF_MAX_S: Final = 8.0
RETRY_AFTER_MAX_S: Final = 30.0
"""A provider's ``Retry-After`` is honoured up to this many seconds."""
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
MAX_DETAIL_CHARS: Final = 300

_log = logging.getLogger(__name__)

_NAMES: Final[dict[ProviderKind, str]] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Google Gemini",
    "openrouter": "OpenRouter",
    "openai_compatible": "The OpenAI-compatible provider",
}


# --- Server-sent events --------------------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    """One dispatched server-sent event: its ``event:`` type (``"message"`` when absent) and data."""

    event: str
    data: str


_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


class SseDecoder:
    """An incremental ``text/event-stream`` decoder (WHATWG HTML, "server-sent events").

    Feed it bytes as they arrive; it returns each event once its terminating blank line is seen.
    Lines may end in CRLF, LF or CR, also split across chunks; UTF-8 may be split anywhere; a
    leading BOM is dropped; ``:`` lines are comments; several ``data:`` lines join with ``\\n``;
    ``id:`` and ``retry:`` are ignored (nothing here reconnects).
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial_line = ""
        self._skip_lf = False
        self._started = False
        self._event_type = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Decode one chunk of the body; return the events it completed."""
        return self._feed_text(self._utf8.decode(chunk))

    def close(self) -> list[SseEvent]:
        """End of body. An unterminated last line is dropped (it may be cut short), but an event
        whose lines all arrived is still dispatched without its blank line, as some
        OpenAI-compatible servers end the stream that way."""
        events = self._feed_text(self._utf8.decode(b"", final=True))
        self._partial_line = ""
        last = self._dispatch()
        if last is not None:
            events.append(last)
        return events

    def _feed_text(self, text: str) -> list[SseEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf:
            self._skip_lf = False
            text = text.removeprefix("\n")
        buffer = self._partial_line + text
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_BREAK.finditer(buffer):
            event = self._line(buffer[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._partial_line = buffer[start:]
        # A CR at the very end may be the first half of a CRLF split across two chunks.
        self._skip_lf = start == len(buffer) and buffer.endswith("\r")
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event_type = self._data, self._event_type
        self._data, self._event_type = [], ""
        if not data:
            return None
        return SseEvent(event=event_type or "message", data="\n".join(data))


def iter_sse_events(chunks: Iterable[bytes]) -> Iterator[SseEvent]:
    """Yield the server-sent events of a body given as byte chunks, each as soon as it is complete."""
    decoder = SseDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


# --- Protocols -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Progress:
    """What one attempt has received so far."""

    parts: list[str] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_parts: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    ended: bool = False  # the protocol's explicit end marker ([DONE], message_stop) was seen

    @property
    def delivered(self) -> bool:
        return bool(self.parts)

    @property
    def complete(self) -> bool:
        return self.ended or self.finish_reason is not None

    def usage(self) -> Usage | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return Usage(prompt_tokens=self.prompt_tokens or 0, completion_tokens=self.completion_tokens or 0)


class _UpstreamError(Exception):
    """An error object the provider sent inside a 200 stream."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__("provider error event")
        self.payload = payload


class _MalformedStream(Exception):
    """An event whose data is not the JSON the protocol promises."""


_FINISH_REASONS: Final[dict[str, str]] = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "image_safety": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
}


def _finish_reason(raw: str) -> str:
    lowered = raw.lower()
    return _FINISH_REASONS.get(lowered, lowered)


def _json_object(data: str) -> dict[str, Any]:
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise _MalformedStream("event data is not JSON") from exc
    if not isinstance(payload, dict):
        raise _MalformedStream("event data is not a JSON object")
    return payload


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _join(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _split_system(messages: list[ChatMessage]) -> tuple[str, list[ChatMessage]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    return system, [m for m in messages if m.role != "system"]


def _openai_request(
    kind: ProviderKind,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[ChatMessage],
    max_output_tokens: int,
    include_usage: bool,
) -> _Request:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
    }
    # OpenAI deprecated max_tokens for max_completion_tokens (reasoning models reject max_tokens);
    # OpenRouter and the self-hosted servers (Ollama, vLLM, LM Studio) know max_tokens.
    body["max_completion_tokens" if kind == "openai" else "max_tokens"] = max_output_tokens
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return _Request(_join(base_url, "chat/completions"), headers, body)


def _openai_event(event: SseEvent, progress: _Progress) -> list[str]:
    data = event.data.strip()
    if data == "[DONE]":
        progress.ended = True
        return []
    payload = _json_object(data)
    if payload.get("error") is not None or payload.get("object") == "error":
        raise _UpstreamError(payload)
    texts: list[str] = []
    choices = payload.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        content = _as_dict(choice.get("delta")).get("content")
        if isinstance(content, str) and content:
            texts.append(content)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            progress.finish_reason = _finish_reason(reason)
    usage = payload.get("usage")
    if isinstance(usage, dict):
        prompt, completion = _as_int(usage.get("prompt_tokens")), _as_int(usage.get("completion_tokens"))
        if prompt is not None:
            progress.prompt_tokens = prompt
        if completion is not None:
            progress.completion_tokens = completion
    return texts


def _anthropic_request(
    kind: ProviderKind,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[ChatMessage],
    max_output_tokens: int,
    include_usage: bool,
) -> _Request:
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    if api_key:
        headers["x-api-key"] = api_key
    system, turns = _split_system(messages)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_output_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in turns],
        "stream": True,
    }
    if system:
        body["system"] = system
    return _Request(_join(base_url, "messages"), headers, body)


_ANTHROPIC_INPUT_FIELDS: Final = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _anthropic_usage(usage: dict[str, Any], progress: _Progress) -> None:
    # Counts in message_delta are cumulative, so the latest value of each field wins.
    for name in _ANTHROPIC_INPUT_FIELDS:
        value = _as_int(usage.get(name))
        if value is not None:
            progress.prompt_parts[name] = value
    if progress.prompt_parts:
        progress.prompt_tokens = sum(progress.prompt_parts.values())
    output = _as_int(usage.get("output_tokens"))
    if output is not None:
        progress.completion_tokens = output


def _anthropic_event(event: SseEvent, progress: _Progress) -> list[str]:
    payload = _json_object(event.data)
    event_type = payload.get("type") or event.event
    if event_type == "message_start":
        _anthropic_usage(_as_dict(_as_dict(payload.get("message")).get("usage")), progress)
    elif event_type == "content_block_start":
        block = _as_dict(payload.get("content_block"))
        text = block.get("text")
        if block.get("type") == "text" and isinstance(text, str) and text:
            return [text]
    elif event_type == "content_block_delta":
        delta = _as_dict(payload.get("delta"))
        text = delta.get("text")
        if delta.get("type") == "text_delta" and isinstance(text, str) and text:
            return [text]
    elif event_type == "message_delta":
        reason = _as_dict(payload.get("delta")).get("stop_reason")
        if isinstance(reason, str) and reason:
            progress.finish_reason = _finish_reason(reason)
        _anthropic_usage(_as_dict(payload.get("usage")), progress)
    elif event_type == "message_stop":
        progress.ended = True
    elif event_type == "error":
        raise _UpstreamError(payload)
    # ping, content_block_stop, thinking deltas and future event types carry no answer text.
    return []


def _gemini_request(
    kind: ProviderKind,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[ChatMessage],
    max_output_tokens: int,
    include_usage: bool,
) -> _Request:
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if api_key:
        headers["x-goog-api-key"] = api_key
    resource = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    url = _join(base_url, f"{quote(resource, safe='/')}:streamGenerateContent") + "?alt=sse"
    system, turns = _split_system(messages)
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]} for m in turns
        ],
        "generationConfig": {"maxOutputTokens": max_output_tokens},
    }
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    return _Request(url, headers, body)


def _gemini_event(event: SseEvent, progress: _Progress) -> list[str]:
    payload = _json_object(event.data)
    if payload.get("error") is not None:
        raise _UpstreamError(payload)
    texts: list[str] = []
    candidates = payload.get("candidates")
    if isinstance(candidates, list) and candidates:
        candidate = _as_dict(candidates[0])
        parts = _as_dict(candidate.get("content")).get("parts")
        for part in parts if isinstance(parts, list) else []:
            text = _as_dict(part).get("text")
            if isinstance(text, str) and text and _as_dict(part).get("thought") is not True:
                texts.append(text)
        reason = candidate.get("finishReason")
        if isinstance(reason, str) and reason and reason != "FINISH_REASON_UNSPECIFIED":
            progress.finish_reason = _finish_reason(reason)
    if _as_dict(payload.get("promptFeedback")).get("blockReason"):
        progress.finish_reason = "content_filter"
    usage = payload.get("usageMetadata")
    if isinstance(usage, dict):
        prompt = _as_int(usage.get("promptTokenCount"))
        candidates_tokens = _as_int(usage.get("candidatesTokenCount"))
        thoughts = _as_int(usage.get("thoughtsTokenCount"))
        if prompt is not None:
            progress.prompt_tokens = prompt
        if candidates_tokens is not None or thoughts is not None:
            progress.completion_tokens = (candidates_tokens or 0) + (thoughts or 0)
    return texts


_RequestBuilder = Callable[[ProviderKind, str, str, str, list[ChatMessage], int, bool], _Request]
_EventHandler = Callable[[SseEvent, _Progress], list[str]]

_PROTOCOLS: Final[dict[ProviderKind, tuple[_RequestBuilder, _EventHandler]]] = {
    "openai": (_openai_request, _openai_event),
    "openrouter": (_openai_request, _openai_event),
    "openai_compatible": (_openai_request, _openai_event),
    "anthropic": (_anthropic_request, _anthropic_event),
    "gemini": (_gemini_request, _gemini_event),
}


# --- Errors --------------------------------------------------------------------------------------

_MASKED_SECRET: Final = re.compile(r"\S*\*{3,}\S*")


def _scrub(text: str, api_key: str) -> str:
    """Make provider text safe to show: no key (whole, masked or in fragments), one line, short."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    text = _MASKED_SECRET.sub("[redacted]", text)
    if len(api_key) >= 16:
        fragments = (api_key[:8], api_key[-6:])
        text = " ".join("[redacted]" if any(f in word for f in fragments) else word for word in text.split())
    text = " ".join(text.split())
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1].rstrip() + "…"
    return text


def _error_object(payload: Any) -> dict[str, Any]:
    """The ``error`` object of an OpenAI, OpenRouter, Anthropic or Gemini error body (or vLLM's flat one)."""
    if isinstance(payload, list) and payload:  # Gemini without alt=sse answers a JSON array
        payload = payload[0]
    if not isinstance(payload, dict):
        return {}
    error = payload.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str):  # Ollama: {"error": "model 'x' not found"}
        return {"message": error}
    if payload.get("object") == "error" or "message" in payload:  # vLLM: {"object": "error", "message": ...}
        return payload
    if isinstance(payload.get("detail"), str):
        return {"message": payload["detail"]}
    return {}


def _error_detail(error: dict[str, Any], raw: str, api_key: str) -> str:
    message = error.get("message")
    if not isinstance(message, str) or not message.strip():
        stripped = raw.strip()
        # A proxy's HTML error page says nothing useful in one line.
        message = "" if stripped.startswith("<") else stripped
    return _scrub(message, api_key)


def _error_kind(error: dict[str, Any]) -> str:
    """The provider's own error type: OpenAI ``type``/``code``, Anthropic ``type``, Gemini ``status``."""
    words = [error.get(key) for key in ("type", "status", "code")]
    return " ".join(w for w in words if isinstance(w, str)).lower()


def _gemini_key_invalid(error: dict[str, Any]) -> bool:
    # Gemini answers a bad key with 400 INVALID_ARGUMENT and ErrorInfo reason API_KEY_INVALID.
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if _as_dict(detail).get("reason") == "API_KEY_INVALID":
            return True
    message = error.get("message")
    return isinstance(message, str) and "api key not valid" in message.lower()


def _parse_seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if math.isfinite(seconds) else None


def _retry_after(headers: httpx.Headers, error: dict[str, Any]) -> float | None:
    seconds: float | None = None
    if ms := headers.get("retry-after-ms"):
        parsed = _parse_seconds(ms)
        seconds = None if parsed is None else parsed / 1000
    if seconds is None and (value := headers.get("retry-after")):
        seconds = _parse_seconds(value)
    if seconds is None:  # Gemini: details[] RetryInfo {"retryDelay": "37s"}
        details = error.get("details")
        for detail in details if isinstance(details, list) else []:
            delay = _as_dict(detail).get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                seconds = _parse_seconds(delay[:-1])
    if seconds is None:
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def _key_refused(kind: ProviderKind, status: int) -> str:
    fix = "Check the key in Settings → API keys."
    if kind == "openai_compatible":
        return f"The API key for the OpenAI-compatible provider was refused ({status}). {fix}"
    return f"The {_NAMES[kind]} API key was refused ({status}). {fix}"


def _classify(status: int | None, error_kind: str) -> ErrorCode:
    if status in (401, 403) or any(w in error_kind for w in ("authentication", "permission", "unauthenticated")):
        return "invalid_api_key"
    if status == 429 or any(w in error_kind for w in ("rate_limit", "resource_exhausted")):
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status is not None and 400 <= status < 500:
        return "bad_request"
    return "provider_unavailable"


def _http_error(kind: ProviderKind, response: httpx.Response, raw: bytes, api_key: str) -> ProviderError:
    status = response.status_code
    text = raw.decode("utf-8", errors="replace")
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = None
    error = _error_object(payload)
    detail = _error_detail(error, text, api_key)
    name = _NAMES[kind]
    if kind == "openrouter" and status == 403 and _as_dict(error.get("metadata")).get("flagged_input"):
        # OpenRouter's 403 also means "the moderation flagged your input", which is no key problem.
        return ProviderError("bad_request", f"{name} refused the request (403): {detail}", status=status)
    if kind == "gemini" and status == 400 and _gemini_key_invalid(error):
        return ProviderError("invalid_api_key", _key_refused(kind, status), status=status)
    code = _classify(status, "") if status >= 400 else "bad_request"
    if code == "invalid_api_key":
        message = _key_refused(kind, status)
        if status == 403 and detail:
            message += f" The provider said: {detail}"
        return ProviderError(code, message, status=status)
    if code == "rate_limited":
        return ProviderError(
            code,
            f"{name} is rate-limiting requests (429). Try again in a moment.",
            status=status,
            retry_after=_retry_after(response.headers, error),
        )
    if code == "timeout":
        return ProviderError(code, f"{name} timed out before answering ({status}).", status=status)
    if code == "provider_unavailable":
        return ProviderError(
            code,
            f"{name} is unavailable right now ({status}). Try again in a moment.",
            status=status,
            retry_after=_retry_after(response.headers, error),
        )
    suffix = f": {detail}" if detail else "."
    if 300 <= status < 400:
        suffix = " (a redirect). Check the provider's base URL."
    return ProviderError("bad_request", f"{name} rejected the request ({status}){suffix}", status=status)


def _stream_error(kind: ProviderKind, error: dict[str, Any], api_key: str, delivered: bool) -> ProviderError:
    """An error object received with a 2xx status (inside the stream, or as a JSON body)."""
    detail = _error_detail(error, "", api_key)
    status = _as_int(error.get("code"))
    name = _NAMES[kind]
    said = f": {detail}" if detail else "."
    if delivered:
        return ProviderError("stream_interrupted", f"{name} stopped partway through the answer{said}", status=status)
    code = _classify(status, _error_kind(error))
    if code == "invalid_api_key":
        return ProviderError(code, _key_refused(kind, status or 401), status=status)
    if code == "bad_request":
        return ProviderError(code, f"{name} rejected the request{said}", status=status)
    if code == "rate_limited":
        return ProviderError(code, f"{name} is rate-limiting requests{said}", status=status)
    return ProviderError(code, f"{name} failed before answering{said}", status=status)


# --- Streaming -----------------------------------------------------------------------------------


def _read_capped(response: httpx.Response) -> bytes:
    import httpx

    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body.extend(chunk)
            if len(body) >= MAX_ERROR_BODY_BYTES:
                break
    except httpx.HTTPError:
        pass  # the status line already says what matters
    return bytes(body[:MAX_ERROR_BODY_BYTES])


def _attempt(
    http: httpx.Client,
    kind: ProviderKind,
    request: _Request,
    progress: _Progress,
    *,
    api_key: str,
    on_text: Callable[[str], None],
    deadline: float,
) -> StreamResult:
    """One HTTP request, streamed into ``progress``; raises ProviderError on any failure."""
    import httpx

    name = _NAMES[kind]
    handle = _PROTOCOLS[kind][1]
    remaining = deadline - time.monotonic()
    timeout = httpx.Timeout(
        connect=min(CONNECT_TIMEOUT_S, remaining),
        read=min(READ_TIMEOUT_S, remaining),
        write=min(WRITE_TIMEOUT_S, remaining),
        pool=min(CONNECT_TIMEOUT_S, remaining),
    )

    def deliver(texts: list[str]) -> None:
        for text in texts:
            progress.parts.append(text)
            on_text(text)

    try:
        with http.stream("POST", request.url, headers=request.headers, json=request.body, timeout=timeout) as response:
            if not 200 <= response.status_code < 300:
                raise _http_error(kind, response, _read_capped(response), api_key)
            content_type = response.headers.get("content-type", "").lower()
            if "json" in content_type and "event-stream" not in content_type:
                error = _error_object(_safe_json(_read_capped(response)))
                if error:
                    raise _stream_error(kind, error, api_key, delivered=False)
                raise ProviderError(
                    "bad_request",
                    f"{name} answered without streaming ({content_type}). Check the provider's base URL.",
                    status=response.status_code,
                )
            decoder = SseDecoder()
            for chunk in response.iter_bytes():
                for event in decoder.feed(chunk):
                    deliver(handle(event, progress))
                    if progress.ended:
                        break
                if progress.ended:
                    break
                if time.monotonic() > deadline:
                    raise ProviderError(
                        "timeout",
                        f"{name} was still answering when the time budget ran out; the answer is incomplete.",
                    )
            else:
                for event in decoder.close():
                    deliver(handle(event, progress))
    except AddressRefused as exc:
        raise _address_refused(kind, exc) from None
    except _UpstreamError as exc:
        raise _stream_error(kind, _error_object(exc.payload), api_key, progress.delivered) from None
    except _MalformedStream as exc:
        raise _broken(kind, progress, "sent an event that could not be read") from exc
    except httpx.TimeoutException as exc:
        if progress.delivered:
            raise _broken(kind, progress, "went silent") from exc
        raise ProviderError("timeout", f"{name} did not answer in time.") from exc
    except httpx.RequestError as exc:
        what = "could not be reached" if isinstance(exc, httpx.ConnectError) else "dropped the connection"
        raise _broken(kind, progress, what) from exc
    if not progress.complete:
        raise _broken(kind, progress, "ended the stream early")
    return StreamResult(text="".join(progress.parts), usage=progress.usage(), finish_reason=progress.finish_reason)


def _address_refused(kind: ProviderKind, refused: AddressRefused) -> ProviderError:
    # The user sees the configured host and why, not which internal address it resolved to.
    _log.warning(
        "AI provider address refused",
        extra={
            "provider_kind": kind,
            "host": refused.host,
            "address": str(refused.address or ""),
            "reason": refused.reason,
        },
    )
    return ProviderError(
        "provider_address_refused",
        f"{_NAMES[kind]} was not called: its host {refused.host} is {refused.reason}, which the platform does not"
        " call. An administrator must change the provider's base URL.",
    )


def _check_host(kind: ProviderKind, base_url: str) -> None:
    """Refuse a base URL whose host is refused by name alone (also for a client the caller gave)."""
    import httpx

    try:
        host = httpx.URL(base_url).host
    except httpx.InvalidURL:
        raise ProviderError(
            "bad_request", f"The base URL of {_NAMES[kind]} is not a valid URL. Check the provider's base URL."
        ) from None
    reason = host_refusal(host)
    if reason is not None:
        raise _address_refused(kind, AddressRefused(host, reason))


def _safe_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None


def _broken(kind: ProviderKind, progress: _Progress, what: str) -> ProviderError:
    name = _NAMES[kind]
    if progress.delivered:
        return ProviderError("stream_interrupted", f"{name} stopped partway through the answer ({what}).")
    return ProviderError("provider_unavailable", f"{name} {what}. Try again in a moment.")


def _backoff_s(attempt: int) -> float:
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


_API_KEY_CHARS: Final = re.compile(r"[\x21-\x7e]*")


def _check_arguments(
    kind: str, base_url: str, api_key: str, messages: list[ChatMessage], max_output_tokens: int, max_attempts: int
) -> None:
    if kind not in PROVIDER_KINDS:
        raise ValueError(f"unknown provider kind {kind!r}")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError("base_url must be an http(s) URL")
    if not _API_KEY_CHARS.fullmatch(api_key):
        # Checked here so that no HTTP library error can ever quote the key.
        raise ValueError("api_key contains whitespace or characters that are not printable ASCII")
    if not any(m.role != "system" for m in messages):
        raise ValueError("messages must contain a user or assistant message")
    if max_output_tokens < 1:
        raise ValueError("max_output_tokens must be at least 1")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")


def stream_chat(
    *,
    kind: ProviderKind,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[ChatMessage],
    max_output_tokens: int,
    on_text: Callable[[str], None],
    deadline: float,
    client: httpx.Client | None = None,
    max_attempts: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> StreamResult:
    """Stream one chat completion, calling ``on_text`` with each text delta as it arrives.

    Args:
        kind: the provider's protocol family.
        base_url: the API root as an admin configures it, e.g. ``https://api.openai.com/v1``,
            ``https://api.anthropic.com/v1``, ``https://generativelanguage.googleapis.com/v1beta``,
            ``https://openrouter.ai/api/v1`` or ``http://localhost:11434/v1``.
        api_key: the provider key; empty sends no auth header (e.g. a local Ollama).
        model: the provider's model name (for Gemini, with or without ``models/``).
        messages: the conversation; system messages become OpenAI system-role messages, Anthropic's
            top-level ``system`` or Gemini's ``systemInstruction`` (several are joined by a blank line).
        max_output_tokens: the output limit (``max_completion_tokens`` for OpenAI, ``max_tokens``
            for OpenRouter, OpenAI-compatible servers and Anthropic, ``maxOutputTokens`` for Gemini).
        on_text: called with every non-empty text delta, in order; its exceptions propagate.
        deadline: a ``time.monotonic()`` value; no attempt starts and no backoff sleeps past it,
            and every network timeout is capped by the time left.
        client: an ``httpx.Client`` to reuse, made with :func:`mm_common.ai.netguard.guarded_client`
            (only the host's name is checked for another client); one is made and closed per call
            when None.
        max_attempts: HTTP requests at most, the first included.
        sleep: waits between attempts (tests pass a fake).

    Returns:
        the full text, the provider's usage (None when it reported none, as OpenAI-compatible
        servers that ignore ``stream_options`` do) and the normalised finish reason.

    Raises:
        ProviderError: ``invalid_api_key`` at once on 401/403 (or Gemini's ``API_KEY_INVALID``);
            ``bad_request`` with the provider's message on other 4xx; ``rate_limited``,
            ``provider_unavailable`` or ``timeout`` when retries ran out (429, 5xx, timeouts and
            dropped connections are retried with backoff and jitter, ``Retry-After`` honoured up to
            ``RETRY_AFTER_MAX_S``, only while no text of the attempt was delivered and time is left);
            ``stream_interrupted`` when the stream broke after text was delivered;
            ``provider_address_refused`` at once when the host names or resolves to an address the
            platform does not call (see :mod:`mm_common.ai.netguard`).
        ValueError: for arguments no provider could accept.
    """
    _check_arguments(kind, base_url, api_key, messages, max_output_tokens, max_attempts)
    _check_host(kind, base_url)
    build = _PROTOCOLS[kind][0]
    include_usage = True
    owned = client is None
    http = guarded_client() if client is None else client
    try:
        last_error: ProviderError | None = None
        attempt = 0
        while attempt < max_attempts and time.monotonic() < deadline:
            attempt += 1
            request = build(kind, base_url, api_key, model, messages, max_output_tokens, include_usage)
            progress = _Progress()
            try:
                return _attempt(http, kind, request, progress, api_key=api_key, on_text=on_text, deadline=deadline)
            except ProviderError as error:
                last_error = error
                if progress.delivered:
                    raise
                if (
                    kind == "openai_compatible"
                    and include_usage
                    and error.code == "bad_request"
                    and "stream_options" in error.message
                ):
                    # An older server that rejects stream_options: ask again without it (no usage then).
                    include_usage = False
                    attempt -= 1
                    continue
                if not error.retryable:
                    raise
            delay = last_error.retry_after if last_error.retry_after is not None else _backoff_s(attempt)
            if attempt >= max_attempts or time.monotonic() + delay >= deadline:
                break
            _log.warning(
                "AI provider request failed; retrying",
                extra={
                    "provider_kind": kind,
                    "attempt": attempt,
                    "error_code": last_error.code,
                    "http_status": last_error.status,
                    "retry_in_s": round(delay, 3),
                },
            )
            sleep(delay)
        if last_error is None:
            raise ProviderError("timeout", f"The time budget ran out before {_NAMES[kind]} could be asked.")
        raise last_error
    finally:
        if owned:
            http.close()
