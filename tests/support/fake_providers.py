"""A fake AI provider for tests: one local HTTP server speaking the real streaming wire formats.

Routes (by path suffix, so any API root works):

* ``…/chat/completions``: OpenAI Chat Completions streaming; under ``/api/`` it behaves as
  OpenRouter (``: OPENROUTER PROCESSING`` comments, usage always sent, OpenRouter error bodies).
* ``…/messages``: Anthropic Messages streaming (named events, ``ping``, cumulative usage).
* ``…/models/{model}:streamGenerateContent?alt=sse``: Gemini streaming (CRLF-framed events,
  ``usageMetadata`` on every chunk, ``finishReason`` on the last).

A test sets ``fake.script`` (the text chunks, usage, server quirks) and queues ``Reply`` values in
``script.replies``: each request takes the next one, and a plain success once they run out. Every
request is recorded (path, query, headers, JSON body) in ``fake.requests``. Authentication is
checked as the real providers do it, and a wrong key gets each provider's real error body.

Responses stream with ``Transfer-Encoding: chunked``, one chunk per event, flushed at once, so a
"disconnect" is a connection dropped inside a chunked body (what a client sees when a provider
dies mid-answer).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from mm_common.config import get_settings

Flavour = Literal["openai", "openrouter", "anthropic", "gemini"]

DEFAULT_API_KEY = "sk-test-0123456789abcdefFAKE"


@contextmanager
def ai_settings(**variables: str) -> Iterator[None]:
    """Set AI settings' environment variables (e.g. AI_ALLOW_PRIVATE_NETWORKS="true") for the
    block, for the test and the in-process handlers alike, then restore them."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def private_networks(allowed: bool) -> AbstractContextManager[None]:
    """The fake listens on 127.0.0.1: calling it needs AI_ALLOW_PRIVATE_NETWORKS, as a model
    server on the operator's own network does."""
    return ai_settings(AI_ALLOW_PRIVATE_NETWORKS="true" if allowed else "false")


@dataclass(frozen=True)
class Reply:
    """How the fake answers one request. The default is a full, successful stream.

    ``status`` other than 200 answers that status with the provider's real error body;
    ``delay_s`` waits before sending anything (slow start); the ``*_after`` fields act once that
    many text chunks were sent: ``disconnect_after`` drops the TCP connection mid-body,
    ``truncate_after`` ends the body cleanly but without the protocol's end marker,
    ``error_event_after`` sends the provider's in-stream error event and ends, ``stall_after``
    goes silent for ``stall_s``, ``hold_after`` waits until the test sets ``fake.release``.
    """

    status: int = 200
    retry_after: str | None = None
    message: str | None = None
    delay_s: float = 0.0
    disconnect_after: int | None = None
    truncate_after: int | None = None
    error_event_after: int | None = None
    stall_after: int | None = None
    stall_s: float = 0.0
    hold_after: int | None = None


@dataclass
class Script:
    """What the fake streams. Tests replace or mutate ``fake.script``."""

    chunks: list[str] = field(default_factory=lambda: ["Hel", "lo, ", "wörld", "! ✨"])
    prompt_tokens: int = 21
    completion_tokens: int = 9
    thoughts_tokens: int = 0  # Gemini: thinking tokens, reported apart from candidatesTokenCount
    finish_reason: str | None = None  # the provider's own value; None for its usual "stop"
    send_usage: bool = True  # False: an OpenAI-compatible server that ignores stream_options
    reject_stream_options: bool = False  # an older OpenAI-compatible server: 400 on stream_options
    multiline_data: bool = False  # pretty-printed JSON, one data: line per JSON line
    require_key: bool = True
    replies: list[Reply] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


_GEMINI_PATH = re.compile(r".*/models/(?P<model>[^/]+):streamGenerateContent")


def _route(path: str) -> Flavour | None:
    if path.endswith("/chat/completions"):
        return "openrouter" if path.startswith("/api/") else "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if _GEMINI_PATH.fullmatch(unquote(path)):
        return "gemini"
    return None


def _masked(key: str) -> str:
    """How OpenAI quotes a wrong key back: its start, stars, its last four characters."""
    return f"{key[:8]}{'*' * 16}{key[-4:]}" if len(key) > 12 else "*" * len(key)


