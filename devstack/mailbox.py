"""The dev mailbox: every e-mail the functions send through SES, readable over HTTP."""

from __future__ import annotations

import email
import email.policy
import html
import json
import threading
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from devstack.lambdas import ACCOUNT_ID, REGION


def _parse_raw(raw: str) -> dict[str, Any]:
    message = email.message_from_string(raw, policy=email.policy.default)
    text = html_body = ""
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if content_type == "text/plain" and not text:
            text = str(part.get_content())
        elif content_type == "text/html" and not html_body:
            html_body = str(part.get_content())
    return {"subject": str(message.get("Subject", "")), "text": text, "html": html_body}


class Mailbox:
    """Collects messages from moto's SES backend; keeps them in a file across restarts."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen = 0
        self.messages: list[dict[str, Any]] = []
        if path is not None and path.exists():
            self.messages = json.loads(path.read_text(encoding="utf-8"))

    def _collect(self) -> None:
        from moto.ses.models import RawMessage, ses_backends

        sent = ses_backends[ACCOUNT_ID][REGION].sent_messages
        for message in sent[self._seen :]:
            if isinstance(message, RawMessage):
                parsed = _parse_raw(message.raw_data)
                recipients = list(message.destinations)
            else:
                parsed = {"subject": message.subject, "text": message.body, "html": ""}
                recipients = [a for addresses in message.destinations.values() for a in addresses]
            # SES's raw send lists a recipient once per mention (Destination and To header).
            for recipient in dict.fromkeys(parseaddr(r)[1].lower() for r in recipients):
                self.messages.append({"to": recipient, **parsed, "sentAt": datetime.now(UTC).isoformat()})
        self._seen = len(sent)

    def all(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            self._collect()
            return list(reversed(self.messages))

    def save(self) -> None:
        if self.path is not None:
            with self._lock:
                self._collect()
                self.path.write_text(json.dumps(self.messages, indent=1), encoding="utf-8")

    def render_html(self) -> str:
        rows = []
        for message in self.all():
            body = message["html"] or f"<pre>{html.escape(message['text'])}</pre>"
            rows.append(
                "<article><header>"
                f"<b>{html.escape(message['subject'])}</b> — to {html.escape(message['to'])} "
                f"<small>{html.escape(message['sentAt'])}</small></header>"
                f'<iframe sandbox srcdoc="{html.escape(body, quote=True)}"></iframe></article>'
            )
        empty = "<p>No e-mail has been sent yet.</p>" if not rows else ""
        return (
            "<!doctype html><meta charset=utf-8><title>Dev mailbox</title>"
            "<style>body{font-family:system-ui;margin:2rem}article{border:1px solid #ccc;margin:1rem 0;"
            "padding:.5rem}iframe{width:100%;height:16rem;border:0}</style>"
            f"<h1>Dev mailbox</h1><p><a href=/dev/mail.json>JSON</a></p>{empty}{''.join(rows)}"
        )
