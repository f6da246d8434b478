"""The webhook's answer."""

from __future__ import annotations

from pydantic import Field

from mm_common.models import ApiModel


class WebhookAnswer(ApiModel):
    received: bool
    duplicate: bool = Field(description="The event was processed before; nothing changed.")
