"""The function's HTTP routes, one module per resource, and the path parameters they share.

Organization-scoped routes find the organization from the ``{id}`` path parameter
(``mm_common.auth.require``), so a caller outside it gets 404 before any handler runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from mm_common.auth import organization_from_path

ORGANIZATION = organization_from_path("id")
OrganizationId = Annotated[str, Path(description="The organization's id.")]
MemberId = Annotated[str, Path(alias="memberId", description="The membership's id (not the user's).")]
InvitationId = Annotated[str, Path(alias="invitationId", description="The invitation's id.")]
