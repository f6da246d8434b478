"""Platform administration of organizations through /api/admin/organizations: find them with their counts, set
the tier or a trial by hand, suspend (members read but change nothing) and unsuspend (admins only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from starlette.testclient import TestClient

from mm_common.plans import month_start
from tests.support.identity import Account, add_member, make_organization, make_user


def _project(
    db: psycopg.Connection[Any], org: uuid.UUID, *, deployed: bool = False, deleted: bool = False
) -> uuid.UUID:
    slug = f"p-{uuid.uuid4().hex[:10]}"
    row = db.execute(
        "INSERT INTO projects (organization_id, name, slug, deployment_url, deleted_at) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id",
        (org, slug, slug, f"https://{slug}.example.com" if deployed else None, datetime.now(UTC) if deleted else None),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _organization(db: psycopg.Connection[Any], name: str, tier: str = "free") -> tuple[Account, uuid.UUID]:
    owner = make_user(db, f"{name.lower()}-owner@example.com")
    return owner, make_organization(db, owner, name, tier=tier)


def test_the_list_searches_filters_pages_and_counts(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    _, alpha = _organization(db, "Alpha", tier="pro")
    _, beta = _organization(db, "Beta_Co")
    _, gamma = _organization(db, "Gamma", tier="enterprise")
    add_member(db, alpha, make_user(db), "member", ["edit"])
    for deployed, deleted in ((True, False), (False, False), (True, True)):
        _project(db, alpha, deployed=deployed, deleted=deleted)
    _project(db, beta)
    this_month, last_month = month_start().date(), (month_start() - timedelta(days=1)).replace(day=1).date()
    db.execute(
        "INSERT INTO token_usage (organization_id, period_month, prompt_tokens, completion_tokens) VALUES"
        " (%s, %s, 100, 23), (%s, %s, 5000, 5000)",
        (alpha, this_month, alpha, last_month),
    )
    db.execute(
        "UPDATE organizations SET subscription_status = 'past_due' WHERE id = %s; ",
        (beta,),
    )

    items = client.get("/api/admin/organizations", headers=admin.headers).json()["items"]
    by_id = {item["id"]: item for item in items}
    assert set(by_id) == {str(alpha), str(beta), str(gamma)}
    # The counts equal what the tables hold, counted here independently.
    for org in (alpha, beta, gamma):
        expected = db.execute(
            """
            SELECT (SELECT count(*) FROM organization_members WHERE organization_id = %(o)s),
                   (SELECT count(*) FROM projects WHERE organization_id = %(o)s AND deleted_at IS NULL),
                   (SELECT count(*) FROM projects
                    WHERE organization_id = %(o)s AND deleted_at IS NULL AND deployment_url IS NOT NULL),
                   (SELECT COALESCE(sum(prompt_tokens + completion_tokens), 0) FROM token_usage
                    WHERE organization_id = %(o)s AND period_month = %(m)s)
            """,
            {"o": org, "m": this_month},
        ).fetchone()
        item = by_id[str(org)]
        got = (item["membersCount"], item["projectsCount"], item["deployedProjectsCount"], item["aiTokensThisMonth"])
        assert got == expected
    assert (by_id[str(alpha)]["membersCount"], by_id[str(alpha)]["aiTokensThisMonth"]) == (2, 123)

    def names(**params: str) -> list[str]:
        response = client.get("/api/admin/organizations", params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert names(q="ALPH") == ["Alpha"]
    assert names(q="_") == ["Beta_Co"]  # literal, not a wildcard
    assert names(tier="enterprise") == ["Gamma"]
    assert names(status="past_due") == ["Beta_Co"]
    assert client.get("/api/admin/organizations", params={"tier": "gold"}, headers=admin.headers).status_code == 422

    first = client.get("/api/admin/organizations", params={"limit": 2}, headers=admin.headers).json()
    rest = client.get(
        "/api/admin/organizations", params={"limit": 2, "cursor": first["nextCursor"]}, headers=admin.headers
    ).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["nextCursor"] is None
    assert {i["id"] for i in first["items"] + rest["items"]} == set(by_id)


def test_the_detail_shows_owner_subscription_limits_and_usage(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    owner, org = _organization(db, "Delta", tier="pro")
    _project(db, org)
    response = client.get(f"/api/admin/organizations/{org}", headers=admin.headers)
    assert response.status_code == 200, response.text
    detail = response.json()["organization"]
    assert detail["owner"] == {"id": str(owner.id), "email": owner.email, "fullName": "Test User"}
    assert (detail["tier"], detail["subscriptionStatus"], detail["suspended"]) == ("pro", "active", False)
    assert detail["plan"]["tier"] == "pro" and detail["plan"]["limits"]["projects"] == 10
    assert detail["plan"]["usage"]["projects"] == 1
    assert client.get(f"/api/admin/organizations/{uuid.uuid4()}", headers=admin.headers).status_code == 404
    assert client.get("/api/admin/organizations/nope", headers=admin.headers).status_code == 404


def test_enterprise_by_hand_lifts_the_limits(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    owner, org = _organization(db, "Epsilon", tier="pro")
    for _ in range(10):
        _project(db, org)
    body = {"organizationId": str(org), "name": "Eleventh"}
    refused = client.post("/api/projects", json=body, headers=owner.headers)
    assert refused.status_code == 402
    response = client.patch(f"/api/admin/organizations/{org}", json={"tier": "enterprise"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["organization"]["plan"]["limits"]["projects"] is None
    assert client.post("/api/projects", json=body, headers=owner.headers).status_code == 201
    audit = db.execute(
        "SELECT user_id, organization_id, metadata FROM audit_logs WHERE action = 'organization.admin_update'"
    ).fetchone()
    assert audit == (
        admin.id,
        org,
        {"before": {"subscription_tier": "pro"}, "after": {"subscription_tier": "enterprise"}},
    )


def test_a_trial_is_extended_to_a_future_time_only(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    _, org = _organization(db, "Zeta", tier="pro")
    db.execute(
        "UPDATE organizations SET subscription_status = 'trialing', trial_ends_at = now() + interval '1 day'"
        " WHERE id = %s",
        (org,),
    )
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    response = client.patch(
        f"/api/admin/organizations/{org}", json={"trialEndsAt": later.isoformat()}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert db.execute("SELECT trial_ends_at FROM organizations WHERE id = %s", (org,)).fetchone() == (later,)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused = client.patch(f"/api/admin/organizations/{org}", json={"trialEndsAt": past}, headers=admin.headers)
    assert refused.status_code == 422
    assert db.execute("SELECT trial_ends_at FROM organizations WHERE id = %s", (org,)).fetchone() == (later,)


def test_a_suspended_organizations_members_read_but_change_nothing(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    owner, org = _organization(db, "Eta")
    project = _project(db, org, deployed=True)
    response = client.patch(
        f"/api/admin/organizations/{org}",
        json={"suspended": True, "suspensionReason": "chargeback"},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    detail = response.json()["organization"]
    assert (detail["suspended"], detail["suspensionReason"]) == (True, "chargeback")
    suspended_list = client.get("/api/admin/organizations", params={"status": "suspended"}, headers=admin.headers)
    assert [item["id"] for item in suspended_list.json()["items"]] == [str(org)]

    change = client.patch(f"/api/projects/{project}", json={"name": "Renamed"}, headers=owner.headers)
    assert change.status_code == 403 and change.json()["error"]["code"] == "organization_suspended"
    assert "support" in change.json()["error"]["message"]
    create = client.post("/api/projects", json={"organizationId": str(org), "name": "New"}, headers=owner.headers)
    assert create.status_code == 403 and create.json()["error"]["code"] == "organization_suspended"
    assert client.get(f"/api/projects/{project}", headers=owner.headers).status_code == 200
    assert client.get(f"/api/organizations/{org}", headers=owner.headers).status_code == 200
    # Nothing is stopped: the deployed app stays where it was.
    assert db.execute("SELECT deployment_url IS NOT NULL FROM projects WHERE id = %s", (project,)).fetchone() == (True,)
    # A platform admin still acts.
    by_admin = client.patch(f"/api/projects/{project}", json={"name": "Fixed by support"}, headers=admin.headers)
    assert by_admin.status_code == 200, by_admin.text

    lifted = client.patch(f"/api/admin/organizations/{org}", json={"suspended": False}, headers=admin.headers)
    assert lifted.status_code == 200 and lifted.json()["organization"]["suspensionReason"] is None
    assert client.patch(f"/api/projects/{project}", json={"name": "Mine"}, headers=owner.headers).status_code == 200
    actions = db.execute(
        "SELECT metadata FROM audit_logs WHERE action = 'organization.admin_update' ORDER BY created_at"
    ).fetchall()
    assert [row[0]["after"].get("suspension_reason", "-") for row in actions] == ["chargeback", None]


def test_co_admins_and_users_are_refused(client: TestClient, db: psycopg.Connection[Any]) -> None:
    _, org = _organization(db, "Theta")
    for persona in (make_user(db, "co@example.com", role="co_admin"), make_user(db, "plain@example.com")):
        for method, path, body in (
            ("GET", "/api/admin/organizations", None),
            ("GET", f"/api/admin/organizations/{org}", None),
            ("PATCH", f"/api/admin/organizations/{org}", {"suspended": True}),
            ("PATCH", f"/api/admin/organizations/{org}", {"tier": "enterprise"}),
        ):
            response = client.request(method, path, json=body, headers=persona.headers)
            assert response.status_code == 403, (persona.role, method, path)
    assert db.execute("SELECT subscription_tier, suspended_at FROM organizations WHERE id = %s", (org,)).fetchone() == (
        "free",
        None,
    )
