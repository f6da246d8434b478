"""Leaving an organization: any member may, except its last owner; outsiders find nothing to leave."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.organizations.helpers import DB, User, audit_rows, count, error_code, member_id, membership
from tests.support.identity import add_member, make_organization, make_user


def _leave(client: TestClient, user: User | None, org: object) -> Any:
    return client.post(f"/api/organizations/{org}/leave", headers=user.headers if user else {})


@pytest.mark.parametrize(("role", "permissions"), [("admin", ["view"]), ("member", ["view", "edit"]), ("viewer", [])])
def test_a_member_of_any_role_leaves_and_loses_access(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, role: str, permissions: list[str]
) -> None:
    leaver = make_user(db)
    leaver_member = add_member(db, org, leaver, role, permissions)
    own = make_organization(db, leaver, name="Mine")

    response = _leave(client, leaver, org)
    assert response.status_code == 204 and response.content == b""
    assert membership(db, org, leaver) is None
    assert client.get(f"/api/organizations/{org}", headers=leaver.headers).status_code == 404
    listed = client.get("/api/organizations", headers=leaver.headers).json()["items"]
    assert [o["id"] for o in listed] == [str(own)]
    members = client.get(f"/api/organizations/{org}/members", headers=owner.headers).json()["items"]
    assert [m["userId"] for m in members] == [str(owner.id)]
    (row,) = audit_rows(db, "member.leave")
    assert row["user_id"] == leaver.id and row["organization_id"] == org and row["resource_id"] == leaver_member
    assert row["metadata"]["memberUserId"] == str(leaver.id) and row["metadata"]["role"] == role

    # Gone: leaving again finds no organization.
    again = _leave(client, leaver, org)
    assert again.status_code == 404 and error_code(again) == "not_found"


def test_the_last_owner_cannot_leave_another_owner_can(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    admin = make_user(db)
    add_member(db, org, admin, "admin", ["view"])

    refused = _leave(client, owner, org)
    assert refused.status_code == 409 and error_code(refused) == "last_owner"
    assert membership(db, org, owner) is not None and audit_rows(db, "member.leave") == []

    co_owner = make_user(db)
    add_member(db, org, co_owner, "owner", ["view", "edit", "deploy", "manage", "invite"])
    assert _leave(client, owner, org).status_code == 204
    # organizations.owner_id moves on to the owner who stays.
    assert db.execute("SELECT owner_id FROM organizations WHERE id = %s", (org,)).fetchone() == (co_owner.id,)
    last = _leave(client, co_owner, org)
    assert last.status_code == 409 and error_code(last) == "last_owner"
    assert (
        count(db, "SELECT count(*) FROM organization_members WHERE organization_id = %s AND role = 'owner'", org) == 1
    )


def test_there_is_nothing_to_leave_outside_the_organization(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    someone = make_user(db)
    someone_member = add_member(db, org, someone, "member", ["view"])
    outsider = make_user(db)
    ours = make_organization(db, outsider, name="Ours")
    co_admin = make_user(db, role="co_admin")

    for caller in (outsider, co_admin):
        for target in (org, uuid.uuid4(), "not-a-uuid"):
            response = _leave(client, caller, target)
            assert response.status_code == 404, (target, response.text)
            assert error_code(response) == "not_found"
    # A platform administrator sees every organization, but is no member of this one: nothing to leave.
    platform_admin = make_user(db, role="admin")
    response = _leave(client, platform_admin, org)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert _leave(client, None, org).status_code == 401

    # Nothing changed: the members are who they were, the outsider's own organization is theirs.
    assert member_id(db, org, someone) == someone_member and membership(db, org, owner) is not None
    assert membership(db, ours, outsider) is not None
    assert count(db, "SELECT count(*) FROM organization_members WHERE organization_id = %s", org) == 2
    assert audit_rows(db, "member.leave") == []
