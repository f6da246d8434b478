"""stream_chat against a fake provider speaking each real wire format (no database, no local stack)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from mm_common.ai import providers
from mm_common.ai.netguard import guarded_client
from mm_common.ai.providers import (
    ChatMessage,
    ProviderError,
    ProviderKind,
    SseEvent,
    StreamResult,
    Usage,
    iter_sse_events,
    stream_chat,
)
from tests.support.fake_providers import FakeProviders, Reply, private_networks

KINDS: list[ProviderKind] = ["openai", "anthropic", "gemini", "openrouter", "openai_compatible"]
MODELS: dict[str, str] = {
    "openai": "gpt-4.1-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "openrouter": "openrouter/auto",
    "openai_compatible": "qwen2.5-coder:7b",
}
CONVERSATION = [
    ChatMessage("system", "You build web apps."),
    ChatMessage("user", "Make a todo app."),
    ChatMessage("assistant", "Which framework?"),
    ChatMessage("system", "Answer briefly."),
    ChatMessage("user", "Plain HTML."),
]
WRONG_KEY = "sk-wrong-9876543210zyxwvuLEAK"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with private_networks(allowed=True), FakeProviders() as server:
        yield server


class Sleeps:
    """A stand-in for time.sleep that records and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def chat(
    fake: FakeProviders,
    kind: ProviderKind,
    *,
    received: list[str] | None = None,
    sleep: Sleeps | None = None,
    budget_s: float = 20.0,
    api_key: str | None = None,
    messages: list[ChatMessage] | None = None,
    **kwargs: Any,
) -> StreamResult:
    sink = received if received is not None else []
    return stream_chat(
        kind=kind,
        base_url=fake.base_url(kind),
        api_key=fake.api_key if api_key is None else api_key,
        model=MODELS[kind],
        messages=CONVERSATION if messages is None else messages,
        max_output_tokens=321,
        on_text=sink.append,
        deadline=time.monotonic() + budget_s,
        sleep=sleep if sleep is not None else Sleeps(),
        **kwargs,
    )


def failing(fake: FakeProviders, kind: ProviderKind, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        chat(fake, kind, **kwargs)
    return caught.value


def assert_no_key(error: ProviderError, key: str) -> None:
    for text in (error.message, str(error), repr(error), *map(str, error.args)):
        assert key not in text
        assert key[:8] not in text and key[-4:] not in text
        assert "***" not in text


# --- Streaming and usage -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_text_arrives_in_order_with_real_usage(fake: FakeProviders, kind: ProviderKind) -> None:
    received: list[str] = []
    result = chat(fake, kind, received=received)
    assert received == fake.script.chunks
    assert result == StreamResult(
        text="Hello, wörld! ✨", usage=Usage(prompt_tokens=21, completion_tokens=9), finish_reason="stop"
    )
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_text_is_handed_over_while_the_stream_is_still_open(fake: FakeProviders, kind: ProviderKind) -> None:
    # The fake stops after the first chunk until on_text has seen it: only true streaming finishes.
    fake.script.replies = [Reply(hold_after=1)]
    seen: list[str] = []

    def on_text(text: str) -> None:
        seen.append(text)
        fake.release.set()

    result = stream_chat(
        kind=kind,
        base_url=fake.base_url(kind),
        api_key=fake.api_key,
        model=MODELS[kind],
        messages=CONVERSATION,
        max_output_tokens=100,
        on_text=on_text,
        deadline=time.monotonic() + 20,
    )
    assert fake.hold_results == [True]
    assert "".join(seen) == result.text


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_multi_line_data_fields_are_joined(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.multiline_data = True
    result = chat(fake, kind)
    assert result.text == "Hello, wörld! ✨"
    assert result.usage == Usage(21, 9)


def test_openai_compatible_server_without_usage_gives_none(fake: FakeProviders) -> None:
    fake.script.send_usage = False
    received: list[str] = []
    result = chat(fake, "openai_compatible", received=received)
    assert received == fake.script.chunks
    assert result.usage is None
    assert result.finish_reason == "stop"
    assert fake.requests[0].body["stream_options"] == {"include_usage": True}


def test_openai_compatible_server_rejecting_stream_options_is_asked_again_without(fake: FakeProviders) -> None:
    fake.script.reject_stream_options = True
    sleeps = Sleeps()
    result = chat(fake, "openai_compatible", sleep=sleeps, max_attempts=1)
    assert result.text == "Hello, wörld! ✨"
    assert result.usage is None
    assert [("stream_options" in r.body) for r in fake.requests] == [True, False]
    assert sleeps.calls == []


def test_openai_compatible_server_without_a_key(fake: FakeProviders) -> None:
    fake.script.require_key = False
    result = chat(fake, "openai_compatible", api_key="")
    assert result.text == "Hello, wörld! ✨"
    assert fake.requests[0].header("authorization") is None


def test_gemini_thinking_tokens_count_as_completion_tokens(fake: FakeProviders) -> None:
    fake.script.thoughts_tokens = 40
    assert chat(fake, "gemini").usage == Usage(prompt_tokens=21, completion_tokens=49)


@pytest.mark.parametrize(("kind", "raw"), [("openai", "length"), ("anthropic", "max_tokens"), ("gemini", "MAX_TOKENS")])
def test_finish_reasons_are_normalised(fake: FakeProviders, kind: ProviderKind, raw: str) -> None:
    fake.script.finish_reason = raw
    assert chat(fake, kind).finish_reason == "length"


def test_a_given_client_is_used_and_left_open(fake: FakeProviders) -> None:
    with guarded_client() as client:
        chat(fake, "openai", client=client)
        chat(fake, "anthropic", client=client)
        assert not client.is_closed
    assert len(fake.requests) == 2


# --- Request mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "token_field"),
    [
        ("openai", "/v1/chat/completions", "max_completion_tokens"),
        ("openrouter", "/api/v1/chat/completions", "max_tokens"),
        ("openai_compatible", "/v1/chat/completions", "max_tokens"),
    ],
)
def test_openai_style_request(fake: FakeProviders, kind: ProviderKind, path: str, token_field: str) -> None:
    chat(fake, kind)
    request = fake.requests[0]
    assert request.path == path
    assert request.header("authorization") == f"Bearer {fake.api_key}"
    assert request.header("x-api-key") is None
    assert request.body == {
        "model": MODELS[kind],
        "messages": [{"role": m.role, "content": m.content} for m in CONVERSATION],
        "stream": True,
        "stream_options": {"include_usage": True},
        token_field: 321,
    }


def test_anthropic_request(fake: FakeProviders) -> None:
    chat(fake, "anthropic")
    request = fake.requests[0]
    assert request.path == "/v1/messages"
    assert request.header("x-api-key") == fake.api_key
    assert request.header("anthropic-version") == "2023-06-01"
    assert request.header("authorization") is None
    assert request.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 321,
        "stream": True,
        "system": "You build web apps.\n\nAnswer briefly.",
        "messages": [
            {"role": "user", "content": "Make a todo app."},
            {"role": "assistant", "content": "Which framework?"},
            {"role": "user", "content": "Plain HTML."},
        ],
    }


