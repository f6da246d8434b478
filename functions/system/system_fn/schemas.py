"""Wire models of the platform routes."""

from __future__ import annotations

from mm_common.models import ApiModel


class Health(ApiModel):
    status: str
    database: str
    version: str
