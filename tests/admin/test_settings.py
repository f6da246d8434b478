"""System settings: GET/PATCH /api/admin/settings, maintenance mode, the sign-up policy, the default
AI model, GET /api/system/status, and `python -m mmctl maintenance`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mm_common import system_settings
from tests.support.cli import mmctl
from tests.support.identity import PASSWORD, Account, make_user

SETTINGS = "/api/admin/settings"
MESSAGE = "Upgrading the database; back at 10:30 UTC."

Db = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture(autouse=True)
def _fresh_settings_cache(stack: object) -> Iterator[None]:
    """Each test reads the settings it wrote (the cache of this process, shared by every handler
    of the local stack, is cleared by the writer; mmctl and direct rows need this)."""
    system_settings.clear_cache()
    yield
    system_settings.clear_cache()  # the tables are emptied next: no later test sees this test's settings


def _patch(client: TestClient, who: Account, body: dict[str, Any]) -> Any:
    return client.patch(SETTINGS, json=body, headers=who.headers)


def _stored(db: Db) -> dict[str, Any]:
    rows = db.execute("SELECT key, value FROM system_settings").fetchall()
    return {str(row[0]): row[1] for row in rows}


def _audit_rows(db: Db) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT user_id, action, resource_type, metadata FROM audit_logs"
        " WHERE action = 'system_settings.update' ORDER BY created_at, id"
    ).fetchall()


def _enabled_model(db: Db, *, available: bool = True) -> uuid.UUID:
    provider = db.execute(
        "INSERT INTO ai_providers (name, slug, kind, api_base_url) VALUES ('P', %s, 'openai', 'https://p.example/v1')"
        " RETURNING id",
        (f"p-{uuid.uuid4().hex[:8]}",),
    ).fetchone()
    assert provider is not None
    row = db.execute(
        "INSERT INTO ai_models (display_name, api_name, provider_id, is_available) VALUES ('M', %s, %s, %s)"
        " RETURNING id",
        (f"m-{uuid.uuid4().hex[:8]}", provider[0], available),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


DEFAULTS = {
    "maintenance": {"on": False, "message": ""},
    "signups": "open",
    "defaultAiModelId": None,
    "announcement": None,
}


def test_defaults_when_nothing_was_set(client: TestClient, db: Db) -> None:
    co_admin = make_user(db, role="co_admin")
    answer = client.get(SETTINGS, headers=co_admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"settings": DEFAULTS}
    status = client.get("/api/system/status")
    assert status.status_code == 200
    assert status.json() == {
        "status": {"maintenance": {"on": False, "message": None}, "announcement": None, "signups": "open"}
    }
    assert client.get("/api/health").json()["maintenance"] is False


def test_members_cannot_read_or_change_settings(client: TestClient, db: Db) -> None:
    member = make_user(db)
    assert client.get(SETTINGS, headers=member.headers).status_code == 403
    assert _patch(client, member, {"announcement": "hi"}).status_code == 403
    assert client.get(SETTINGS).status_code == 401
    assert _stored(db) == {}


def test_maintenance_mode_refuses_everyone_but_administrators(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    co_admin = make_user(db, role="co_admin")
    member = make_user(db)
    assert client.get("/api/projects", headers=member.headers).status_code == 200

    answer = _patch(client, admin, {"maintenance": {"on": True, "message": MESSAGE}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["maintenance"] == {"on": True, "message": MESSAGE}

    refused = client.get("/api/projects", headers=member.headers)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "maintenance"
    assert refused.json()["error"]["message"] == MESSAGE
    assert int(refused.headers["Retry-After"]) > 0
    anonymous = client.get("/api/projects")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (503, "maintenance")
    assert client.post("/api/auth/register", json={"email": "new@example.com"}).status_code == 503

    assert client.get("/api/projects", headers=admin.headers).status_code == 200
    assert client.get("/api/projects", headers=co_admin.headers).status_code == 200
    assert client.get(SETTINGS, headers=co_admin.headers).status_code == 200
    signed_in = client.post("/api/auth/login", json={"email": admin.email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    fresh = {"Authorization": f"Bearer {signed_in.json()['accessToken']}"}
    assert client.get("/api/projects", headers=fresh).status_code == 200

    health = client.get("/api/health")
    assert (health.status_code, health.json()["maintenance"]) == (200, True)
    assert client.get("/api/system/status").json()["status"]["maintenance"] == {"on": True, "message": MESSAGE}

    assert _patch(client, admin, {"maintenance": {"on": False}}).status_code == 200
    assert client.get("/api/projects", headers=member.headers).status_code == 200
    assert client.get("/api/health").json()["maintenance"] is False


def test_maintenance_without_a_message_says_a_default_one(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    member = make_user(db)
    assert _patch(client, admin, {"maintenance": {"on": True}}).status_code == 200
    refused = client.get("/api/projects", headers=member.headers)
    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == system_settings.DEFAULT_MAINTENANCE_MESSAGE


def test_a_co_admin_sets_the_announcement_but_not_maintenance(client: TestClient, db: Db) -> None:
    co_admin = make_user(db, role="co_admin")
    answer = _patch(client, co_admin, {"announcement": "New models are available."})
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"]["announcement"] == "New models are available."
    assert client.get("/api/system/status").json()["status"]["announcement"] == "New models are available."

    for body in (
        {"maintenance": {"on": True, "message": "x"}},
        {"signups": "closed"},
        {"announcement": "changed", "signups": "closed"},  # one refused field refuses the whole PATCH
    ):
        refused = _patch(client, co_admin, body)
        assert refused.status_code == 403, body
        assert refused.json()["error"]["code"] == "forbidden"
    assert _stored(db) == {"announcement": "New models are available."}
    assert client.get(SETTINGS, headers=co_admin.headers).json()["settings"]["signups"] == "open"


def test_several_settings_in_one_patch_and_their_audit_rows(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    model_id = _enabled_model(db)
    body = {"signups": "invite_only", "announcement": "Hello", "defaultAiModelId": str(model_id)}
    answer = _patch(client, admin, body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["settings"] == {**DEFAULTS, **body}
    assert client.get(SETTINGS, headers=admin.headers).json()["settings"] == {**DEFAULTS, **body}

    rows = _audit_rows(db)
    assert {row[3]["key"]: (row[3]["before"], row[3]["after"]) for row in rows} == {
        "signups": ("open", "invite_only"),
        "announcement": (None, "Hello"),
        "default_ai_model_id": (None, str(model_id)),
    }
    assert all(row[0] == admin.id and row[2] == "system_setting" for row in rows)

    # Setting what is already set changes nothing and records nothing.
    assert _patch(client, admin, {"announcement": "Hello"}).status_code == 200
    assert len(_audit_rows(db)) == 3
    # null clears the announcement.
    assert _patch(client, admin, {"announcement": None}).json()["settings"]["announcement"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"signups": "sometimes"},
        {"maintenance": {"on": True, "message": "x" * 501}},
        {"maintenance": {"message": "no switch"}},
        {"maintenance": None},
        {"signups": None},
        {"announcement": "x" * 501},
        {"defaultAiModelId": "not-a-uuid"},
        {"colour": "blue"},
    ],
)
def test_bad_values_are_refused(client: TestClient, db: Db, body: dict[str, Any]) -> None:
    admin = make_user(db, role="admin")
    answer = _patch(client, admin, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    assert _stored(db) == {}


def test_the_default_ai_model_must_exist_and_be_available(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    for model_id in (uuid.uuid4(), _enabled_model(db, available=False)):
        answer = _patch(client, admin, {"defaultAiModelId": str(model_id), "announcement": "x"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["details"][0]["field"] == "defaultAiModelId"
    assert _stored(db) == {}


def test_new_chats_use_the_default_ai_model(client: TestClient, db: Db) -> None:
    from mm_common import db as common_db
    from mm_common.ai.jobs import default_model_id

    admin = make_user(db, role="admin")
    first, second = _enabled_model(db), _enabled_model(db)
    with common_db.transaction() as conn:
        picked_without_setting = default_model_id(conn, admin.id)
    chosen = second if picked_without_setting == first else first
    assert _patch(client, admin, {"defaultAiModelId": str(chosen)}).status_code == 200
    with common_db.transaction() as conn:
        assert default_model_id(conn, admin.id) == chosen


def _register(client: TestClient, email: str) -> Any:
    return client.post(
        "/api/auth/register", json={"email": email, "password": "a long enough passphrase 42", "fullName": "New"}
    )


def test_sign_ups_closed_and_by_invitation(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    assert _patch(client, admin, {"signups": "closed"}).status_code == 200
    closed = _register(client, "closed@example.com")
    assert closed.status_code == 403
    assert closed.json()["error"]["code"] == "signups_closed"
    assert "closed" in closed.json()["error"]["message"]

    assert _patch(client, admin, {"signups": "invite_only"}).status_code == 200
    uninvited = _register(client, "stranger@example.com")
    assert (uninvited.status_code, uninvited.json()["error"]["code"]) == (403, "invitation_required")
    organization = db.execute(
        "INSERT INTO organizations (name, slug, owner_id) VALUES ('Acme', %s, %s) RETURNING id",
        (f"org-{uuid.uuid4().hex[:8]}", admin.id),
    ).fetchone()
    assert organization is not None
    db.execute(
        "INSERT INTO invitations (organization_id, email, token_hash, expires_at)"
        " VALUES (%s, 'invited@example.com', %s, now() + interval '1 day')",
        (organization[0], uuid.uuid4().hex),
    )
    invited = _register(client, "Invited@Example.com")
    assert invited.status_code == 201, invited.text

    assert _patch(client, admin, {"signups": "open"}).status_code == 200
    assert _register(client, "anyone@example.com").status_code == 201
    emails = {row[0] for row in db.execute("SELECT email FROM users").fetchall()}
    assert {"invited@example.com", "anyone@example.com"} <= emails
    assert not {"closed@example.com", "stranger@example.com"} & emails


def test_mmctl_turns_maintenance_on_and_off(client: TestClient, db: Db, database_url: str) -> None:
    member = make_user(db)
    on = mmctl(database_url, "maintenance", "on", "--message", MESSAGE)
    assert on.returncode == 0, on.stderr
    assert "on" in on.stdout
    system_settings.clear_cache()  # another process wrote it: this one would see it within the TTL
    refused = client.get("/api/projects", headers=member.headers)
    assert (refused.status_code, refused.json()["error"]["message"]) == (503, MESSAGE)
    audit = _audit_rows(db)
    assert len(audit) == 1 and audit[0][0] is None and audit[0][3]["after"] == {"on": True, "message": MESSAGE}

    off = mmctl(database_url, "maintenance", "off")
    assert off.returncode == 0, off.stderr
    system_settings.clear_cache()
    assert client.get("/api/projects", headers=member.headers).status_code == 200
    assert _stored(db)["maintenance"]["on"] is False


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("signups", '"sometimes"'),
        ("maintenance", '{"on": "yes", "message": ""}'),
        ("announcement", "42"),
        ("default_ai_model_id", '"not-a-uuid"'),
    ],
)
def test_the_database_refuses_a_setting_of_the_wrong_type(db: Db, key: str, value: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO system_settings (key, value) VALUES (%s, %s::jsonb)", (key, value))
