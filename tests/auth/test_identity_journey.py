"""The identity capability end to end, as a client sees it: HTTP and the dev mailbox (and one arrangement in
SQL: the team's plan)."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.auth.helpers import APP_ORIGIN, STRONG, login, mail_token, refresh_cookie, register


def bearer(session: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.json()['accessToken']}"}


def test_two_people_build_a_team(client: TestClient, db: psycopg.Connection[Any]) -> None:
    # Olivia signs up, confirms her address and signs in.
    assert register(client, "olivia@example.com", name="Olivia").status_code == 201
    token = mail_token(client, "olivia@example.com", "/verify-email")
    assert client.post("/api/auth/verify-email", json={"token": token}).status_code == 200
    olivia = login(client, "olivia@example.com", rememberMe=True)
    assert olivia.status_code == 200

    # Her session refreshes (rotating), and the old refresh token is dead afterwards.
    cookie = refresh_cookie(olivia)["mm_refresh"].value
    rotated = client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={cookie}", "Origin": APP_ORIGIN})
    assert rotated.status_code == 200
    olivia_auth = bearer(rotated)

    # She founds a team and invites Pat with view-only rights.
    team = client.post("/api/organizations", json={"name": "Rocket Team"}, headers=olivia_auth)
    assert team.status_code == 201
    team_id = team.json()["organization"]["id"]
    assert team.json()["organization"]["slug"] == "rocket-team"
    # The Free plan has room for her alone: inviting asks her to upgrade. (She upgrades; paying is the billing
    # tests' journey.)
    invite = {"email": "pat@example.com", "role": "member", "permissions": ["view"]}
    refused = client.post(f"/api/organizations/{team_id}/members", json=invite, headers=olivia_auth)
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "plan_limit_reached"
    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (team_id,))
    invited = client.post(
        f"/api/organizations/{team_id}/members",
        json={"email": "pat@example.com", "role": "member", "permissions": ["view"]},
        headers=olivia_auth,
    )
    assert invited.status_code == 201

    # Pat is new: registers first, then follows the invitation link.
    assert register(client, "pat@example.com", name="Pat").status_code == 201
    verify = mail_token(client, "pat@example.com", "/verify-email")
    assert client.post("/api/auth/verify-email", json={"token": verify}).status_code == 200
    pat_auth = bearer(login(client, "pat@example.com"))
    invitation = mail_token(client, "pat@example.com", "/invitations/accept")
    accepted = client.post("/api/invitations/accept", json={"token": invitation}, headers=pat_auth)
    assert accepted.status_code == 200
    pat_member = accepted.json()["member"]["id"]

    # As a view-only member Pat sees the team but may not invite or manage.
    assert client.get(f"/api/organizations/{team_id}", headers=pat_auth).status_code == 200
    denied = client.post(
        f"/api/organizations/{team_id}/members", json={"email": "x@example.com", "permissions": []}, headers=pat_auth
    )
    assert denied.status_code == 403
    assert client.get(f"/api/organizations/{team_id}/audit-logs", headers=pat_auth).status_code == 403

    # Olivia grants Pat the invite permission; now Pat may invite (but not grant more than Pat holds).
    granted = client.patch(
        f"/api/organizations/{team_id}/members/{pat_member}",
        json={"permissions": ["view", "invite"]},
        headers=olivia_auth,
    )
    assert granted.status_code == 200 and granted.json()["member"]["permissions"] == ["view", "invite"]
    assert (
        client.post(
            f"/api/organizations/{team_id}/members",
            json={"email": "quinn@example.com", "permissions": ["view"]},
            headers=pat_auth,
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/organizations/{team_id}/members",
            json={"email": "rae@example.com", "permissions": ["deploy"]},
            headers=pat_auth,
        ).status_code
        == 403
    )

    # Someone outside the team cannot tell it exists.
    assert register(client, "sam@example.com", name="Sam").status_code == 201
    client.post("/api/auth/verify-email", json={"token": mail_token(client, "sam@example.com", "/verify-email")})
    sam_auth = bearer(login(client, "sam@example.com"))
    assert client.get(f"/api/organizations/{team_id}", headers=sam_auth).status_code == 404
    assert client.get(f"/api/organizations/{team_id}/members", headers=sam_auth).status_code == 404

    # Pat forgets the password and resets it; the old password stops working.
    assert client.post("/api/auth/forgot-password", json={"email": "pat@example.com"}).status_code == 202
    reset = mail_token(client, "pat@example.com", "/reset-password")
    assert (
        client.post("/api/auth/reset-password", json={"token": reset, "password": "pats-new-passphrase"}).status_code
        == 200
    )
    assert login(client, "pat@example.com", STRONG).status_code == 401
    pat = login(client, "pat@example.com", "pats-new-passphrase")
    assert pat.status_code == 200

    # Pat logs out: the refresh token no longer works.
    pat_cookie = refresh_cookie(pat)["mm_refresh"].value
    headers = {"Cookie": f"mm_refresh={pat_cookie}", "Origin": APP_ORIGIN}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.post("/api/auth/refresh", headers=headers).status_code == 401

    # The owner reads the team's audit trail.
    log = client.get(f"/api/organizations/{team_id}/audit-logs", headers=olivia_auth).json()["items"]
    actions = [entry["action"] for entry in log]
    for expected in ("organization.create", "member.invite", "member.add", "member.update"):
        assert expected in actions