def test_gemini_request(fake: FakeProviders) -> None:
    chat(fake, "gemini")
    request = fake.requests[0]
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.query == {"alt": ["sse"]}  # the key travels in a header, never in the URL
    assert request.header("x-goog-api-key") == fake.api_key
    assert request.header("authorization") is None
    assert request.body == {
        "systemInstruction": {"parts": [{"text": "You build web apps.\n\nAnswer briefly."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Make a todo app."}]},
            {"role": "model", "parts": [{"text": "Which framework?"}]},
            {"role": "user", "parts": [{"text": "Plain HTML."}]},
        ],
        "generationConfig": {"maxOutputTokens": 321},
    }


def test_no_system_field_without_system_messages(fake: FakeProviders) -> None:
    only_user = [ChatMessage("user", "Hi")]
    chat(fake, "anthropic", messages=only_user)
    chat(fake, "gemini", messages=only_user)
    assert "system" not in fake.requests[0].body
    assert "systemInstruction" not in fake.requests[1].body


def test_base_url_trailing_slash_and_prefixed_gemini_model(fake: FakeProviders) -> None:
    stream_chat(
        kind="gemini",
        base_url=fake.base_url("gemini") + "/",
        api_key=fake.api_key,
        model="models/gemini-2.5-pro",
        messages=[ChatMessage("user", "Hi")],
        max_output_tokens=5,
        on_text=lambda _: None,
        deadline=time.monotonic() + 20,
    )
    assert fake.requests[0].path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"


# --- Errors that are not retried -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_is_invalid_api_key_at_once(fake: FakeProviders, kind: ProviderKind) -> None:
    error = failing(fake, kind, api_key=WRONG_KEY)
    assert error.code == "invalid_api_key"
    assert error.retryable is False
    assert error.status == (400 if kind == "gemini" else 401)  # Gemini answers API_KEY_INVALID with 400
    assert "Settings → API keys" in error.message
    assert len(fake.requests) == 1
    assert_no_key(error, WRONG_KEY)


def test_invalid_key_message_names_the_provider(fake: FakeProviders) -> None:
    error = failing(fake, "openai", api_key=WRONG_KEY)
    assert error.message == "The OpenAI API key was refused (401). Check the key in Settings → API keys."


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_forbidden_is_invalid_api_key(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(status=403)]
    error = failing(fake, kind)
    assert (error.code, error.status, error.retryable) == ("invalid_api_key", 403, False)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_other_client_errors_carry_the_provider_message(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(status=404, message="The model `nope-1` does not exist")]
    error = failing(fake, kind)
    assert (error.code, error.status, error.retryable) == ("bad_request", 404, False)
    assert "The model `nope-1` does not exist" in error.message
    assert len(fake.requests) == 1


def test_provider_messages_are_scrubbed_of_the_key(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=400, message=f"bad value {fake.api_key} and sk-abc*****wxyz")]
    error = failing(fake, "openai")
    assert error.code == "bad_request"
    assert fake.api_key not in error.message and "*****" not in error.message
    assert "[redacted]" in error.message


def test_openrouter_out_of_credits_is_a_bad_request(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=402)]
    error = failing(fake, "openrouter")
    assert (error.code, error.status) == ("bad_request", 402)
    assert "Insufficient credits" in error.message


