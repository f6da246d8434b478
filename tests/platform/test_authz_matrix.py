"""The authorization matrix, generated from the one permission table.

Every route of every function declares an action. For each non-public route and each persona
(anonymous, outsider, viewer, a member with each single permission, an organization admin, the
owner, a co-admin, an admin) the expected status follows from ``PERMISSIONS`` alone: 401 without
a token, 404 when the organization does not exist for the caller, 403 when their role does not
allow the action, and success otherwise. A fresh world is built for every case, so destructive
routes (delete, remove member) are checked as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from devstack.openapi import http_apps
from devstack.stack import LocalStack
from mm_common.api import api_routes
from mm_common.auth import declared_action
from mm_common.permissions import (
    PERMISSIONS,
    Action,
    Scope,
    allowed_in_organization,
    sees_organization,
)
from mm_common.tokens import hash_secret
from tests.support.identity import PASSWORD, Account, add_member, make_organization, make_user

MEMBER_PERMISSIONS = ["view", "edit", "deploy", "manage", "invite"]


@dataclass(frozen=True)
class Persona:
    name: str
    global_role: str | None  # None: anonymous
    org_role: str | None = None  # role in the organization under test
    permissions: tuple[str, ...] = ()


PERSONAS = [
    Persona("anonymous", None),
    Persona("outsider", "user"),
    Persona("viewer", "user", "viewer", ("view",)),
    *[Persona(f"member:{p}", "user", "member", (p,)) for p in MEMBER_PERMISSIONS],
    Persona("org_admin", "user", "admin", tuple(MEMBER_PERMISSIONS)),
    Persona("owner", "user", "owner", tuple(MEMBER_PERMISSIONS)),
    Persona("co_admin", "co_admin"),
    Persona("admin", "admin"),
]


@dataclass
class World:
    client: TestClient
    db: psycopg.Connection[Any]
    organization: uuid.UUID
    owner: Account
    caller: Account | None
    target_member: uuid.UUID
    target_user: Account
    invitation: uuid.UUID
    extras: dict[str, Any] = field(default_factory=dict)

    def project(self) -> dict[str, Any]:
        """A project of the organization with one file and one version (made by the owner)."""
        if "project" not in self.extras:
            response = self.client.post(
                "/api/projects",
                json={"organizationId": str(self.organization), "name": "Matrix", "template": "blank"},
                headers=self.owner.headers,
            )
            assert response.status_code == 201, response.text
            project = response.json()["project"]
            self.extras["project"] = project
            self.extras["version"] = project["currentVersionId"]
        return self.extras["project"]  # type: ignore[no-any-return]

    def an_import(self, status: str) -> dict[str, Any]:
        """An import of the organization: "uploading" with its database uploaded (ready to analyze), or "analyzed"
        with one app (ready to start)."""
        from psycopg.types.json import Jsonb

        from mm_common.aws import client as aws
        from mm_common.config import get_settings

        import_id = uuid.uuid4()
        key = f"uploads/{import_id}/database.sqlite"
        uploads = [{"name": "sqlite.db", "kind": "database", "key": key, "maxBytes": 1000}]
        app = {
            "appId": 1, "name": "App", "path": "app", "chats": 0, "messages": 0, "archive": None, "commits": None,
            "files": None, "skippedFiles": None, "envFiles": None, "archiveError": None,
        }  # fmt: skip
        analysis = {
            "apps": [app],
            "prompts": 0,
            "themes": [],
            "customModels": [],
            "unmatchedArchives": [],
            "warnings": [],
        }
        self.db.execute(
            "INSERT INTO imports (id, organization_id, created_by, status, uploads, analysis)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (
                import_id,
                self.organization,
                self.owner.id,
                status,
                Jsonb(uploads),
                Jsonb(analysis) if status == "analyzed" else None,
            ),
        )
        if status == "uploading":
            aws("s3").put_object(Bucket=get_settings().imports_bucket, Key=key, Body=b"SQLite format 3\x00")
        return {"id": str(import_id)}

    def in_project(self, *, version: bool = False, **extra: Any) -> dict[str, Any]:
        params = {"id": self.project()["id"], **extra}
        if version:
            params["versionId"] = self.extras["version"]
        return params


def build_world(client: TestClient, db: psycopg.Connection[Any], persona: Persona) -> World:
    owner = make_user(db)
    organization = make_organization(db, owner)
    target_user = make_user(db)
    target_member = add_member(db, organization, target_user, "member", ["view"])
    invitation = _invitation(db, organization, f"invitee-{uuid.uuid4().hex[:8]}@example.com", owner)
    caller: Account | None
    if persona.global_role is None:
        caller = None
    elif persona.org_role == "owner":
        caller = owner
    else:
        caller = make_user(db, role=persona.global_role)
        if persona.org_role is not None:
            add_member(db, organization, caller, persona.org_role, list(persona.permissions))
        elif persona.name == "outsider":
            make_organization(db, caller, name="Elsewhere")  # a member of another organization
    return World(client, db, organization, owner, caller, target_member, target_user, invitation)


def _invitation(
    db: psycopg.Connection[Any], organization: uuid.UUID, email: str, by: Account, token: str = ""
) -> uuid.UUID:
    row = db.execute(
        """
        INSERT INTO invitations (organization_id, email, role, permissions, token_hash, invited_by, expires_at)
        VALUES (%s, %s, 'member', %s, %s, %s, %s) RETURNING id
        """,
        (
            organization,
            email,
            Jsonb(["view"]),
            hash_secret(token or uuid.uuid4().hex),
            by.id,
            datetime.now(UTC) + timedelta(days=7),
        ),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _accept_sample(world: World) -> dict[str, Any]:
    # An invitation to another organization, addressed to the caller.
    other_owner = make_user(world.db)
    other = make_organization(world.db, other_owner, name="Inviting")
    token = uuid.uuid4().hex
    email = world.caller.email if world.caller else "nobody@example.com"
    _invitation(world.db, other, email, other_owner, token)
    return {"json": {"token": token}}


def _own_session(world: World) -> uuid.UUID:
    """The caller's sign-in (the one their access token was issued with)."""
    if world.caller is None:
        return uuid.uuid4()
    row = world.db.execute("SELECT id FROM sessions WHERE user_id = %s LIMIT 1", (world.caller.id,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _leave_sample(world: World) -> dict[str, Any]:
    # A second owner, so that the owner is not the last one and may leave too.
    add_member(world.db, world.organization, make_user(world.db), "owner", MEMBER_PERMISSIONS)
    return {"path": {"id": world.organization}}


# How to call each route successfully, in a world, when the caller is allowed to.
Sample = Callable[[World], dict[str, Any]]


def _with_variable(world: World) -> dict[str, Any]:
    project = world.project()
    response = world.client.patch(
        f"/api/projects/{project['id']}",
        json={"environmentVariables": {"API_TOKEN": "matrix-secret"}},
        headers=world.owner.headers,
    )
    assert response.status_code == 200, response.text
    return {"path": world.in_project(name="API_TOKEN")}


SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/api/users/me"): lambda w: {},
    ("PATCH", "/api/users/me"): lambda w: {"json": {"fullName": "Renamed"}},
    ("POST", "/api/users/me/password"): lambda w: {
        "json": {"currentPassword": PASSWORD, "newPassword": "another-long-passphrase"}
    },
    ("GET", "/api/users/me/sessions"): lambda w: {},
    ("DELETE", "/api/users/me/sessions/{id}"): lambda w: {"path": {"id": _own_session(w)}},
    ("POST", "/api/auth/logout-all"): lambda w: {},
    ("GET", "/api/users"): lambda w: {},
    ("GET", "/api/users/{id}"): lambda w: {"path": {"id": w.target_user.id}},
    ("PATCH", "/api/users/{id}"): lambda w: {"path": {"id": w.target_user.id}, "json": {"role": "user"}},
    ("GET", "/api/admin/audit-logs"): lambda w: {},
    ("POST", "/api/organizations"): lambda w: {"json": {"name": "New Org"}},
    ("GET", "/api/organizations"): lambda w: {},
    ("GET", "/api/organizations/{id}"): lambda w: {"path": {"id": w.organization}},
    ("PATCH", "/api/organizations/{id}"): lambda w: {"path": {"id": w.organization}, "json": {"name": "Renamed"}},
    ("DELETE", "/api/organizations/{id}"): lambda w: {"path": {"id": w.organization}},
    ("GET", "/api/organizations/{id}/audit-logs"): lambda w: {"path": {"id": w.organization}},
    ("POST", "/api/organizations/{id}/members"): lambda w: {
        "path": {"id": w.organization},
        "json": {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "role": "member", "permissions": []},
    },
    ("GET", "/api/organizations/{id}/members"): lambda w: {"path": {"id": w.organization}},
    ("PATCH", "/api/organizations/{id}/members/{memberId}"): lambda w: {
        "path": {"id": w.organization, "memberId": w.target_member},
        "json": {"permissions": ["view", "edit"]},
    },
    ("DELETE", "/api/organizations/{id}/members/{memberId}"): lambda w: {
        "path": {"id": w.organization, "memberId": w.target_member}
    },
    ("POST", "/api/organizations/{id}/leave"): lambda w: _leave_sample(w),
    ("GET", "/api/organizations/{id}/invitations"): lambda w: {"path": {"id": w.organization}},
    ("DELETE", "/api/organizations/{id}/invitations/{invitationId}"): lambda w: {
        "path": {"id": w.organization, "invitationId": w.invitation}
    },
    ("POST", "/api/invitations/accept"): _accept_sample,
    # Projects, files and versions.
    ("GET", "/api/project-templates"): lambda w: {},
    ("POST", "/api/projects"): lambda w: {
        "json": {"organizationId": str(w.organization), "name": "New", "template": "blank"}
    },
    ("GET", "/api/projects"): lambda w: {},
    ("GET", "/api/projects/{id}"): lambda w: {"path": w.in_project()},
    ("PATCH", "/api/projects/{id}"): lambda w: {"path": w.in_project(), "json": {"description": "changed"}},
    ("DELETE", "/api/projects/{id}"): lambda w: {"path": w.in_project()},
    ("GET", "/api/projects/{id}/files"): lambda w: {"path": w.in_project()},
    ("GET", "/api/projects/{id}/environment-variables/{name}"): lambda w: _with_variable(w),
    ("GET", "/api/projects/{id}/files/{path}"): lambda w: {"path": w.in_project(path="index.html")},
    ("PUT", "/api/projects/{id}/files/{path}"): lambda w: {
        "path": w.in_project(path="src/new.txt"),
        "json": {"content": "hello"},
    },
    ("DELETE", "/api/projects/{id}/files/{path}"): lambda w: {"path": w.in_project(path="index.html")},
    ("POST", "/api/projects/{id}/rename-file"): lambda w: {
        "path": w.in_project(),
        "json": {"from": "index.html", "to": "home.html"},
    },
    ("POST", "/api/projects/{id}/versions"): lambda w: {"path": w.in_project(), "json": {"message": "m"}},
    ("GET", "/api/projects/{id}/versions"): lambda w: {"path": w.in_project()},
    ("GET", "/api/projects/{id}/versions/{versionId}"): lambda w: {"path": w.in_project(version=True)},
    ("GET", "/api/projects/{id}/versions/{versionId}/files/{path}"): lambda w: {
        "path": w.in_project(version=True, path="index.html")
    },
    ("GET", "/api/projects/{id}/versions/{versionId}/diff"): lambda w: {"path": w.in_project(version=True)},
    ("POST", "/api/projects/{id}/versions/{versionId}/restore"): lambda w: {"path": w.in_project(version=True)},
    ("POST", "/api/projects/{id}/versions/{versionId}/tags"): lambda w: {
        "path": w.in_project(version=True),
        "json": {"name": "release"},
    },
    ("DELETE", "/api/projects/{id}/versions/{versionId}/tags/{name}"): lambda w: _tagged(w),
    ("GET", "/api/projects/{id}/versions/{versionId}/archive"): lambda w: {"path": w.in_project(version=True)},
    # Imports from the desktop app.
    ("POST", "/api/imports"): lambda w: {
        "json": {"organizationId": str(w.organization), "databaseSize": 100, "archives": [{"name": "a.zip", "size": 9}]}
    },
    ("GET", "/api/imports"): lambda w: {"query": {"organizationId": str(w.organization)}},
    ("GET", "/api/imports/{id}"): lambda w: {"path": w.an_import("uploading")},
    ("POST", "/api/imports/{id}/analyze"): lambda w: {"path": w.an_import("uploading")},
    ("POST", "/api/imports/{id}/start"): lambda w: {
        "path": w.an_import("analyzed"),
        "json": {"apps": [{"appId": 1}], "options": {"files": False}},
    },
    # Live previews.
    ("GET", "/api/projects/{id}/versions/{versionId}/preview"): lambda w: {"path": w.in_project(version=True)},
    ("POST", "/api/projects/{id}/versions/{versionId}/preview"): lambda w: {"path": w.in_project(version=True)},
    ("GET", "/api/projects/{id}/previews"): lambda w: {"path": w.in_project()},
    # Design systems.
    ("POST", "/api/projects/{id}/design-system"): lambda w: {
        "path": w.in_project(),
        "json": {"description": "a fintech landing page"},
    },
    ("GET", "/api/projects/{id}/design-system"): lambda w: _designed(w),
    ("PATCH", "/api/projects/{id}/design-system"): lambda w: {**_designed(w), "json": {"antiPatterns": ["Carousels"]}},
    ("GET", "/api/projects/{id}/design-system/revisions"): lambda w: _designed(w),
    ("POST", "/api/projects/{id}/design-system/revisions/{revisionId}/restore"): lambda w: _designed(w),
    # Deploys.
    ("POST", "/api/projects/{id}/deploy"): lambda w: {"path": w.in_project(), "json": {"database": "none"}},
    ("POST", "/api/projects/{id}/deploy/update"): lambda w: _deployed(w),
    ("POST", "/api/projects/{id}/deploy/rollback"): lambda w: {
        "path": w.in_project(),
        "json": {"deploymentId": str(_deployment(w))},
    },
    ("GET", "/api/projects/{id}/deployments"): lambda w: {"path": w.in_project()},
    ("GET", "/api/deployments/{id}"): lambda w: {"path": {"id": _deployment(w)}},
    ("GET", "/api/deployments/{id}/logs"): lambda w: {"path": {"id": _deployment(w)}, "query": {"since": 0}},
    # Platform administration.
    ("GET", "/api/admin/users"): lambda w: {},
    ("GET", "/api/admin/users/{id}"): lambda w: {"path": {"id": w.target_user.id}},
    ("PATCH", "/api/admin/users/{id}"): lambda w: {"path": {"id": w.target_user.id}, "json": {"role": "co_admin"}},
    ("POST", "/api/admin/users/{id}/logout"): lambda w: {"path": {"id": w.target_user.id}},
    ("POST", "/api/admin/users/{id}/resend-verification"): lambda w: {"path": {"id": _unverified_user(w)}},
    ("GET", "/api/admin/users/{id}/activity"): lambda w: {"path": {"id": w.target_user.id}},
    ("GET", "/api/admin/organizations"): lambda w: {},
    ("GET", "/api/admin/organizations/{id}"): lambda w: {"path": {"id": w.organization}},
    ("PATCH", "/api/admin/organizations/{id}"): lambda w: {
        "path": {"id": w.organization},
        "json": {"tier": "enterprise"},
    },
    ("GET", "/api/admin/analytics"): lambda w: {},
    ("GET", "/api/admin/failed-jobs"): lambda w: {},
    ("GET", "/api/admin/failed-deployments"): lambda w: {},
    ("GET", "/api/admin/settings"): lambda w: {},
    ("PATCH", "/api/admin/settings"): lambda w: {"json": {"announcement": "Hello"}},
    # Billing.
    ("PATCH", "/api/admin/plans/{tier}"): lambda w: {"path": {"tier": "pro"}, "json": {"description": "Changed."}},
    ("POST", "/api/billing/checkout"): lambda w: _on_free_plan(
        w, {"organizationId": str(w.organization), "tier": "pro"}
    ),
    ("POST", "/api/billing/portal"): lambda w: _with_customer(w),
    ("GET", "/api/billing/subscription"): lambda w: {"query": {"organizationId": str(w.organization)}},
    ("GET", "/api/billing/invoices"): lambda w: {"query": {"organizationId": str(w.organization)}},
    ("GET", "/api/projects/{id}/deploy"): lambda w: {"path": w.in_project()},
    ("POST", "/api/projects/{id}/deploy/stop"): lambda w: _live_app(w),
    ("POST", "/api/projects/{id}/deploy/start"): lambda w: _live_app(w),
    ("DELETE", "/api/projects/{id}/deploy"): lambda w: _live_app(w),
    ("PUT", "/api/projects/{id}/deploy/domain"): lambda w: {
        **_live_app(w, tier="pro"),
        "json": {"host": f"m{uuid.uuid4().hex[:10]}.example.com"},
    },
    ("DELETE", "/api/projects/{id}/deploy/domain"): lambda w: _live_app(w, domain=True),
    # Chats, messages, prompts.
    ("POST", "/api/projects/{id}/chats"): lambda w: {"path": w.in_project(), "json": {"title": "New"}},
    ("GET", "/api/projects/{id}/chats"): lambda w: {"path": w.in_project()},
    ("GET", "/api/chats/{id}"): lambda w: {"path": {"id": _chat(w)}},
    ("PATCH", "/api/chats/{id}"): lambda w: {"path": {"id": _chat(w)}, "json": {"title": "Renamed"}},
    ("DELETE", "/api/chats/{id}"): lambda w: {"path": {"id": _chat(w)}},
    ("GET", "/api/chats/{id}/messages"): lambda w: {"path": {"id": _chat(w)}},
    ("POST", "/api/chats/{id}/messages"): lambda w: {
        "path": {"id": _chat(w)},
        "json": {"content": "Hello", "modelId": str(_model(w))},
    },
    ("POST", "/api/prompts"): lambda w: {"json": {"title": "Prompt", "content": "Do it."}},
    ("GET", "/api/prompts"): lambda w: {},
    ("GET", "/api/prompts/{id}"): lambda w: {"path": {"id": _own_prompt(w)}},
    ("PATCH", "/api/prompts/{id}"): lambda w: {"path": {"id": _own_prompt(w)}, "json": {"title": "Renamed"}},
    ("DELETE", "/api/prompts/{id}"): lambda w: {"path": {"id": _own_prompt(w)}},
    # Generation jobs and proposals.
    ("GET", "/api/jobs/{id}"): lambda w: {"path": {"id": _job(w)}},
    ("POST", "/api/jobs/{id}/cancel"): lambda w: {"path": {"id": _job(w)}},
    ("POST", "/api/messages/{id}/approve"): lambda w: {"path": {"id": _proposal(w)}},
    ("GET", "/api/chats/{id}/context-preview"): lambda w: {
        "path": {"id": _chat(w)},
        "query": {"prompt": "hi", "modelId": str(_model(w))},
    },
    ("POST", "/api/chats/{id}/undo"): lambda w: {"path": {"id": _applied_chat(w)}},
    ("POST", "/api/chats/{id}/retry"): lambda w: {"path": {"id": _asked_chat(w)}},
    ("POST", "/api/messages/{id}/reject"): lambda w: {"path": {"id": _proposal(w)}},
    # The AI catalog and users' own keys.
    ("GET", "/api/admin/ai-providers"): lambda w: {},
    ("POST", "/api/admin/ai-providers"): lambda w: {
        "json": {"slug": "extra", "name": "Extra", "kind": "openai_compatible", "apiBaseUrl": "http://127.0.0.1:9/v1"}
    },
    ("GET", "/api/admin/ai-providers/{id}"): lambda w: {"path": {"id": _provider(w)}},
    ("PATCH", "/api/admin/ai-providers/{id}"): lambda w: {"path": {"id": _provider(w)}, "json": {"name": "Renamed"}},
    ("DELETE", "/api/admin/ai-providers/{id}"): lambda w: {"path": {"id": _provider(w)}},
    ("GET", "/api/admin/ai-models"): lambda w: {},
    ("POST", "/api/admin/ai-models"): lambda w: {
        "json": {"providerId": str(_provider(w)), "displayName": "New", "apiName": "new-model"}
    },
    ("GET", "/api/admin/ai-models/{id}"): lambda w: {"path": {"id": _model(w)}},
    ("PATCH", "/api/admin/ai-models/{id}"): lambda w: {"path": {"id": _model(w)}, "json": {"displayName": "Renamed"}},
    ("DELETE", "/api/admin/ai-models/{id}"): lambda w: {"path": {"id": _model(w)}},
    ("GET", "/api/ai/models"): lambda w: {},
    ("GET", "/api/users/me/api-keys"): lambda w: {},
    ("PUT", "/api/users/me/api-keys/{providerId}"): lambda w: {
        "path": {"providerId": _provider(w)},
        "json": {"apiKey": "sk-matrix-0123456789"},
    },
    ("GET", "/api/users/me/api-keys/{providerId}"): lambda w: {"path": {"providerId": _own_key(w)}},
    ("DELETE", "/api/users/me/api-keys/{providerId}"): lambda w: {"path": {"providerId": _own_key(w)}},
}


def _deployment(world: World) -> uuid.UUID:
    """A successful deployment of the project (as the state machine leaves one)."""
    if "deployment" not in world.extras:
        row = world.db.execute(
            "INSERT INTO deployment_logs (project_id, version_id, status, completed_at)"
            " VALUES (%s, %s, 'success', now()) RETURNING id",
            (world.project()["id"], world.extras["version"]),
        ).fetchone()
        assert row is not None
        world.extras["deployment"] = row[0]
    return world.extras["deployment"]  # type: ignore[no-any-return]


def _deployed(world: World) -> dict[str, Any]:
    _deployment(world)
    return {"path": world.in_project()}


def _live_app(world: World, *, tier: str = "free", domain: bool = False) -> dict[str, Any]:
    """The project deployed (as the state machine leaves it): an app service on the Easypanel emulator with its
    default domain, the names and the URL recorded on the project; with ``domain`` a custom domain too."""
    from mm_common.deploy.easypanel import EasypanelClient

    stack: LocalStack = world.extras["stack"]
    assert stack.easypanel is not None
    project = world.project()
    names = ("matrix", f"m-{uuid.uuid4().hex[:12]}")
    custom = f"c{uuid.uuid4().hex[:10]}.example.com" if domain else None
    with EasypanelClient(stack.easypanel.url, token=stack.easypanel.emulator.api_token) as panel:
        panel.ensure_project(names[0])
        panel.ensure_app(*names)
        for host in (f"{names[1]}.localhost", custom):
            if host:
                panel.ensure_domain(*names, host=host, port=80)
    world.db.execute(
        """
        UPDATE projects SET easypanel_project_id = %s, easypanel_app_id = %s, deployment_url = %s,
                            status = 'deployed', custom_domain = %s
        WHERE id = %s
        """,
        (*names, f"https://{names[1]}.localhost", custom, project["id"]),
    )
    world.db.execute("UPDATE organizations SET subscription_tier = %s WHERE id = %s", (tier, world.organization))
    return {"path": world.in_project()}


def _unverified_user(world: World) -> uuid.UUID:
    return make_user(world.db, verified=False).id


def _on_free_plan(world: World, body: dict[str, Any]) -> dict[str, Any]:
    world.db.execute("UPDATE organizations SET subscription_tier = 'free' WHERE id = %s", (world.organization,))
    return {"json": body}


def _with_customer(world: World) -> dict[str, Any]:
    """The organization has a Stripe customer (on the stack's Stripe emulator), as its first Checkout leaves it."""
    import stripe

    stack: LocalStack = world.extras["stack"]
    assert stack.stripe is not None
    sdk = stripe.StripeClient(stack.stripe.emulator.secret_key, base_addresses={"api": stack.stripe.url})
    customer = sdk.v1.customers.create({"name": "Matrix", "metadata": {"organizationId": str(world.organization)}})
    world.db.execute(
        "UPDATE organizations SET stripe_customer_id = %s WHERE id = %s", (customer.id, world.organization)
    )
    return {"json": {"organizationId": str(world.organization)}}


def _provider(world: World) -> uuid.UUID:
    if "provider" not in world.extras:
        row = world.db.execute(
            "INSERT INTO ai_providers (slug, name, kind, api_base_url)"
            " VALUES (%s, 'Matrix', 'openai', %s) RETURNING id",
            (f"matrix-{uuid.uuid4().hex[:8]}", "https://api.example.com/v1"),
        ).fetchone()
        assert row is not None
        world.extras["provider"] = row[0]
    return world.extras["provider"]  # type: ignore[no-any-return]


def _model(world: World) -> uuid.UUID:
    row = world.db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name) VALUES (%s, 'M', 'm') RETURNING id",
        (_provider(world),),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _own_key(world: World) -> uuid.UUID:
    from mm_common.ai.keys import seal_key

    provider = _provider(world)
    if world.caller is not None:
        encrypted_key, data_key = seal_key(world.caller.id, provider, "sk-matrix-0123456789")
        world.db.execute(
            "INSERT INTO user_api_keys (user_id, provider_id, encrypted_key, encrypted_data_key, key_last4)"
            " VALUES (%s, %s, %s, %s, '6789')",
            (world.caller.id, provider, encrypted_key, data_key),
        )
    return provider


