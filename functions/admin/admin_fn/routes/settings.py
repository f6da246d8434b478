"""/api/admin/settings: system settings (admins and co-admins read them; who changes which: service)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import model_validator

from admin_fn.service import settings as service
from mm_common import db, system_settings
from mm_common.auth import Caller, require
from mm_common.models import ApiModel, RequestModel
from mm_common.permissions import Action
from mm_common.system_settings import SettingText, SignupPolicy, SystemSettings

router = APIRouter()

Viewer = Annotated[Caller, require(Action.SYSTEM_SETTINGS_VIEW)]
# Every change needs at least this; maintenance mode and sign-ups need MAINTENANCE_MANAGE too.
Manager = Annotated[Caller, require(Action.SYSTEM_SETTINGS_MANAGE)]


class MaintenanceChange(ApiModel):
    on: bool
    message: SettingText = ""


class SettingsChange(RequestModel):
    """The settings to change; those left out stay as they are. ``null`` clears the default AI model
    and the announcement."""

    maintenance: MaintenanceChange | None = None
    signups: SignupPolicy | None = None
    default_ai_model_id: uuid.UUID | None = None
    announcement: SettingText | None = None

    @model_validator(mode="after")
    def _no_null_switches(self) -> SettingsChange:
        for name in ("maintenance", "signups"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"'{name}' cannot be null: leave it out to keep it as it is")
        return self

    def changes(self) -> dict[str, Any]:
        changed: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        if isinstance(changed.get("announcement"), str) and not changed["announcement"].strip():
            changed["announcement"] = None  # an empty banner is no banner
        return changed


class SettingsEnvelope(ApiModel):
    settings: SystemSettings


@router.get("/api/admin/settings", response_model=SettingsEnvelope, summary="The system settings")
def read_settings(caller: Viewer) -> SettingsEnvelope:
    with db.transaction() as conn:
        settings = service.read_settings(conn)
    return SettingsEnvelope(settings=settings)


@router.patch(
    "/api/admin/settings",
    response_model=SettingsEnvelope,
    summary="Change system settings (maintenance mode and sign-ups: administrators only)",
)
def update_settings(body: SettingsChange, caller: Manager) -> SettingsEnvelope:
    with db.transaction() as conn:
        settings = service.update_settings(conn, caller, body.changes())
    system_settings.clear_cache()  # in effect here at once; elsewhere within the cache's TTL
    return SettingsEnvelope(settings=settings)