# --- Retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_rate_limit_then_success_honours_retry_after(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(status=429, retry_after="2")]
    sleeps = Sleeps()
    received: list[str] = []
    result = chat(fake, kind, sleep=sleeps, received=received)
    assert sleeps.calls == [2.0]
    assert result.text == "Hello, wörld! ✨" and received == fake.script.chunks
    assert len(fake.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_server_error_then_success_backs_off_with_jitter(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(status=500)]
    sleeps = Sleeps()
    result = chat(fake, kind, sleep=sleeps)
    assert result.usage == Usage(21, 9)
    assert len(sleeps.calls) == 1 and 0.25 <= sleeps.calls[0] <= 0.5
    assert len(fake.requests) == 2


def test_anthropic_overloaded_529_is_retried(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=529), Reply(status=529)]
    sleeps = Sleeps()
    assert chat(fake, "anthropic", sleep=sleeps).text == "Hello, wörld! ✨"
    assert len(sleeps.calls) == 2 and sleeps.calls[1] >= 0.5  # the second wait is longer


def test_retry_after_is_capped(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=429, retry_after="3600")]
    sleeps = Sleeps()
    chat(fake, "anthropic", sleep=sleeps, budget_s=120)
    assert sleeps.calls == [providers.RETRY_AFTER_MAX_S]


def test_max_attempts_bounds_the_requests(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=500)] * 10
    sleeps = Sleeps()
    error = failing(fake, "openai", sleep=sleeps, max_attempts=3)
    assert (error.code, error.status, error.retryable) == ("provider_unavailable", 500, True)
    assert len(fake.requests) == 3 and len(sleeps.calls) == 2


def test_no_wait_that_would_end_past_the_deadline(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(status=429, retry_after="20")]
    sleeps = Sleeps()
    error = failing(fake, "gemini", sleep=sleeps, budget_s=5)
    assert (error.code, error.status, error.retry_after) == ("rate_limited", 429, 20.0)
    assert sleeps.calls == [] and len(fake.requests) == 1


