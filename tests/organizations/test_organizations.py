"""Organizations, members, invitations and the organization audit log, through the real stack."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from starlette.testclient import TestClient

from devstack.openapi import http_apps
from devstack.stack import LocalStack
from mm_common.api import api_routes
from mm_common.auth import declared_action
from mm_common.pagination import encode_cursor
from mm_common.permissions import Action
from tests.organizations.helpers import (
    ALL,
    DB,
    User,
    accept,
    audit_rows,
    count,
    create_org,
    error_code,
    invitation_token,
    invite,
    mails_to,
    member_id,
    membership,
)
from tests.support.identity import add_member, make_organization, make_user

# ----------------------------------------------------------------------------------- the routes


EXPECTED_ROUTES = {
    ("POST", "/api/organizations"): Action.ORGANIZATION_CREATE,
    ("GET", "/api/organizations"): Action.SELF,
    ("GET", "/api/organizations/{id}"): Action.ORGANIZATION_VIEW,
    ("PATCH", "/api/organizations/{id}"): Action.ORGANIZATION_UPDATE,
    ("DELETE", "/api/organizations/{id}"): Action.ORGANIZATION_DELETE,
    ("POST", "/api/organizations/{id}/members"): Action.MEMBERS_INVITE,
    ("GET", "/api/organizations/{id}/members"): Action.MEMBERS_VIEW,
    ("PATCH", "/api/organizations/{id}/members/{memberId}"): Action.MEMBERS_MANAGE,
    ("DELETE", "/api/organizations/{id}/members/{memberId}"): Action.MEMBERS_MANAGE,
    ("POST", "/api/organizations/{id}/leave"): Action.ORGANIZATION_LEAVE,
    ("GET", "/api/organizations/{id}/invitations"): Action.MEMBERS_INVITE,
    ("DELETE", "/api/organizations/{id}/invitations/{invitationId}"): Action.MEMBERS_INVITE,
    ("POST", "/api/invitations/accept"): Action.SELF,
    ("GET", "/api/organizations/{id}/audit-logs"): Action.ORGANIZATION_AUDIT_VIEW,
}


def service_module() -> ModuleType:
    """The organizations service (its rules; never the handler module)."""
    http_apps()  # puts the functions' code on sys.path, as the runtime does
    from organizations_fn import service

    return service


def test_the_app_declares_exactly_its_routes_each_with_its_action() -> None:
    declared = {
        (method, route.path): declared_action(route.original_route)
        for route in api_routes(http_apps()["OrganizationsFunction"].routes)  # the routers' routes too
        for method in route.methods or ()
    }
    assert declared == EXPECTED_ROUTES


# ------------------------------------------------------------------------------ organizations


def test_create_get_update_delete_with_slugs(client: TestClient, db: DB, owner: User) -> None:
    first = create_org(client, owner, "Acme Inc.")
    assert first["name"] == "Acme Inc." and first["slug"] == "acme-inc"
    assert first["ownerId"] == str(owner.id) and first["role"] == "owner"
    assert first["subscriptionTier"] == "free" and first["subscriptionStatus"] == "active"
    assert first["createdAt"].endswith("Z") and first["updatedAt"].endswith("Z")
    assert membership(db, first["id"], owner) == ("owner", ALL)
    second = create_org(client, owner, "  Acme   Inc  ")
    assert second["slug"] == "acme-inc-2" and second["name"] == "Acme   Inc"
    assert len(audit_rows(db, "organization.create")) == 2

    got = client.get(f"/api/organizations/{first['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == {"organization": first}

    renamed = client.patch(f"/api/organizations/{first['id']}", json={"name": "Acme Corp"}, headers=owner.headers)
    assert renamed.status_code == 200
    assert renamed.json()["organization"]["name"] == "Acme Corp"
    assert renamed.json()["organization"]["slug"] == "acme-inc"  # renaming keeps the slug (URLs stay valid)

    taken = client.patch(f"/api/organizations/{first['id']}", json={"slug": "acme-inc-2"}, headers=owner.headers)
    assert taken.status_code == 409 and error_code(taken) == "slug_taken"
    same = client.patch(f"/api/organizations/{first['id']}", json={"slug": "acme-inc"}, headers=owner.headers)
    assert same.status_code == 200
    moved = client.patch(
        f"/api/organizations/{first['id']}", json={"slug": "acme", "name": "Acme"}, headers=owner.headers
    )
    assert moved.status_code == 200
    assert (moved.json()["organization"]["slug"], moved.json()["organization"]["name"]) == ("acme", "Acme")
    updates = audit_rows(db, "organization.update")
    assert [u["metadata"] for u in updates] == [
        {"before": {"name": "Acme Inc."}, "after": {"name": "Acme Corp"}},
        {"before": {"name": "Acme Corp", "slug": "acme-inc"}, "after": {"name": "Acme", "slug": "acme"}},
    ]

    deleted = client.delete(f"/api/organizations/{first['id']}", headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert client.get(f"/api/organizations/{first['id']}", headers=owner.headers).status_code == 404
    assert count(db, "SELECT count(*) FROM organization_members WHERE organization_id = %s", first["id"]) == 0
    (row,) = audit_rows(db, "organization.delete")
    assert row["organization_id"] is None  # the trail outlives the organization...
    assert row["metadata"] == {"organizationId": first["id"], "name": "Acme", "slug": "acme"}  # ...and names it
    assert row["user_id"] == owner.id and str(row["resource_id"]) == first["id"]

    listed = client.get("/api/organizations", headers=owner.headers).json()
    assert [o["id"] for o in listed["items"]] == [second["id"]] and listed["nextCursor"] is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": "tab\tin name"},
        {"name": 42},
        {"name": "Acme", "slug": "acme"},  # unknown field
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(client: TestClient, db: DB, owner: User, body: Any) -> None:
    response = client.post("/api/organizations", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert response.json()["error"]["message"].startswith("The request is not valid")
    assert count(db, "SELECT count(*) FROM organizations") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Upper"}, "slug"),
        ({"slug": "-leading"}, "slug"),
        ({"slug": "trailing-"}, "slug"),
        ({"slug": "has space"}, "slug"),
        ({"slug": "a" * 61}, "slug"),
        ({"slug": None}, "slug"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "Fine", "slug": "Not Fine"}, "slug"),
        ({"ownerId": str(uuid.uuid4())}, "ownerId"),
    ],
)
def test_update_refuses_bad_input_and_changes_nothing(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, body: Any, field: str
) -> None:
    before = db.execute("SELECT name, slug, updated_at FROM organizations WHERE id = %s", (org,)).fetchone()
    response = client.patch(f"/api/organizations/{org}", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field
    after = db.execute("SELECT name, slug, updated_at FROM organizations WHERE id = %s", (org,)).fetchone()
    assert after == before
    assert audit_rows(db, "organization.update") == []


def test_only_owners_and_admins_update_and_only_owners_delete(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    admin, member, viewer = make_user(db), make_user(db), make_user(db)
    add_member(db, org, admin, "admin", ["view"])
    add_member(db, org, member, "member", ALL)  # permissions do not reach organization settings
    add_member(db, org, viewer, "viewer", ["view"])
    for user in (member, viewer):
        assert client.get(f"/api/organizations/{org}", headers=user.headers).json()["organization"]["role"] in (
            "member",
            "viewer",
        )
        response = client.patch(f"/api/organizations/{org}", json={"name": "Mine"}, headers=user.headers)
        assert response.status_code == 403
    assert client.patch(f"/api/organizations/{org}", json={"name": "Ours"}, headers=admin.headers).status_code == 200
    for user in (admin, member, viewer):
        assert client.delete(f"/api/organizations/{org}", headers=user.headers).status_code == 403
    assert client.delete(f"/api/organizations/{org}", headers=owner.headers).status_code == 204


def test_platform_admins_list_every_organization_with_all(client: TestClient, db: DB, owner: User) -> None:
    mine = create_org(client, owner, "Mine")
    admin = make_user(db, role="admin")
    theirs = create_org(client, admin, "Admin's own")

    own = client.get("/api/organizations", headers=admin.headers).json()["items"]
    assert [o["id"] for o in own] == [theirs["id"]]
    everything = client.get("/api/organizations?all=true", headers=admin.headers)
    assert everything.status_code == 200
    roles = {o["id"]: o["role"] for o in everything.json()["items"]}
    assert roles == {mine["id"]: None, theirs["id"]: "owner"}
    # An admin who is not a member sees the organization, with no role in it.
    got = client.get(f"/api/organizations/{mine['id']}", headers=admin.headers)
    assert got.status_code == 200 and got.json()["organization"]["role"] is None

    for role in ("user", "co_admin"):
        someone = make_user(db, role=role)
        refused = client.get("/api/organizations?all=true", headers=someone.headers)
        assert refused.status_code == 403, role
    assert client.get("/api/organizations").status_code == 401


def test_lists_are_keyset_paginated_with_a_cursor(client: TestClient, db: DB, owner: User) -> None:
    created = [create_org(client, owner, f"Org {n}") for n in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/organizations", params=params, headers=owner.headers).json()
        seen += [o["id"] for o in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [o["id"] for o in reversed(created)]  # newest first, each exactly once

    # Members: in the order they joined.
    org = created[0]["id"]
    others = [make_user(db) for _ in range(3)]
    for user in others:
        add_member(db, org, user, "member", ["view"])
    first = client.get(f"/api/organizations/{org}/members?limit=3", headers=owner.headers).json()
    assert [m["userId"] for m in first["items"]] == [str(owner.id), *(str(u.id) for u in others[:2])]
    assert set(first["items"][0]) == {"id", "userId", "email", "fullName", "role", "permissions", "joinedAt"}
    assert first["items"][0]["fullName"] == "Olive Owner" and first["items"][0]["email"] == owner.email
    rest = client.get(
        f"/api/organizations/{org}/members", params={"limit": 3, "cursor": first["nextCursor"]}, headers=owner.headers
    ).json()
    assert [m["userId"] for m in rest["items"]] == [str(others[2].id)] and rest["nextCursor"] is None

    for bad in ("not-a-cursor", encode_cursor("yesterday", "x"), encode_cursor("2024-01-01T00:00:00", uuid.uuid4())):
        response = client.get("/api/organizations", params={"cursor": bad}, headers=owner.headers)
        assert response.status_code == 422 and error_code(response) == "invalid_cursor", bad
    for limit in (0, 101):
        assert client.get(f"/api/organizations?limit={limit}", headers=owner.headers).status_code == 422


# --------------------------------------------------------------------------- tenant isolation


def test_another_organization_does_not_exist_for_an_outsider(client: TestClient, db: DB, owner: User) -> None:
    theirs = make_organization(db, owner, name="Theirs")
    their_member = make_user(db)
    their_member_id = add_member(db, theirs, their_member, "member", ["view"])
    assert invite(client, owner, theirs, f"guest-{uuid.uuid4().hex[:8]}@example.com").status_code == 201
    row = db.execute("SELECT id FROM invitations WHERE organization_id = %s", (theirs,)).fetchone()
    assert row is not None
    their_invitation = row[0]
    intruder_email = f"intruder-{uuid.uuid4().hex[:8]}@example.com"

    outsider = make_user(db, role="co_admin")  # a co-admin reaches no organization route
    ours = create_org(client, outsider, "Ours")["id"]
    body = {"name": "Hacked"}
    routes: list[tuple[str, str, Any]] = [
        ("GET", f"/api/organizations/{theirs}", None),
        ("PATCH", f"/api/organizations/{theirs}", body),
        ("DELETE", f"/api/organizations/{theirs}", None),
        ("POST", f"/api/organizations/{theirs}/members", {"email": intruder_email}),
        ("GET", f"/api/organizations/{theirs}/members", None),
        ("PATCH", f"/api/organizations/{theirs}/members/{their_member_id}", {"role": "viewer"}),
        ("DELETE", f"/api/organizations/{theirs}/members/{their_member_id}", None),
        ("GET", f"/api/organizations/{theirs}/invitations", None),
        ("DELETE", f"/api/organizations/{theirs}/invitations/{their_invitation}", None),
        ("GET", f"/api/organizations/{theirs}/audit-logs", None),
        # Their member and invitation ids through the outsider's own organization.
        ("PATCH", f"/api/organizations/{ours}/members/{their_member_id}", {"role": "viewer"}),
        ("DELETE", f"/api/organizations/{ours}/members/{their_member_id}", None),
        ("DELETE", f"/api/organizations/{ours}/invitations/{their_invitation}", None),
        # Ids that do not exist, or are not ids.
        ("GET", f"/api/organizations/{uuid.uuid4()}", None),
        ("GET", "/api/organizations/not-a-uuid", None),
        ("PATCH", f"/api/organizations/{ours}/members/not-a-uuid", {"role": "viewer"}),
        ("DELETE", f"/api/organizations/{ours}/invitations/not-a-uuid", None),
    ]
    for method, path, json in routes:
        response = client.request(method, path, json=json, headers=outsider.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert "Theirs" not in response.text
    for method, path, json in routes[:10]:
        assert client.request(method, path, json=json).status_code == 401, (method, path)

    assert db.execute("SELECT name FROM organizations WHERE id = %s", (theirs,)).fetchone() == ("Theirs",)
    assert membership(db, theirs, their_member) == ("member", ["view"])
    assert count(db, "SELECT count(*) FROM invitations WHERE revoked_at IS NULL AND organization_id = %s", theirs) == 1
    assert mails_to(client, intruder_email) == []
    listed = client.get("/api/organizations", headers=outsider.headers).json()["items"]
    assert [o["id"] for o in listed] == [ours]


# -------------------------------------------------------------------------------- invitations


def test_invite_emails_a_link_the_invited_user_accepts(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    email = f"carol-{uuid.uuid4().hex[:8]}@example.com"
    response = invite(client, owner, org, email.upper(), role="member", permissions=["edit", "view", "edit"])
    assert response.status_code == 201, response.text
    invitation = response.json()["invitation"]
    assert invitation["email"] == email and invitation["role"] == "member"
    assert invitation["permissions"] == ["view", "edit"]
    assert invitation["organizationId"] == str(org) and invitation["invitedBy"] == str(owner.id)
    expires = datetime.fromisoformat(invitation["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)

    (mail,) = mails_to(client, email)
    assert mail["subject"] == "You are invited to Acme on MoreMinimore"
    assert "Olive Owner invited you" in mail["text"]
    token = invitation_token(client, email)
    stored = db.execute("SELECT token_hash FROM invitations WHERE id = %s", (invitation["id"],)).fetchone()
    assert stored == (hashlib.sha256(token.encode()).hexdigest(),)  # only the hash is kept
    assert token not in str(db.execute("SELECT * FROM invitations").fetchall())

    pending = client.get(f"/api/organizations/{org}/invitations", headers=owner.headers).json()
    assert pending == {"items": [invitation], "nextCursor": None}

    someone_else = make_user(db)
    mismatch = accept(client, someone_else, token)
    assert mismatch.status_code == 403 and error_code(mismatch) == "invitation_email_mismatch"
    assert membership(db, org, someone_else) is None

    carol = make_user(db, email, full_name="Carol")
    accepted = accept(client, carol, token)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["organization"]["id"] == str(org) and body["organization"]["role"] == "member"
    assert body["member"]["userId"] == str(carol.id) and body["member"]["fullName"] == "Carol"
    assert body["member"]["permissions"] == ["view", "edit"]
    assert membership(db, org, carol) == ("member", ["view", "edit"])
    assert client.get(f"/api/organizations/{org}", headers=carol.headers).status_code == 200
    (added,) = audit_rows(db, "member.add")
    assert added["user_id"] == carol.id and added["organization_id"] == org
    assert added["metadata"]["invitationId"] == invitation["id"]

    reused = accept(client, carol, token)
    assert reused.status_code == 410 and error_code(reused) == "invitation_used"
    assert client.get(f"/api/organizations/{org}/invitations", headers=owner.headers).json()["items"] == []
    again = invite(client, owner, org, email)
    assert again.status_code == 409 and error_code(again) == "already_member"
    unknown = accept(client, carol, "no-such-token")
    assert unknown.status_code == 404 and error_code(unknown) == "invitation_not_found"
    assert accept(client, carol, "").status_code == 422
    assert client.post("/api/invitations/accept", json={"token": token}).status_code == 401


def test_a_member_who_joined_otherwise_cannot_accept_twice(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    dave = make_user(db)
    assert invite(client, owner, org, dave.email).status_code == 201
    add_member(db, org, dave, "viewer", ["view"])  # joined by another path meanwhile
    response = accept(client, dave, invitation_token(client, dave.email))
    assert response.status_code == 409 and error_code(response) == "already_member"
    assert membership(db, org, dave) == ("viewer", ["view"])


def test_a_new_invitation_replaces_the_pending_one_and_revoking_ends_it(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    erin = make_user(db)
    first = invite(client, owner, org, erin.email).json()["invitation"]
    first_token = invitation_token(client, erin.email)
    second = invite(client, owner, org, erin.email, role="viewer").json()["invitation"]
    second_token = invitation_token(client, erin.email)
    assert first_token != second_token and first["id"] != second["id"]
    pending = client.get(f"/api/organizations/{org}/invitations", headers=owner.headers).json()["items"]
    assert [i["id"] for i in pending] == [second["id"]]
    old = accept(client, erin, first_token)
    assert old.status_code == 410 and error_code(old) == "invitation_revoked"
    assert audit_rows(db, "member.invite")[1]["metadata"]["replacedInvitationIds"] == [first["id"]]

    revoked = client.delete(f"/api/organizations/{org}/invitations/{second['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert (
        client.delete(f"/api/organizations/{org}/invitations/{second['id']}", headers=owner.headers).status_code == 404
    )
    gone = accept(client, erin, second_token)
    assert gone.status_code == 410 and error_code(gone) == "invitation_revoked"
    assert membership(db, org, erin) is None
    (row,) = audit_rows(db, "invitation.revoke")
    assert str(row["resource_id"]) == second["id"] and row["metadata"]["email"] == erin.email


def test_an_expired_invitation_cannot_be_accepted(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    frank = make_user(db)
    invitation = invite(client, owner, org, frank.email).json()["invitation"]
    db.execute("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s", (invitation["id"],))
    response = accept(client, frank, invitation_token(client, frank.email))
    assert response.status_code == 410 and error_code(response) == "invitation_expired"
    assert membership(db, org, frank) is None
    assert client.get(f"/api/organizations/{org}/invitations", headers=owner.headers).json()["items"] == []
    assert (
        client.delete(f"/api/organizations/{org}/invitations/{invitation['id']}", headers=owner.headers).status_code
        == 404
    )
    # Inviting again works (the expired one is replaced).
    assert invite(client, owner, org, frank.email).status_code == 201
    assert accept(client, frank, invitation_token(client, frank.email)).status_code == 200


def test_who_may_invite_whom_with_which_permissions(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    admin, inviter, plain, viewer = make_user(db), make_user(db), make_user(db), make_user(db)
    add_member(db, org, admin, "admin", ["view"])
    add_member(db, org, inviter, "member", ["view", "edit", "invite"])
    add_member(db, org, plain, "member", ["view", "edit"])
    add_member(db, org, viewer, "viewer", ["view", "invite"])  # viewers are read-only, whatever is stored

    def new_email() -> str:
        return f"guest-{uuid.uuid4().hex[:8]}@example.com"

    refused = invite(client, admin, org, new_email(), role="admin")
    assert refused.status_code == 403 and error_code(refused) == "owner_required"
    assert invite(client, admin, org, new_email(), permissions=ALL).status_code == 201
    assert invite(client, owner, org, new_email(), role="admin").status_code == 201

    assert invite(client, inviter, org, new_email(), permissions=["view", "edit"]).status_code == 201
    assert invite(client, inviter, org, new_email(), role="viewer").status_code == 201
    beyond = invite(client, inviter, org, new_email(), permissions=["edit", "deploy"])
    assert beyond.status_code == 403 and error_code(beyond) == "permission_not_held"
    assert beyond.json()["error"]["details"] == {"permissions": ["deploy"]}
    assert invite(client, inviter, org, new_email(), role="admin").status_code == 403
    assert invite(client, plain, org, new_email()).status_code == 403
    assert invite(client, viewer, org, new_email()).status_code == 403
    assert client.get(f"/api/organizations/{org}/invitations", headers=inviter.headers).status_code == 200
    assert client.get(f"/api/organizations/{org}/invitations", headers=plain.headers).status_code == 403

    viewer_invite = invite(client, owner, org, new_email(), role="viewer", permissions=["edit", "deploy"])
    assert viewer_invite.json()["invitation"]["permissions"] == ["view"]

    platform_admin = make_user(db, role="admin")  # not a member
    by_admin = invite(client, platform_admin, org, new_email(), role="admin")
    assert by_admin.status_code == 201 and by_admin.json()["invitation"]["invitedBy"] == str(platform_admin.id)
    assert count(db, "SELECT count(*) FROM invitations") == 6
    assert len(audit_rows(db, "member.invite")) == 6


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"email": "ok@example.com", "role": "owner"}, "role"),
        ({"email": "ok@example.com", "permissions": ["fly"]}, "permissions.0"),
        ({"email": "ok@example.com", "permissions": "view"}, "permissions"),
        ({"email": "ok@example.com", "extra": 1}, "extra"),
        ({}, "email"),
    ],
)
def test_invite_refuses_bad_input_and_sends_nothing(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, body: Any, field: str
) -> None:
    mail_before = len(client.get("/dev/mail.json").json())
    response = client.post(f"/api/organizations/{org}/members", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field
    assert count(db, "SELECT count(*) FROM invitations") == 0
    assert len(client.get("/dev/mail.json").json()) == mail_before


def test_the_plans_member_limit_counts_pending_invitations_and_refuses_with_402(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    """Both places where membership grows ask the plan, inside their transaction: a refusal leaves nothing behind."""
    db.execute("UPDATE organizations SET subscription_tier = 'free' WHERE id = %s", (org,))
    refused = invite(client, owner, org, f"jo-{uuid.uuid4().hex[:8]}@example.com")
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["details"] == {"limit": 1, "used": 1, "tier": "free", "resource": "members"}
    assert "Upgrade" in refused.json()["error"]["message"]

    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (org,))
    db.execute("UPDATE plans SET max_members = 2 WHERE tier = 'pro'")
    ivy = make_user(db)
    assert invite(client, owner, org, ivy.email).status_code == 201  # the owner and a pending invitation: 2
    token = invitation_token(client, ivy.email)
    mail_before = len(client.get("/dev/mail.json").json())
    full = invite(client, owner, org, f"jo-{uuid.uuid4().hex[:8]}@example.com")
    assert full.status_code == 402 and full.json()["error"]["details"]["used"] == 2
    assert invite(client, owner, org, ivy.email).status_code == 201  # a new invitation replaces hers: still 2
    token = invitation_token(client, ivy.email)

    # An admin lowers the limit below what the organization has: nothing is removed, the pending
    # invitation cannot be accepted while the organization is over it.
    db.execute("UPDATE plans SET max_members = 1 WHERE tier = 'pro'")
    declined = accept(client, ivy, token)
    assert declined.status_code == 402 and error_code(declined) == "plan_limit_reached"
    assert membership(db, org, ivy) is None and audit_rows(db, "member.add") == []
    assert count(db, "SELECT count(*) FROM invitations WHERE accepted_at IS NULL AND revoked_at IS NULL") == 1
    assert len(client.get("/dev/mail.json").json()) == mail_before + 1  # the replacing invitation's only

    db.execute("UPDATE plans SET max_members = 2 WHERE tier = 'pro'")
    assert accept(client, ivy, token).status_code == 200
    assert membership(db, org, ivy) is not None


# ------------------------------------------------------------------------------------ members


def test_changing_roles_and_permissions_viewers_stay_read_only(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    gina = make_user(db)
    gina_id = add_member(db, org, gina, "member", ["view", "invite"])
    path = f"/api/organizations/{org}/members/{gina_id}"
    assert client.get(f"/api/organizations/{org}/invitations", headers=gina.headers).status_code == 200

    to_viewer = client.patch(path, json={"role": "viewer", "permissions": ["edit", "invite"]}, headers=owner.headers)
    assert to_viewer.status_code == 200, to_viewer.text
    assert to_viewer.json()["member"]["role"] == "viewer" and to_viewer.json()["member"]["permissions"] == ["view"]
    assert membership(db, org, gina) == ("viewer", ["view"])
    assert client.get(f"/api/organizations/{org}/invitations", headers=gina.headers).status_code == 403

    to_member = client.patch(
        path, json={"role": "member", "permissions": ["deploy", "edit", "deploy"]}, headers=owner.headers
    )
    assert to_member.json()["member"]["permissions"] == ["edit", "deploy"]
    only_permissions = client.patch(path, json={"permissions": ["view", "manage"]}, headers=owner.headers)
    assert only_permissions.json()["member"] == {
        "id": str(gina_id),
        "userId": str(gina.id),
        "email": gina.email,
        "fullName": "Test User",
        "role": "member",
        "permissions": ["view", "manage"],
        "joinedAt": only_permissions.json()["member"]["joinedAt"],
    }
    unchanged = client.patch(path, json={}, headers=owner.headers)
    assert unchanged.status_code == 200 and unchanged.json()["member"]["permissions"] == ["view", "manage"]

    updates = audit_rows(db, "member.update")
    assert [(u["metadata"]["before"], u["metadata"]["after"]) for u in updates] == [
        ({"role": "member", "permissions": ["view", "invite"]}, {"role": "viewer", "permissions": ["view"]}),
        ({"role": "viewer", "permissions": ["view"]}, {"role": "member", "permissions": ["edit", "deploy"]}),
        ({"role": "member", "permissions": ["edit", "deploy"]}, {"role": "member", "permissions": ["view", "manage"]}),
    ]
    assert all(u["resource_id"] == gina_id and u["user_id"] == owner.id for u in updates)

    for bad in ({"role": "boss"}, {"role": None}, {"permissions": None}, {"permissions": ["fly"]}, {"x": 1}):
        response = client.patch(path, json=bad, headers=owner.headers)
        assert response.status_code == 422, bad
    assert membership(db, org, gina) == ("member", ["view", "manage"])
    assert len(audit_rows(db, "member.update")) == 3

    # Only owners and admins manage members.
    assert client.patch(path, json={"role": "admin"}, headers=gina.headers).status_code == 403


def test_owners_are_protected_and_the_last_owner_stays(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    admin, bob = make_user(db), make_user(db)
    admin_id = add_member(db, org, admin, "admin", ["view"])
    bob_id = add_member(db, org, bob, "member", ["view"])
    owner_id = member_id(db, org, owner)
    members = f"/api/organizations/{org}/members"

    # The last owner can neither be demoted nor removed, not even by themselves.
    for response in (
        client.patch(f"{members}/{owner_id}", json={"role": "admin"}, headers=owner.headers),
        client.delete(f"{members}/{owner_id}", headers=owner.headers),
    ):
        assert response.status_code == 409 and error_code(response) == "last_owner"
    # An organization admin cannot touch owners, nor make one.
    for response in (
        client.patch(f"{members}/{owner_id}", json={"role": "member"}, headers=admin.headers),
        client.patch(f"{members}/{owner_id}", json={"permissions": ["view"]}, headers=admin.headers),
        client.delete(f"{members}/{owner_id}", headers=admin.headers),
        client.patch(f"{members}/{bob_id}", json={"role": "owner"}, headers=admin.headers),
        client.patch(f"{members}/{admin_id}", json={"role": "owner"}, headers=admin.headers),
    ):
        assert response.status_code == 403 and error_code(response) == "owner_required"
    # ...nor make an admin (granting the admin role is the owners' too), but manages everyone else.
    made_admin = client.patch(f"{members}/{bob_id}", json={"role": "admin"}, headers=admin.headers)
    assert made_admin.status_code == 403 and error_code(made_admin) == "owner_required"
    assert client.patch(f"{members}/{bob_id}", json={"role": "viewer"}, headers=admin.headers).status_code == 200

    promoted = client.patch(f"{members}/{bob_id}", json={"role": "owner"}, headers=owner.headers)
    assert promoted.status_code == 200 and promoted.json()["member"]["permissions"] == ALL
    # The founding owner leaves: organizations.owner_id moves to the remaining owner.
    assert client.delete(f"{members}/{owner_id}", headers=bob.headers).status_code == 204
    assert db.execute("SELECT owner_id FROM organizations WHERE id = %s", (org,)).fetchone() == (bob.id,)
    assert client.get(f"/api/organizations/{org}", headers=owner.headers).status_code == 404
    (removed,) = audit_rows(db, "member.remove")
    assert removed["metadata"]["memberUserId"] == str(owner.id) and removed["metadata"]["role"] == "owner"
    last = client.patch(f"{members}/{bob_id}", json={"role": "member"}, headers=bob.headers)
    assert last.status_code == 409 and error_code(last) == "last_owner"

    # A platform admin (not a member) may manage owners; demoting the owner_id owner moves owner_id too.
    platform_admin = make_user(db, role="admin")
    made = client.patch(f"{members}/{admin_id}", json={"role": "owner"}, headers=platform_admin.headers)
    assert made.status_code == 200
    demoted = client.patch(f"{members}/{bob_id}", json={"role": "viewer"}, headers=platform_admin.headers)
    assert demoted.status_code == 200 and demoted.json()["member"]["permissions"] == ["view"]
    assert db.execute("SELECT owner_id FROM organizations WHERE id = %s", (org,)).fetchone() == (admin.id,)
    assert (
        count(db, "SELECT count(*) FROM organization_members WHERE organization_id = %s AND role = 'owner'", org) == 1
    )


def test_removing_a_member_ends_their_access(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    admin, hank = make_user(db), make_user(db)
    add_member(db, org, admin, "admin", ["view"])
    hank_id = add_member(db, org, hank, "member", ["view", "edit"])
    assert client.get(f"/api/organizations/{org}/members", headers=hank.headers).status_code == 200
    assert client.delete(f"/api/organizations/{org}/members/{hank_id}", headers=hank.headers).status_code == 403

    assert client.delete(f"/api/organizations/{org}/members/{hank_id}", headers=admin.headers).status_code == 204
    assert membership(db, org, hank) is None
    assert client.get(f"/api/organizations/{org}", headers=hank.headers).status_code == 404
    assert client.delete(f"/api/organizations/{org}/members/{hank_id}", headers=admin.headers).status_code == 404
    (row,) = audit_rows(db, "member.remove")
    assert row["user_id"] == admin.id and row["resource_id"] == hank_id
    assert row["metadata"] == {
        "memberUserId": str(hank.id),
        "email": hank.email,
        "role": "member",
        "permissions": ["view", "edit"],
    }


# ---------------------------------------------------------------------------------- audit log


@pytest.fixture
def remote_client(stack: LocalStack) -> Iterator[TestClient]:
    """A client calling from a routable address, as API Gateway reports it."""
    with TestClient(stack.asgi_app(), base_url="http://127.0.0.1:8000", client=("203.0.113.7", 4321)) as remote:
        remote.headers["User-Agent"] = "mm-tests/1.0"
        yield remote


def test_changes_are_audited_with_ip_and_user_agent_and_the_log_filters(
    remote_client: TestClient, client: TestClient, db: DB, owner: User
) -> None:
    organization = create_org(remote_client, owner, "Audited")
    org = organization["id"]
    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (org,))  # room for a guest
    assert (
        remote_client.patch(f"/api/organizations/{org}", json={"name": "Audited 2"}, headers=owner.headers).status_code
        == 200
    )
    guest = f"guest-{uuid.uuid4().hex[:8]}@example.com"
    invitation = invite(remote_client, owner, org, guest).json()["invitation"]
    admin = make_user(db)
    admin_member = add_member(db, org, admin, "admin", ["view"])
    assert (
        remote_client.patch(
            f"/api/organizations/{org}/members/{admin_member}", json={"role": "member"}, headers=owner.headers
        ).status_code
        == 200
    )

    logs = client.get(f"/api/organizations/{org}/audit-logs", headers=owner.headers)
    assert logs.status_code == 200, logs.text
    items = logs.json()["items"]
    assert [i["action"] for i in items] == [
        "member.update",
        "member.invite",
        "organization.update",
        "organization.create",
    ]
    for item in items:
        assert set(item) == {
            "id",
            "action",
            "userId",
            "userEmail",
            "organizationId",
            "organizationName",
            "resourceType",
            "resourceId",
            "metadata",
            "ipAddress",
            "userAgent",
            "createdAt",
        }
        assert item["ipAddress"] == "203.0.113.7" and item["userAgent"] == "mm-tests/1.0"
        assert item["userId"] == str(owner.id) and item["createdAt"].endswith("Z")
        assert item["organizationId"] == org and item["userEmail"] == owner.email
    invite_entry = items[1]
    assert invite_entry["resourceType"] == "invitation" and invite_entry["resourceId"] == invitation["id"]
    assert invite_entry["metadata"] == {
        "email": guest,
        "role": "member",
        "permissions": ["view"],
        "replacedInvitationIds": [],
    }

    def actions(**params: Any) -> list[str]:
        response = client.get(f"/api/organizations/{org}/audit-logs", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return [i["action"] for i in response.json()["items"]]

    assert actions(action="organization.update") == ["organization.update"]
    assert actions(action="organization") == []  # exact, not a prefix
    assert actions(userId=str(admin.id)) == []
    assert len(actions(userId=str(owner.id))) == 4
    created_at = items[-1]["createdAt"]
    assert actions(since=created_at)[-1] == "organization.create"
    assert actions(until=created_at) == []
    assert actions(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert len(actions(since="2000-01-01T00:00:00", until="2100-01-01T00:00:00Z")) == 4

    first = client.get(f"/api/organizations/{org}/audit-logs?limit=3", headers=owner.headers).json()
    rest = client.get(
        f"/api/organizations/{org}/audit-logs",
        params={"limit": 3, "cursor": first["nextCursor"]},
        headers=owner.headers,
    ).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == [i["id"] for i in items] and rest["nextCursor"] is None

    for params in ({"since": "yesterday"}, {"userId": "nobody"}, {"since": created_at, "until": created_at}):
        response = client.get(f"/api/organizations/{org}/audit-logs", params=params, headers=owner.headers)
        assert response.status_code == 422, params
    # Only owners read the audit log.
    assert client.get(f"/api/organizations/{org}/audit-logs", headers=admin.headers).status_code == 403
    assert (
        client.get(f"/api/organizations/{org}/audit-logs", headers=make_user(db, role="admin").headers).status_code
        == 200
    )