def _job(world: World) -> uuid.UUID:
    row = world.db.execute(
        "INSERT INTO generation_jobs (chat_id, project_id, organization_id, created_by)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (_chat(world), world.project()["id"], world.organization, world.owner.id),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _proposal(world: World) -> uuid.UUID:
    """An assistant answer proposing a new file (applies cleanly to the blank template)."""
    answer = '<mm-write path="notes.txt">hello</mm-write><mm-chat-summary>Notes</mm-chat-summary>'
    row = world.db.execute(
        "INSERT INTO messages (chat_id, role, content, approval_state, proposal)"
        " VALUES (%s, 'assistant', %s, 'pending', %s) RETURNING id",
        (_chat(world), answer, Jsonb({"title": "Notes", "files": [], "baseline": {"notes.txt": None}})),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _applied_chat(world: World) -> uuid.UUID:
    """A chat whose last AI turn was applied on top of the project's first version."""
    chat = _chat(world)
    world.db.execute(
        "INSERT INTO messages (chat_id, role, content, approval_state, source_version_id)"
        " VALUES (%s, 'assistant', 'done', 'approved', %s)",
        (chat, world.extras["version"]),
    )
    return chat


def _asked_chat(world: World) -> uuid.UUID:
    chat = _chat(world)
    world.db.execute("INSERT INTO messages (chat_id, role, content) VALUES (%s, 'user', 'make it blue')", (chat,))
    _model(world)  # a model to answer with
    return chat


def _chat(world: World) -> uuid.UUID:
    row = world.db.execute(
        "INSERT INTO chats (project_id, title, created_by) VALUES (%s, 'Chat', %s) RETURNING id",
        (world.project()["id"], world.owner.id),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _own_prompt(world: World) -> uuid.UUID:
    author = world.caller or world.owner
    row = world.db.execute(
        "INSERT INTO prompts (title, content, created_by) VALUES ('Mine', 'Do it.', %s) RETURNING id", (author.id,)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _tagged(world: World) -> dict[str, Any]:
    path = world.in_project(version=True, name="release")
    world.db.execute(
        "INSERT INTO version_tags (project_id, version_id, name) VALUES (%s, %s, 'release')",
        (path["id"], path["versionId"]),
    )
    return {"path": path}


def _designed(world: World) -> dict[str, Any]:
    """The project's design system, generated by the owner; the path names its first revision."""
    path = world.in_project()
    response = world.client.post(
        f"/api/projects/{path['id']}/design-system",
        json={"description": "a vet clinic dashboard"},
        headers=world.owner.headers,
    )
    assert response.status_code == 201, response.text
    return {"path": {**path, "revisionId": response.json()["revisionId"]}}


def _routes() -> list[tuple[str, str, Action]]:
    routes = []
    for app in http_apps().values():
        for route in api_routes(app.routes):  # included routers' routes too
            action = declared_action(route.original_route)
            for method in sorted(route.methods - {"HEAD"}):
                routes.append((method, route.path_format, action))
    assert routes, "no routes found: the walk over the apps is broken"
    return routes


ROUTES = _routes()
PROTECTED = [(m, p, a) for m, p, a in ROUTES if a is not None and PERMISSIONS[a].scope is not Scope.PUBLIC]


def test_every_route_declares_exactly_one_action() -> None:
    undeclared = [(m, p) for m, p, a in ROUTES if a is None]
    assert undeclared == [], "declare an Action with mm_common.auth.require on these routes"


def test_every_protected_route_has_a_sample_request() -> None:
    missing = [(m, p) for m, p, _ in PROTECTED if (m, p) not in SAMPLES]
    assert missing == [], "add these routes to SAMPLES so the matrix covers them"
    stale = set(SAMPLES) - {(m, p) for m, p, _ in PROTECTED}
    assert stale == set()


def expected_outcome(action: Action, persona: Persona) -> int | str:
    """401 / 403 / 404, or "ok" when the permission table lets the persona through."""
    rule = PERMISSIONS[action]
    if persona.global_role is None:
        return 401
    if rule.scope is Scope.AUTHENTICATED:
        return "ok"
    if rule.scope is Scope.GLOBAL:
        return "ok" if persona.global_role in rule.global_roles else 403
    if not sees_organization(rule, persona.global_role, persona.org_role):
        return 404
    permissions = frozenset(persona.permissions)
    return "ok" if allowed_in_organization(rule, persona.global_role, persona.org_role, permissions) else 403


CASES = [
    pytest.param(method, path, action, persona, id=f"{method} {path} as {persona.name}")
    for method, path, action in PROTECTED
    for persona in PERSONAS
]


@pytest.mark.parametrize(("method", "path", "action", "persona"), CASES)
def test_authorization_matrix(
    client: TestClient,
    stack: LocalStack,
    db: psycopg.Connection[Any],
    method: str,
    path: str,
    action: Action,
    persona: Persona,
) -> None:
    world = build_world(client, db, persona)
    world.extras["stack"] = stack
    sample = SAMPLES[(method, path)](world)
    url = path.replace(":path}", "}").format(**{k: str(v) for k, v in sample.get("path", {}).items()})
    headers = world.caller.headers if world.caller else {}
    response = client.request(method, url, json=sample.get("json"), params=sample.get("query"), headers=headers)
    expected = expected_outcome(action, persona)
    if expected == "ok":
        assert 200 <= response.status_code < 300, f"{persona.name} should pass: {response.status_code} {response.text}"
    else:
        assert response.status_code == expected, f"{persona.name}: {response.status_code} {response.text}"
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}[expected]
        assert response.json()["error"]["code"] == code


def test_matrix_matches_the_spec_for_key_rows() -> None:
    """The spec's matrix, row by row, read off the table (guards the table itself)."""
    owner = Persona("owner", "user", "owner", tuple(MEMBER_PERMISSIONS))
    view = Persona("view", "user", "member", ("view",))
    edit = Persona("edit", "user", "member", ("edit",))
    deploy = Persona("deploy", "user", "member", ("deploy",))
    co_admin = Persona("co_admin", "co_admin")
    admin = Persona("admin", "admin")
    table = {
        Action.ORGANIZATIONS_VIEW_ALL: [admin],
        Action.USERS_MANAGE: [admin],
        Action.AI_MODELS_MANAGE: [admin, co_admin],
        Action.SYSTEM_LOGS_VIEW: [admin, co_admin],
        Action.PROJECT_CREATE: [admin, owner],
        Action.PROJECT_EDIT: [admin, owner, edit, deploy],
        Action.PROJECT_DEPLOY: [admin, owner, deploy],
        Action.MEMBERS_INVITE: [admin, owner],
        Action.BILLING_MANAGE: [admin, owner],
        Action.ANALYTICS_VIEW: [admin, co_admin, owner, edit, deploy],
    }
    for action, allowed in table.items():
        for persona in (owner, view, edit, deploy, co_admin, admin):
            outcome = expected_outcome(action, persona)
            assert (outcome == "ok") == (persona in allowed), f"{action} for {persona.name}"