def test_retries_stop_at_the_deadline(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock that only the backoff moves: the budget is spent by waiting, deterministically.
    clock = SimpleNamespace(now=1_000.0)
    monkeypatch.setattr(providers, "time", SimpleNamespace(monotonic=lambda: clock.now))

    def sleep(seconds: float) -> None:
        clock.now += seconds

    fake.script.replies = [Reply(status=503)] * 50
    deadline = clock.now + 10
    with pytest.raises(ProviderError) as caught:
        stream_chat(
            kind="openai",
            base_url=fake.base_url("openai"),
            api_key=fake.api_key,
            model="gpt-4.1",
            messages=CONVERSATION,
            max_output_tokens=10,
            on_text=lambda _: None,
            deadline=deadline,
            max_attempts=50,
            sleep=sleep,
        )
    assert (caught.value.code, caught.value.status) == ("provider_unavailable", 503)
    assert clock.now < deadline  # never slept past it
    assert 3 <= len(fake.requests) < 50


def test_a_passed_deadline_sends_nothing(fake: FakeProviders) -> None:
    error = failing(fake, "openai", budget_s=-1)
    assert error.code == "timeout"
    assert fake.requests == []


def test_slow_start_times_out_within_the_budget(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(delay_s=10)]
    started = time.monotonic()
    error = failing(fake, "anthropic", budget_s=0.5)
    assert (error.code, error.retryable) == ("timeout", True)
    assert time.monotonic() - started < 5
    assert len(fake.requests) == 1


def test_a_timeout_before_any_text_is_retried(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(delay_s=10)]
    sleeps = Sleeps()
    # A short read timeout (instead of a short budget) leaves time for the retry to succeed.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(providers, "READ_TIMEOUT_S", 0.3)
        result = chat(fake, "openai", sleep=sleeps)
    assert result.text == "Hello, wörld! ✨"
    assert len(sleeps.calls) == 1 and len(fake.requests) == 2


# --- Broken streams ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_disconnect_after_text_is_stream_interrupted(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(disconnect_after=2)]
    received: list[str] = []
    error = failing(fake, kind, received=received)
    assert (error.code, error.retryable) == ("stream_interrupted", True)
    assert received == fake.script.chunks[:2]
    assert len(fake.requests) == 1  # never retried: text already reached the user


@pytest.mark.parametrize("kind", KINDS)
def test_clean_end_without_end_marker_is_stream_interrupted(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(truncate_after=2)]
    error = failing(fake, kind)
    assert error.code == "stream_interrupted"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_disconnect_before_any_text_is_retried(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(disconnect_after=0)]
    sleeps = Sleeps()
    received: list[str] = []
    result = chat(fake, kind, sleep=sleeps, received=received)
    assert received == fake.script.chunks  # nothing from the broken attempt
    assert result.usage == Usage(21, 9)
    assert len(fake.requests) == 2 and len(sleeps.calls) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_error_event_before_text_is_retried(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(error_event_after=0)]
    sleeps = Sleeps()
    assert chat(fake, kind, sleep=sleeps).text == "Hello, wörld! ✨"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_error_event_after_text_is_stream_interrupted(fake: FakeProviders, kind: ProviderKind) -> None:
    fake.script.replies = [Reply(error_event_after=3)]
    error = failing(fake, kind)
    assert error.code == "stream_interrupted"
    assert len(fake.requests) == 1


def test_silence_after_text_is_stream_interrupted(fake: FakeProviders) -> None:
    fake.script.replies = [Reply(stall_after=2, stall_s=10)]
    received: list[str] = []
    error = failing(fake, "gemini", received=received, budget_s=1.0)
    assert error.code == "stream_interrupted"
    assert received == fake.script.chunks[:2]


# --- Secrets -------------------------------------------------------------------------------------


def test_the_key_is_never_logged(fake: FakeProviders, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script.replies = [Reply(status=500), Reply(status=429, retry_after="0")]
    chat(fake, "openai")
    failing(fake, "anthropic", api_key=WRONG_KEY)
    assert caplog.records  # the retries were logged
    for record in caplog.records:
        rendered = record.getMessage() + repr(record.__dict__)
        assert fake.api_key not in rendered and WRONG_KEY not in rendered


def test_arguments_that_cannot_work_are_refused() -> None:
    base: dict[str, Any] = {
        "kind": "openai",
        "base_url": "https://api.openai.com/v1",
        "api_key": "sk-x",
        "model": "gpt-4.1",
        "messages": [ChatMessage("user", "Hi")],
        "max_output_tokens": 10,
        "on_text": lambda _: None,
        "deadline": time.monotonic() + 5,
    }
    for change in (
        {"api_key": "sk-x\nInjected: 1"},
        {"messages": [ChatMessage("system", "only a system prompt")]},
        {"base_url": "api.openai.com/v1"},
        {"kind": "bedrock"},
        {"max_output_tokens": 0},
    ):
        with pytest.raises(ValueError) as caught:
            stream_chat(**{**base, **change})
        assert "Injected" not in str(caught.value)


# --- The SSE decoder -----------------------------------------------------------------------------


def test_sse_framing_byte_by_byte() -> None:
    body = (
        "\ufeff: a comment\r\n"
        "event: message_start\r\n"
        'data: {"a":\r\n'
        "data:  1}\r\n"
        "id: 7\r\n"
        "\r\n"
        "data: ünïcode ✨\r"
        "\r"
        ":keep-alive\n\n"
        "data\n"
        "\n"
        "event: ping\n"
        "\n"
        "data: [DONE]\n"
        "\n"
    ).encode()
    expected = [
        SseEvent("message_start", '{"a":\n 1}'),
        SseEvent("message", "ünïcode ✨"),
        SseEvent("message", ""),
        SseEvent("message", "[DONE]"),
    ]
    assert list(iter_sse_events(body[i : i + 1] for i in range(len(body)))) == expected
    assert list(iter_sse_events([body])) == expected


def test_sse_end_of_body() -> None:
    # A last event whose lines all arrived is kept; a line cut short is not.
    assert list(iter_sse_events([b"data: whole\n"])) == [SseEvent("message", "whole")]
    assert list(iter_sse_events([b"data: whole\n\ndata: cut sh"])) == [SseEvent("message", "whole")]
    assert list(iter_sse_events([b"data: x\r", b"\ndata: y\r\n\r\n"])) == [SseEvent("message", "x\ny")]
