"""Who may grant which role (invite, change, remove, accept), and input the database cannot take."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from mm_common.slugs import slug_problem
from tests.organizations.helpers import (
    ALL,
    DB,
    User,
    accept,
    audit_rows,
    count,
    error_code,
    invitation_token,
    invite,
    membership,
    send,
)
from tests.support.identity import add_member, make_organization, make_user


def new_email() -> str:
    return f"guest-{uuid.uuid4().hex[:8]}@example.com"


def organization_row(db: DB, org: uuid.UUID) -> Any:
    return db.execute("SELECT name, slug, updated_at FROM organizations WHERE id = %s", (org,)).fetchone()


# ------------------------------------------------------------------------ granting elevated roles


def test_an_admin_cannot_make_another_member_an_admin(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    admin, bob = make_user(db), make_user(db)
    add_member(db, org, admin, "admin", ["view"])
    bob_id = add_member(db, org, bob, "member", ["view"])
    path = f"/api/organizations/{org}/members/{bob_id}"

    # Inviting someone as admin is owner-only; so is promoting a member to admin.
    refused = client.patch(path, json={"role": "admin"}, headers=admin.headers)
    assert refused.status_code == 403 and error_code(refused) == "owner_required"
    assert membership(db, org, bob) == ("member", ["view"])
    assert audit_rows(db, "member.update") == []
    # Everything below admin stays the admin's to manage.
    assert client.patch(path, json={"role": "viewer"}, headers=admin.headers).status_code == 200
    assert client.patch(path, json={"role": "member", "permissions": ALL}, headers=admin.headers).status_code == 200
    assert membership(db, org, bob) == ("member", ALL)

    promoted = client.patch(path, json={"role": "admin"}, headers=owner.headers)
    assert promoted.status_code == 200 and promoted.json()["member"]["role"] == "admin"


def test_an_admin_cannot_demote_or_remove_another_admin_an_owner_can(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    first, second = make_user(db), make_user(db)
    add_member(db, org, first, "admin", ["view"])
    second_id = add_member(db, org, second, "admin", ["view", "edit"])
    path = f"/api/organizations/{org}/members/{second_id}"

    for response in (
        client.patch(path, json={"role": "member"}, headers=first.headers),
        client.patch(path, json={"role": "viewer"}, headers=first.headers),
        client.patch(path, json={"permissions": ["view"]}, headers=first.headers),
        client.delete(path, headers=first.headers),
    ):
        assert response.status_code == 403 and error_code(response) == "owner_required", response.text
    assert membership(db, org, second) == ("admin", ["view", "edit"])
    assert audit_rows(db, "member.update") == [] and audit_rows(db, "member.remove") == []

    demoted = client.patch(path, json={"role": "member"}, headers=owner.headers)
    assert demoted.status_code == 200 and demoted.json()["member"]["role"] == "member"
    assert client.patch(path, json={"role": "admin"}, headers=owner.headers).status_code == 200
    assert client.delete(path, headers=owner.headers).status_code == 204
    assert membership(db, org, second) is None
    (removed,) = audit_rows(db, "member.remove")
    assert removed["metadata"]["role"] == "admin" and removed["user_id"] == owner.id


def test_a_demoted_inviters_invitation_can_no_longer_make_an_admin(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    co_owner = make_user(db)
    co_owner_id = add_member(db, org, co_owner, "owner", ALL)
    guest = make_user(db)
    invited = client.post(
        f"/api/organizations/{org}/members", json={"email": guest.email, "role": "admin"}, headers=co_owner.headers
    )
    assert invited.status_code == 201, invited.text
    token = invitation_token(client, guest.email)

    # The co-owner is made a plain member: what they could grant then, they cannot grant now.
    demoted = client.patch(
        f"/api/organizations/{org}/members/{co_owner_id}", json={"role": "member"}, headers=owner.headers
    )
    assert demoted.status_code == 200
    refused = accept(client, guest, token)
    assert refused.status_code == 403 and error_code(refused) == "invitation_no_longer_valid", refused.text
    assert membership(db, org, guest) is None
    assert audit_rows(db, "member.add") == []
    pending = client.get(f"/api/organizations/{org}/invitations", headers=owner.headers).json()["items"]
    assert [i["id"] for i in pending] == [invited.json()["invitation"]["id"]]  # refused, not consumed

    # Made an owner again, the same link works.
    assert (
        client.patch(
            f"/api/organizations/{org}/members/{co_owner_id}", json={"role": "owner"}, headers=owner.headers
        ).status_code
        == 200
    )
    accepted = accept(client, guest, token)
    assert accepted.status_code == 200, accepted.text
    assert membership(db, org, guest) == ("admin", ["view"])


def test_an_invitation_needs_an_inviter_who_may_still_invite(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    inviter = make_user(db)
    inviter_id = add_member(db, org, inviter, "member", ["view", "edit", "invite"])
    kept, dropped, removed = make_user(db), make_user(db), make_user(db)
    for guest in (kept, dropped, removed):
        response = invite(client, inviter, org, guest.email, permissions=["view", "edit"])
        assert response.status_code == 201, response.text

    assert accept(client, kept, invitation_token(client, kept.email)).status_code == 200

    # The inviter loses the edit permission: an invitation granting edit no longer stands.
    path = f"/api/organizations/{org}/members/{inviter_id}"
    assert client.patch(path, json={"permissions": ["view", "invite"]}, headers=owner.headers).status_code == 200
    refused = accept(client, dropped, invitation_token(client, dropped.email))
    assert refused.status_code == 403 and error_code(refused) == "invitation_no_longer_valid"
    assert membership(db, org, dropped) is None

    # Removed from the organization, the inviter's invitations end with them.
    assert client.delete(path, headers=owner.headers).status_code == 204
    gone = accept(client, removed, invitation_token(client, removed.email))
    assert gone.status_code == 403 and error_code(gone) == "invitation_no_longer_valid"
    assert membership(db, org, removed) is None
    assert membership(db, org, kept) == ("member", ["view", "edit"])


def test_a_platform_admins_invitation_as_admin_is_accepted(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    platform_admin = make_user(db, role="admin")  # reaches the organization without being a member
    guest = make_user(db)
    assert invite(client, platform_admin, org, guest.email, role="admin").status_code == 201
    accepted = accept(client, guest, invitation_token(client, guest.email))
    assert accepted.status_code == 200, accepted.text
    assert membership(db, org, guest) == ("admin", ["view"])


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("slug", ["acme\n", "acme\r\n", "\nacme", "ac\nme"])
def test_a_slug_with_a_line_break_is_refused(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, slug: str
) -> None:
    assert slug_problem(slug) is not None
    before = organization_row(db, org)
    response = client.patch(f"/api/organizations/{org}", json={"slug": slug}, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "slug"
    assert organization_row(db, org) == before


@pytest.mark.parametrize("name", ["nul \x00 byte", "lone \ud800 surrogate", "\udfff"])
def test_unstorable_text_in_an_organization_name_is_refused(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, name: str
) -> None:
    created = send(client, "POST", "/api/organizations", {"name": name}, owner)
    assert created.status_code == 422, created.text
    assert created.json()["error"]["code"] == "validation_failed"
    assert count(db, "SELECT count(*) FROM organizations") == 1

    before = organization_row(db, org)
    renamed = send(client, "PATCH", f"/api/organizations/{org}", {"name": name}, owner)
    assert renamed.status_code == 422, renamed.text
    assert organization_row(db, org) == before
    assert audit_rows(db, "organization.create") == [] and audit_rows(db, "organization.update") == []


@pytest.mark.parametrize("email", ["nul\x00@example.com", "lone\ud800@example.com"])
def test_unstorable_text_in_an_invitation_is_refused(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, email: str
) -> None:
    mail_before = len(client.get("/dev/mail.json").json())
    response = send(client, "POST", f"/api/organizations/{org}/members", {"email": email}, owner)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert count(db, "SELECT count(*) FROM invitations") == 0
    assert len(client.get("/dev/mail.json").json()) == mail_before


@pytest.mark.parametrize("token", ["\ud800", "token-\x00"])
def test_unstorable_text_in_an_invitation_token_is_refused(client: TestClient, db: DB, token: str) -> None:
    someone = make_user(db)
    response = send(client, "POST", "/api/invitations/accept", {"token": token}, someone)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"


def test_unstorable_text_in_a_member_change_is_refused(client: TestClient, db: DB, owner: User, org: uuid.UUID) -> None:
    bob = make_user(db)
    bob_id = add_member(db, org, bob, "member", ["view"])
    for body in ({"role": "member\x00"}, {"permissions": ["view\ud800"]}, {"\ud800": 1}):
        response = send(client, "PATCH", f"/api/organizations/{org}/members/{bob_id}", body, owner)
        assert response.status_code == 422, (body, response.text)
    assert membership(db, org, bob) == ("member", ["view"])


def test_another_organizations_slug_is_a_conflict_even_when_the_check_is_raced(
    client: TestClient, db: DB, owner: User, org: uuid.UUID
) -> None:
    """The unique index, not only the look-up before it, answers for a taken slug: an index
    violation becomes 409 slug_taken in the error shape, and nothing changes."""
    other = make_organization(db, owner, name="Other")
    db.execute("UPDATE organizations SET slug = 'taken' WHERE id = %s", (other,))
    # A trigger hides the other row from the look-up's snapshot the way a concurrent insert
    # would: it renames the other organization to the wanted slug just before our UPDATE runs.
    db.execute(
        """
        CREATE OR REPLACE FUNCTION test_race_slug() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE organizations SET slug = 'raced' WHERE id <> NEW.id AND name = 'Other';
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_race_slug BEFORE UPDATE OF slug ON organizations
            FOR EACH ROW WHEN (NEW.slug = 'raced' AND pg_trigger_depth() = 0) EXECUTE FUNCTION test_race_slug();
        """
    )
    try:
        before = organization_row(db, org)
        response = client.patch(f"/api/organizations/{org}", json={"slug": "raced"}, headers=owner.headers)
        assert response.status_code == 409, response.text
        assert error_code(response) == "slug_taken"
        assert organization_row(db, org) == before
        assert audit_rows(db, "organization.update") == []
    finally:
        db.execute("DROP TRIGGER test_race_slug ON organizations; DROP FUNCTION test_race_slug()")
