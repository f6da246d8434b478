"""E-mail leaves through SES; locally every message is readable in the dev mailbox."""

from __future__ import annotations

from starlette.testclient import TestClient

from devstack.stack import LocalStack
from mm_common.mailer import send_email


def test_sent_mail_appears_in_the_dev_mailbox_newest_first(stack: LocalStack, client: TestClient) -> None:
    before = len(client.get("/dev/mail.json").json())
    send_email("first@example.com", "First", "Hello first", "<p>Hello <b>first</b></p>")
    send_email("second@example.com", "Second", "Plain only")

    mail = client.get("/dev/mail.json").json()
    assert len(mail) == before + 2
    newest, older = mail[0], mail[1]
    assert newest["to"] == "second@example.com" and newest["subject"] == "Second"
    assert newest["text"].strip() == "Plain only" and newest["html"] == ""
    assert older["to"] == "first@example.com"
    assert older["text"].strip() == "Hello first"
    assert "<b>first</b>" in older["html"]
    assert older["sentAt"].endswith("+00:00")

    page = client.get("/dev/mail")
    assert page.status_code == 200 and "Second" in page.text
