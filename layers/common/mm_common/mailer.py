"""Sends e-mail through SES (v2) as a MIME message with a plain-text and an HTML part."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from mm_common.aws import client
from mm_common.config import get_settings


class MailError(RuntimeError):
    pass


def build_message(to: str, subject: str, text: str, html: str | None, sender: str) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr(("MoreMinimore", sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def send_email(to: str, subject: str, text: str, html: str | None = None) -> str:
    """Send one message; return SES's message id."""
    sender = get_settings().mail_from
    if not sender:
        raise MailError("MAIL_FROM is not configured")
    response = client("sesv2").send_email(
        FromEmailAddress=sender,
        Destination={"ToAddresses": [to]},
        Content={"Raw": {"Data": build_message(to, subject, text, html, sender)}},
    )
    return str(response["MessageId"])
