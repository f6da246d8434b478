"""The chats function's routes, one module per resource; the path parameters they share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from mm_common.auth import organization_from_chat, organization_from_job, organization_from_message

# Where the organization of a request comes from: the chat, job or message in the path.
CHAT = organization_from_chat("id")
JOB = organization_from_job("id")
MESSAGE = organization_from_message("id")

ChatId = Annotated[str, Path(description="The chat's id.")]
JobId = Annotated[str, Path(description="The job's id.")]
AssistantMessageId = Annotated[str, Path(description="The assistant message's id.")]
