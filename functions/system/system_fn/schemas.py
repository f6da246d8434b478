"""Wire models of the platform routes."""

from __future__ import annotations

from pydantic import Field

from mm_common.models import ApiModel
from mm_common.system_settings import SignupPolicy


class Health(ApiModel):
    status: str
    database: str
    version: str
    maintenance: bool = Field(description="Whether maintenance mode is on (non-admins get 503 maintenance).")


class MaintenanceStatus(ApiModel):
    on: bool
    message: str | None = Field(description="What the maintenance page says; null while maintenance is off.")


class PlatformStatus(ApiModel):
    maintenance: MaintenanceStatus
    announcement: str | None = Field(description="The banner every user sees; null: none.")
    signups: SignupPolicy


class StatusEnvelope(ApiModel):
    status: PlatformStatus