def _error_body(flavour: Flavour, status: int, message: str | None, presented_key: str = "") -> dict[str, Any]:
    """The provider's real error body for an HTTP status."""
    if flavour == "anthropic":
        kind, default = {
            400: ("invalid_request_error", "messages: field required"),
            401: ("authentication_error", "invalid x-api-key"),
            403: ("permission_error", "Your API key does not have permission to use the specified resource."),
            404: ("not_found_error", "model: claude-nonexistent"),
            429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
            500: ("api_error", "Internal server error"),
            529: ("overloaded_error", "Overloaded"),
        }.get(status, ("api_error", "Internal server error"))
        return {"type": "error", "error": {"type": kind, "message": message or default}, "request_id": "req_fake01"}
    if flavour == "gemini":
        state, default = {
            400: ("INVALID_ARGUMENT", "Invalid JSON payload received."),
            401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
            403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers."),
            404: ("NOT_FOUND", "models/gemini-nonexistent is not found for API version v1beta."),
            429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
            500: ("INTERNAL", "An internal error has occurred."),
            503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        }.get(status, ("INTERNAL", "An internal error has occurred."))
        return {"error": {"code": status, "message": message or default, "status": state}}
    if flavour == "openrouter":
        default = {401: "User not found.", 402: "Insufficient credits", 429: "Rate limit exceeded"}.get(
            status, "Provider returned error"
        )
        return {"error": {"code": status, "message": message or default, "metadata": {}}}
    kind_code: dict[int, tuple[str, str | None, str]] = {
        400: ("invalid_request_error", None, "Invalid request."),
        401: (
            "invalid_request_error",
            "invalid_api_key",
            f"Incorrect API key provided: {_masked(presented_key)}. "
            "You can find your API key at https://platform.openai.com/account/api-keys.",
        ),
        403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported."),
        404: ("invalid_request_error", "model_not_found", "The model `gpt-nonexistent` does not exist."),
        429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
        500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    }
    kind, code, default = kind_code.get(status, ("server_error", None, "The server had an error."))
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def _gemini_bad_key() -> dict[str, Any]:
    """Gemini answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID, not 401."""
    message = "API key not valid. Please pass a valid API key."
    return {
        "error": {
            "code": 400,
            "message": message,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                },
                {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
            ],
        }
    }


