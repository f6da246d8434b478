"""System settings: who may change which, validation against the AI catalog, the audit trail."""

from __future__ import annotations

from typing import Any

from mm_common import audit, system_settings
from mm_common.ai.catalog import model_with_provider
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.errors import Forbidden, Unprocessable
from mm_common.observability import traced
from mm_common.permissions import Action
from mm_common.system_settings import SystemSettings

SERVICE = "admin"

# Who may change each setting: maintenance mode and sign-ups are the administrators' alone;
# co-admins change the AI and announcement settings.
REQUIRED_ACTION: dict[str, Action] = {
    "maintenance": Action.MAINTENANCE_MANAGE,
    "signups": Action.MAINTENANCE_MANAGE,
    "default_ai_model_id": Action.SYSTEM_SETTINGS_MANAGE,
    "announcement": Action.SYSTEM_SETTINGS_MANAGE,
}
assert set(REQUIRED_ACTION) == set(system_settings.KEYS), "every setting says who may change it"


@traced(SERVICE)
def read_settings(conn: Connection) -> SystemSettings:
    """The settings as stored (not the container's cache: an administrator sees what was saved)."""
    return system_settings.load(conn)


def _wire_name(key: str) -> str:
    alias = SystemSettings.model_fields[key].alias
    return alias or key


@traced(SERVICE)
def update_settings(conn: Connection, caller: Caller, changes: dict[str, Any]) -> SystemSettings:
    """Apply ``changes`` (setting → new value, as JSON) all or nothing: 403 when any of them is not
    the caller's to change, 422 for a default AI model that is not an available one. Each setting
    that changed is stored and audited with its value before and after (none is secret).
    The caller clears the settings cache once the transaction committed."""
    refused = sorted(key for key in changes if not caller.may(REQUIRED_ACTION[key]))
    if refused:
        raise Forbidden(
            "Only platform administrators may change maintenance mode and sign-ups; nothing was changed.",
            details={"fields": [_wire_name(key) for key in refused]},
        )
    model_id = changes.get("default_ai_model_id")
    if model_id is not None and model_with_provider(conn, model_id) is None:
        message = "This AI model does not exist or is not available: pick one from GET /api/ai/models."
        raise Unprocessable(message, details=[{"field": "defaultAiModelId", "in": "body", "message": message}])
    before = system_settings.load(conn)
    after = SystemSettings.model_validate({**before.model_dump(mode="json"), **changes})
    for key in changes:
        old = before.model_dump(mode="json", include={key})[key]
        new = after.model_dump(mode="json", include={key})[key]
        if old == new:
            continue
        system_settings.store(conn, key, new, updated_by=caller.user_id)
        audit.log(
            conn,
            caller,
            "system_settings.update",
            resource_type="system_setting",
            details={"key": key, "before": old, "after": new},
            organization_id=None,
        )
    return after