@dataclass(frozen=True)
class _Frame:
    text: str
    is_text_chunk: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeProviders

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a slow or dropped stream is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write_chunk(self, text: str) -> None:
        raw = text.encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    # --- requests ---

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        split = urlsplit(self.path)
        recorded = RecordedRequest(
            method="POST",
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply, script = fake._take(recorded)
        try:
            self._answer(_route(split.path), recorded, reply, script)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer(self, flavour: Flavour | None, req: RecordedRequest, reply: Reply, script: Script) -> None:
        fake = self.server.fake
        if reply.delay_s and fake.stopping.wait(reply.delay_s):
            return
        if flavour is None:
            self._send_json(404, {"error": {"message": f"no route for {req.path}"}})
            return
        refused = self._check_auth(flavour, req, script)
        if refused is not None:
            self._send_json(*refused)
            return
        if reply.status != 200:
            headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
            self._send_json(reply.status, _error_body(flavour, reply.status, reply.message), headers)
            return
        invalid = self._check_body(flavour, req, script)
        if invalid is not None:
            self._send_json(400, _error_body(flavour, 400, invalid))
            return
        self._stream(flavour, req, reply, script)

    def _check_auth(self, flavour: Flavour, req: RecordedRequest, script: Script) -> tuple[int, Any] | None:
        if not script.require_key:
            return None
        key = self.server.fake.api_key
        if flavour in ("openai", "openrouter"):
            presented = (req.header("authorization") or "").removeprefix("Bearer ")
            if req.header("authorization") != f"Bearer {key}":
                return 401, _error_body(flavour, 401, None, presented)
        elif flavour == "anthropic":
            if req.header("x-api-key") != key:
                return 401, _error_body(flavour, 401, None)
            if not req.header("anthropic-version"):
                return 400, _error_body(flavour, 400, "anthropic-version: header is required")
        elif req.header("x-goog-api-key") != key and req.query.get("key") != [key]:
            return 400, _gemini_bad_key()
        return None

    def _check_body(self, flavour: Flavour, req: RecordedRequest, script: Script) -> str | None:
        body = req.body if isinstance(req.body, dict) else {}
        if flavour == "gemini":
            if req.query.get("alt") != ["sse"]:
                return "this fake only streams with alt=sse"
            if any(c.get("role") not in ("user", "model") for c in body.get("contents", [])):
                return "Please use a valid role: user, model."
            return None
        if body.get("stream") is not True:
            return "this fake only streams"
        if flavour == "anthropic":
            if "max_tokens" not in body:
                return "max_tokens: Field required"
            if any(m.get("role") == "system" for m in body.get("messages", [])):
                return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter.'
        if script.reject_stream_options and "stream_options" in body:
            return "Unrecognized request argument supplied: stream_options"
        return None

    # --- streams ---

    def _stream(self, flavour: Flavour, req: RecordedRequest, reply: Reply, script: Script) -> None:
        fake = self.server.fake
        frames = {
            "openai": self._openai_frames,
            "openrouter": self._openai_frames,
            "anthropic": self._anthropic_frames,
            "gemini": self._gemini_frames,
        }[flavour](flavour, req, script)
        self._start_stream()
        sent = 0
        for frame in frames:
            if frame.is_text_chunk:
                if reply.disconnect_after == sent:
                    self._drop_connection()
                    return
                if reply.truncate_after == sent:
                    self._end_chunks()
                    return
                if reply.error_event_after == sent:
                    self._write_chunk(self._error_frame(flavour))
                    self._end_chunks()
                    return
                if reply.stall_after == sent and fake.stopping.wait(reply.stall_s):
                    return
                if reply.hold_after == sent:
                    fake.hold_results.append(fake.release.wait(timeout=10))
                sent += 1
            self._write_chunk(frame.text)
        self._end_chunks()

    @staticmethod
    def _sse(payload: Any, *, event: str | None = None, multiline: bool = False, eol: str = "\n") -> str:
        data = json.dumps(payload, indent=1 if multiline else None, ensure_ascii=False)
        lines = ([f"event: {event}"] if event else []) + [f"data: {line}" for line in data.split("\n")]
        return eol.join(lines) + eol + eol

    def _openai_frames(self, flavour: Flavour, req: RecordedRequest, script: Script) -> Iterator[_Frame]:
        body = req.body
        model = body.get("model")
        asked = (body.get("stream_options") or {}).get("include_usage") is True
        with_usage = flavour == "openrouter" or (asked and script.send_usage)
        created = int(time.time())

        def chunk(choices: list[Any], usage: Any = None) -> str:
            payload: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if flavour == "openrouter":
                payload["provider"] = "FakeProvider"
            if with_usage:
                payload["usage"] = usage
            return self._sse(payload, multiline=script.multiline_data)

        if flavour == "openrouter":
            yield _Frame(": OPENROUTER PROCESSING\n\n")
        role = {"role": "assistant", "content": ""}
        yield _Frame(chunk([{"index": 0, "delta": role, "logprobs": None, "finish_reason": None}]))
        if flavour == "openrouter":
            yield _Frame(": OPENROUTER PROCESSING\n\n")
        for text in script.chunks:
            delta = {"content": text}
            yield _Frame(chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]), True)
        finish = script.finish_reason or "stop"
        yield _Frame(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]))
        if with_usage:
            usage = {
                "prompt_tokens": script.prompt_tokens,
                "completion_tokens": script.completion_tokens,
                "total_tokens": script.prompt_tokens + script.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            }
            yield _Frame(chunk([], usage))
        yield _Frame("data: [DONE]\n\n")

    def _anthropic_frames(self, flavour: Flavour, req: RecordedRequest, script: Script) -> Iterator[_Frame]:
        multiline = script.multiline_data
        message = {
            "id": "msg_fake01",
            "type": "message",
            "role": "assistant",
            "model": req.body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": script.prompt_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        yield _Frame(self._sse({"type": "message_start", "message": message}, event="message_start"))
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        yield _Frame(self._sse(block, event="content_block_start"))
        yield _Frame(self._sse({"type": "ping"}, event="ping"))
        for text in script.chunks:
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
            yield _Frame(self._sse(delta, event="content_block_delta", multiline=multiline), True)
        yield _Frame(self._sse({"type": "content_block_stop", "index": 0}, event="content_block_stop"))
        end = {
            "type": "message_delta",
            "delta": {"stop_reason": script.finish_reason or "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": script.completion_tokens},
        }
        yield _Frame(self._sse(end, event="message_delta", multiline=multiline))
        yield _Frame(self._sse({"type": "message_stop"}, event="message_stop"))

    def _gemini_frames(self, flavour: Flavour, req: RecordedRequest, script: Script) -> Iterator[_Frame]:
        match = _GEMINI_PATH.fullmatch(unquote(req.path))
        model = match.group("model") if match else ""
        count = len(script.chunks)
        for index, text in enumerate(script.chunks, start=1):
            last = index == count
            candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if last:
                candidate["finishReason"] = script.finish_reason or "STOP"
            # Gemini repeats usageMetadata on every chunk; the last one holds the final counts.
            usage: dict[str, Any] = {
                "promptTokenCount": script.prompt_tokens,
                "candidatesTokenCount": script.completion_tokens if last else index,
                "totalTokenCount": script.prompt_tokens + (script.completion_tokens if last else index),
            }
            if script.thoughts_tokens:
                usage["thoughtsTokenCount"] = script.thoughts_tokens
                usage["totalTokenCount"] += script.thoughts_tokens
            payload = {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": model,
                "responseId": "fake-response",
            }
            yield _Frame(self._sse(payload, multiline=script.multiline_data, eol="\r\n"), True)

    def _error_frame(self, flavour: Flavour) -> str:
        if flavour == "anthropic":
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            return self._sse(error, event="error")
        if flavour == "gemini":
            return self._sse(_error_body("gemini", 503, None), eol="\r\n")
        if flavour == "openrouter":
            payload = {
                "id": "gen-fake",
                "object": "chat.completion.chunk",
                "provider": "FakeProvider",
                "error": {"code": 502, "message": "Upstream provider disconnected"},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            }
            return self._sse(payload)
        return self._sse(_error_body("openai", 500, None))


class FakeProviders:
    """The fake server. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, api_key: str = DEFAULT_API_KEY) -> None:
        self.api_key = api_key
        self.script = Script()
        self.requests: list[RecordedRequest] = []
        self.release = threading.Event()
        self.hold_results: list[bool] = []  # for each hold: True if the test released it in time
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _take(self, request: RecordedRequest) -> tuple[Reply, Script]:
        with self._lock:
            self.requests.append(request)
            script = self.script
            reply = script.replies.pop(0) if script.replies else Reply()
        return reply, script

    def start(self) -> FakeProviders:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the fake is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, kind: str) -> str:
        """The API root an admin would configure for ``kind``, pointing at this server."""
        return {
            "openai": f"{self.url}/v1",
            "openai_compatible": f"{self.url}/v1",
            "openrouter": f"{self.url}/api/v1",
            "anthropic": f"{self.url}/v1",
            "gemini": f"{self.url}/v1beta",
        }[kind]


def seed_local_model(db: psycopg.Connection[Any], fake: FakeProviders) -> tuple[uuid.UUID, uuid.UUID]:
    """An OpenAI-compatible provider pointing at ``fake`` and its model 'coder': (provider id, model id)."""
    provider = db.execute(
        "INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name)"
        " VALUES ('local', 'Local', 'openai_compatible', %s, 'MM_TEST_PLATFORM_KEY') RETURNING id",
        (fake.base_url("openai_compatible"),),
    ).fetchone()
    assert provider is not None
    model = db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name, context_window, max_output_tokens)"
        " VALUES (%s, 'Local coder', 'coder', 32000, 4000) RETURNING id",
        (provider[0],),
    ).fetchone()
    assert model is not None
    return provider[0], model[0]


def drain(stack: LocalStack, queue: str) -> None:
    """Empty one of the stack's queues (by its template name) of what earlier tests left behind."""
    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    for _ in range(100):
        received = sqs.receive_message(QueueUrl=stack.outputs[queue], MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            return
        for message in received:
            sqs.delete_message(QueueUrl=stack.outputs[queue], ReceiptHandle=message["ReceiptHandle"])
