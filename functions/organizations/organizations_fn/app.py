"""Organizations: create, list, rename, delete; members and their roles; invitations; audit log.

Every route declares its action (``mm_common.auth.require``); organization-scoped routes find the
organization from the ``{id}`` path parameter, so a caller outside it gets 404 before any handler
runs. Handlers look members and invitations up *within* that organization, so another tenant's
ids are just as absent.

Membership changes of one organization are serialized by a row lock on the organization
(``FOR NO KEY UPDATE``: it does not block inserts that merely reference the organization), which
keeps "at least one owner remains" and "one pending invitation per address" true under races.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import Path, Query, Response
from psycopg.types.json import Jsonb

from mm_common import audit, db, emails
from mm_common.api import create_app, lambda_handler
from mm_common.auth import NOT_FOUND_MESSAGE, Caller, organization_from_path, parse_uuid, require
from mm_common.db import Connection
from mm_common.errors import Conflict, Forbidden, Gone, NotFound
from mm_common.identity import normalize_email
from mm_common.organizations import create_organization
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_time_cursor, page, time_key
from mm_common.permissions import PERMISSIONS, Action, GlobalRole, MemberPermission, OrgRole
from mm_common.tokens import hash_secret, new_secret
from organizations_fn.schemas import (
    AcceptedInvitation,
    AcceptInvitationBody,
    CreateOrganizationBody,
    Invitation,
    InvitationEnvelope,
    InvitationPage,
    InviteMemberBody,
    Organization,
    OrganizationEnvelope,
    OrganizationMember,
    OrganizationMemberEnvelope,
    OrganizationMemberPage,
    OrganizationPage,
    UpdateMemberBody,
    UpdateOrganizationBody,
)

app = create_app("organizations")

INVITATION_TTL = timedelta(days=7)
# Canonical order of stored permission lists.
ALL_PERMISSIONS: list[str] = [p.value for p in MemberPermission]

ORGANIZATION = organization_from_path("id")
SignedIn = Annotated[Caller, require(Action.SELF)]
OrganizationId = Annotated[str, Path(description="The organization's id.")]
MemberId = Annotated[str, Path(alias="memberId", description="The membership's id (not the user's).")]
InvitationId = Annotated[str, Path(alias="invitationId", description="The invitation's id.")]

ORGANIZATION_COLUMNS = (
    "o.id, o.name, o.slug, o.owner_id, o.subscription_tier, o.subscription_status, o.created_at, o.updated_at"
)
MEMBER_SELECT = """
    SELECT m.id, m.user_id, u.email, u.full_name, m.role, m.permissions, m.joined_at
    FROM organization_members m JOIN users u ON u.id = m.user_id
"""
INVITATION_COLUMNS = "id, organization_id, email, role, permissions, invited_by, expires_at, created_at"


def check_member_limit(conn: Connection, organization_id: uuid.UUID) -> None:
    """The one place where a subscription tier limits how many members an organization may have.

    Called before an invitation is sent and again when one is accepted (the moment the member
    count grows), inside the transaction that holds the organization's row lock, so a limit
    enforced here cannot be overrun by concurrent requests. Billing plugs its per-tier limits in
    here by raising an ``ApiError`` (e.g. 402/403 with a ``member_limit_reached`` code); every
    tier is unlimited today, so this returns None and lets everything through.
    """
    return None


# ------------------------------------------------------------------------------------ helpers


def _is_platform_admin(caller: Caller) -> bool:
    return caller.role == GlobalRole.ADMIN


def _may_manage_owners(caller: Caller) -> bool:
    """Owners (and the platform admin) may grant, take away or touch the owner role."""
    assert caller.membership is not None
    return caller.membership.role == OrgRole.OWNER or _is_platform_admin(caller)


def _normalize_permissions(role: str, permissions: list[str]) -> list[str]:
    """Deduplicated, in canonical order; viewers are read-only, owners hold everything."""
    if role == OrgRole.VIEWER:
        return [MemberPermission.VIEW.value]
    if role == OrgRole.OWNER:
        return list(ALL_PERMISSIONS)
    wanted = set(permissions)
    return [p for p in ALL_PERMISSIONS if p in wanted]


def _organization(row: dict[str, Any], role: str | None) -> Organization:
    return Organization(
        id=row["id"],
        name=row["name"],
        slug=row["slug"],
        owner_id=row["owner_id"],
        subscription_tier=row["subscription_tier"],
        subscription_status=row["subscription_status"],
        role=role,  # type: ignore[arg-type]  # a role from the database, constrained by its CHECK
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _member(row: dict[str, Any]) -> OrganizationMember:
    return OrganizationMember(
        id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        full_name=row["full_name"],
        role=row["role"],
        permissions=_normalize_permissions(row["role"], row["permissions"] or []),  # type: ignore[arg-type]
        joined_at=row["joined_at"],
    )


def _invitation(row: dict[str, Any]) -> Invitation:
    return Invitation(
        id=row["id"],
        organization_id=row["organization_id"],
        email=row["email"],
        role=row["role"],
        permissions=row["permissions"] or [],
        invited_by=row["invited_by"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )


def _lock_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = %s FOR NO KEY UPDATE",
        (organization_id,),
    ).fetchone()
    if row is None:  # deleted since the permission check
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


def _load_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = %s", (organization_id,)
    ).fetchone()
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


def _member_or_404(conn: Connection, organization_id: uuid.UUID, member_id: str) -> dict[str, Any]:
    parsed = parse_uuid(member_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            MEMBER_SELECT + " WHERE m.organization_id = %s AND m.id = %s", (organization_id, parsed)
        ).fetchone()
    if row is None:
        raise NotFound("There is no such member in this organization.")
    return row


def _owner_count(conn: Connection, organization_id: uuid.UUID) -> int:
    row = conn.execute(
        "SELECT count(*) AS owners FROM organization_members WHERE organization_id = %s AND role = 'owner'",
        (organization_id,),
    ).fetchone()
    assert row is not None
    return int(row["owners"])


def _reassign_owner_id(conn: Connection, organization: dict[str, Any], leaving_user_id: uuid.UUID) -> None:
    """Keep organizations.owner_id on an owner when the one it names stops being one."""
    if organization["owner_id"] != leaving_user_id:
        return
    conn.execute(
        """
        UPDATE organizations SET owner_id = (
            SELECT user_id FROM organization_members
            WHERE organization_id = %s AND role = 'owner' AND user_id <> %s
            ORDER BY joined_at, id LIMIT 1
        )
        WHERE id = %s
        """,
        (organization["id"], leaving_user_id, organization["id"]),
    )


# ------------------------------------------------------------------------------ organizations


@app.post("/api/organizations", status_code=201, response_model=OrganizationEnvelope, summary="Create an organization")
def create_new_organization(
    body: CreateOrganizationBody, caller: Annotated[Caller, require(Action.ORGANIZATION_CREATE)]
) -> OrganizationEnvelope:
    assert caller.user_id is not None
    with db.transaction() as conn:
        row = create_organization(conn, name=body.name, owner_id=caller.user_id)
        audit.record(
            conn,
            "organization.create",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=row["id"],
            resource_type="organization",
            resource_id=row["id"],
            details={"name": row["name"], "slug": row["slug"]},
        )
    return OrganizationEnvelope(organization=_organization(row, OrgRole.OWNER.value))


@app.get(
    "/api/organizations",
    response_model=OrganizationPage,
    summary="The caller's organizations (platform admins: ?all=true for every organization)",
)
def list_organizations(
    caller: SignedIn,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    all_: Annotated[
        bool, Query(alias="all", description="Every organization, not only the caller's (platform admins).")
    ] = False,
) -> OrganizationPage:
    if all_ and caller.role not in PERMISSIONS[Action.ORGANIZATIONS_VIEW_ALL].global_roles:
        raise Forbidden("Only platform administrators may list every organization.")
    key = decode_time_cursor(cursor)
    if all_:
        source = "organizations o LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = %s"
    else:
        source = "organization_members m JOIN organizations o ON o.id = m.organization_id AND m.user_id = %s"
    conditions: list[str] = ["TRUE"]
    params: list[Any] = [caller.user_id]
    if key:
        conditions.append("(o.created_at, o.id) < (%s, %s)")
        params += key
    rows = db.fetch_all(
        f"SELECT {ORGANIZATION_COLUMNS}, m.role AS member_role FROM {source}"
        f" WHERE {' AND '.join(conditions)} ORDER BY o.created_at DESC, o.id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page(rows, limit, time_key("created_at"))
    return OrganizationPage(items=[_organization(r, r["member_role"]) for r in items], next_cursor=next_cursor)


@app.get("/api/organizations/{id}", response_model=OrganizationEnvelope, summary="One organization")
def get_organization(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_VIEW, organization=ORGANIZATION)],
) -> OrganizationEnvelope:
    assert caller.membership is not None
    with db.transaction() as conn:
        row = _load_organization(conn, caller.organization_id)
    return OrganizationEnvelope(organization=_organization(row, caller.membership.role))


@app.patch("/api/organizations/{id}", response_model=OrganizationEnvelope, summary="Rename or change the slug")
def update_organization(
    id: OrganizationId,
    body: UpdateOrganizationBody,
    caller: Annotated[Caller, require(Action.ORGANIZATION_UPDATE, organization=ORGANIZATION)],
) -> OrganizationEnvelope:
    assert caller.membership is not None
    organization_id = caller.organization_id
    with db.transaction() as conn:
        before = _lock_organization(conn, organization_id)
        changes = {
            field: value
            for field, value in (("name", body.name), ("slug", body.slug))
            if value is not None and value != before[field]
        }
        if not changes:
            return OrganizationEnvelope(organization=_organization(before, caller.membership.role))
        if (
            "slug" in changes
            and conn.execute(
                "SELECT 1 FROM organizations WHERE slug = %s AND id <> %s", (changes["slug"], organization_id)
            ).fetchone()
        ):
            raise Conflict("Another organization already uses this slug. Choose another one.", code="slug_taken")
        try:
            with conn.transaction():  # a savepoint: a lost race on the slug is a 409, not a 500
                after = conn.execute(
                    f"UPDATE organizations o SET name = %s, slug = %s WHERE o.id = %s RETURNING {ORGANIZATION_COLUMNS}",
                    (changes.get("name", before["name"]), changes.get("slug", before["slug"]), organization_id),
                ).fetchone()
        except psycopg.errors.UniqueViolation:
            raise Conflict(
                "Another organization already uses this slug. Choose another one.", code="slug_taken"
            ) from None
        assert after is not None
        audit.record(
            conn,
            "organization.update",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="organization",
            resource_id=organization_id,
            details={
                "before": {field: before[field] for field in changes},
                "after": changes,
            },
        )
    return OrganizationEnvelope(organization=_organization(after, caller.membership.role))


@app.delete(
    "/api/organizations/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete the organization and everything in it (owners)",
)
def delete_organization(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_DELETE, organization=ORGANIZATION)],
) -> Response:
    organization_id = caller.organization_id
    with db.transaction() as conn:
        organization = _lock_organization(conn, organization_id)
        # audit_logs.organization_id becomes NULL with the organization: the metadata keeps
        # which organization this was.
        audit.record(
            conn,
            "organization.delete",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="organization",
            resource_id=organization_id,
            details={
                "organizationId": str(organization_id),
                "name": organization["name"],
                "slug": organization["slug"],
            },
        )
        conn.execute("DELETE FROM organizations WHERE id = %s", (organization_id,))
    return Response(status_code=204)


# ------------------------------------------------------------------------------------ members


@app.post(
    "/api/organizations/{id}/members",
    status_code=201,
    response_model=InvitationEnvelope,
    summary="Invite someone by e-mail (the invitation link is e-mailed, valid 7 days)",
)
def invite_member(
    id: OrganizationId,
    body: InviteMemberBody,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
) -> InvitationEnvelope:
    membership = caller.membership
    assert membership is not None and caller.user_id is not None
    organization_id = caller.organization_id
    if body.role == OrgRole.ADMIN and not _may_manage_owners(caller):
        raise Forbidden("Only an owner may invite an administrator.", code="owner_required")
    permissions = _normalize_permissions(body.role, list(body.permissions))
    if membership.role not in (OrgRole.OWNER, OrgRole.ADMIN) and not _is_platform_admin(caller):
        # Invited through the 'invite' permission: grant no more than the inviter holds
        # (every member can view).
        missing = sorted(set(permissions) - membership.permissions - {MemberPermission.VIEW.value})
        if missing:
            raise Forbidden(
                "You cannot grant permissions you do not have yourself: " + ", ".join(missing) + ".",
                code="permission_not_held",
                details={"permissions": missing},
            )
    token = new_secret()
    with db.transaction() as conn:
        organization = _lock_organization(conn, organization_id)
        if conn.execute(
            "SELECT 1 FROM organization_members m JOIN users u ON u.id = m.user_id"
            " WHERE m.organization_id = %s AND lower(u.email) = %s",
            (organization_id, body.email),
        ).fetchone():
            raise Conflict("This person is already a member of the organization.", code="already_member")
        check_member_limit(conn, organization_id)
        # One pending invitation per address: a new one replaces (revokes) the previous one.
        replaced = conn.execute(
            "UPDATE invitations SET revoked_at = now()"
            " WHERE organization_id = %s AND lower(email) = %s AND accepted_at IS NULL AND revoked_at IS NULL"
            " RETURNING id",
            (organization_id, body.email),
        ).fetchall()
        row = conn.execute(
            f"""
            INSERT INTO invitations (organization_id, email, role, permissions, token_hash, invited_by, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, now() + %s)
            RETURNING {INVITATION_COLUMNS}
            """,
            (
                organization_id,
                body.email,
                body.role,
                Jsonb(permissions),
                hash_secret(token),
                caller.user_id,
                INVITATION_TTL,
            ),
        ).fetchone()
        assert row is not None
        audit.record(
            conn,
            "member.invite",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="invitation",
            resource_id=row["id"],
            details={
                "email": body.email,
                "role": body.role,
                "permissions": permissions,
                "replacedInvitationIds": [str(r["id"]) for r in replaced],
            },
        )
        # Last, inside the transaction: an invitation is never stored without its e-mail.
        inviter = caller.full_name or caller.email or "A MoreMinimore user"
        emails.send_invitation(body.email, token, organization["name"], inviter)
    return InvitationEnvelope(invitation=_invitation(row))


@app.get(
    "/api/organizations/{id}/members",
    response_model=OrganizationMemberPage,
    summary="Members, in the order they joined",
)
def list_members(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.MEMBERS_VIEW, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> OrganizationMemberPage:
    key = decode_time_cursor(cursor)
    conditions: list[str] = ["m.organization_id = %s"]
    params: list[Any] = [caller.organization_id]
    if key:
        conditions.append("(m.joined_at, m.id) > (%s, %s)")
        params += key
    rows = db.fetch_all(
        MEMBER_SELECT + f" WHERE {' AND '.join(conditions)} ORDER BY m.joined_at, m.id LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page(rows, limit, time_key("joined_at"))
    return OrganizationMemberPage(items=[_member(r) for r in items], next_cursor=next_cursor)


@app.patch(
    "/api/organizations/{id}/members/{memberId}",
    response_model=OrganizationMemberEnvelope,
    summary="Change a member's role or permissions",
)
def update_member(
    id: OrganizationId,
    member_id: MemberId,
    body: UpdateMemberBody,
    caller: Annotated[Caller, require(Action.MEMBERS_MANAGE, organization=ORGANIZATION)],
) -> OrganizationMemberEnvelope:
    organization_id = caller.organization_id
    with db.transaction() as conn:
        organization = _lock_organization(conn, organization_id)
        before = _member_or_404(conn, organization_id, member_id)
        role = body.role or before["role"]
        if OrgRole.OWNER in (before["role"], role) and not _may_manage_owners(caller):
            raise Forbidden("Only an owner may change an owner, or make someone an owner.", code="owner_required")
        if before["role"] == OrgRole.OWNER and role != OrgRole.OWNER and _owner_count(conn, organization_id) <= 1:
            raise Conflict(
                "The organization's last owner cannot be demoted: make someone else an owner first.",
                code="last_owner",
            )
        requested = list(body.permissions) if body.permissions is not None else before["permissions"] or []
        permissions = _normalize_permissions(role, requested)
        if role == before["role"] and permissions == before["permissions"]:
            return OrganizationMemberEnvelope(member=_member(before))
        conn.execute(
            "UPDATE organization_members SET role = %s, permissions = %s WHERE id = %s",
            (role, Jsonb(permissions), before["id"]),
        )
        if before["role"] == OrgRole.OWNER and role != OrgRole.OWNER:
            _reassign_owner_id(conn, organization, before["user_id"])
        audit.record(
            conn,
            "member.update",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="organization_member",
            resource_id=before["id"],
            details={
                "memberUserId": str(before["user_id"]),
                "email": before["email"],
                "before": {"role": before["role"], "permissions": before["permissions"]},
                "after": {"role": role, "permissions": permissions},
            },
        )
        after = _member_or_404(conn, organization_id, member_id)
    return OrganizationMemberEnvelope(member=_member(after))


@app.delete(
    "/api/organizations/{id}/members/{memberId}",
    status_code=204,
    response_class=Response,
    summary="Remove a member",
)
def remove_member(
    id: OrganizationId,
    member_id: MemberId,
    caller: Annotated[Caller, require(Action.MEMBERS_MANAGE, organization=ORGANIZATION)],
) -> Response:
    organization_id = caller.organization_id
    with db.transaction() as conn:
        organization = _lock_organization(conn, organization_id)
        target = _member_or_404(conn, organization_id, member_id)
        if target["role"] == OrgRole.OWNER:
            if not _may_manage_owners(caller):
                raise Forbidden("Only an owner may remove an owner.", code="owner_required")
            if _owner_count(conn, organization_id) <= 1:
                raise Conflict(
                    "The organization's last owner cannot be removed: make someone else an owner first,"
                    " or delete the organization.",
                    code="last_owner",
                )
        conn.execute("DELETE FROM organization_members WHERE id = %s", (target["id"],))
        _reassign_owner_id(conn, organization, target["user_id"])
        audit.record(
            conn,
            "member.remove",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="organization_member",
            resource_id=target["id"],
            details={
                "memberUserId": str(target["user_id"]),
                "email": target["email"],
                "role": target["role"],
                "permissions": _normalize_permissions(target["role"], target["permissions"] or []),
            },
        )
    return Response(status_code=204)


# -------------------------------------------------------------------------------- invitations

PENDING = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()"


@app.get(
    "/api/organizations/{id}/invitations",
    response_model=InvitationPage,
    summary="Pending invitations (not accepted, revoked or expired), newest first",
)
def list_invitations(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> InvitationPage:
    key = decode_time_cursor(cursor)
    conditions: list[str] = ["organization_id = %s", PENDING]
    params: list[Any] = [caller.organization_id]
    if key:
        conditions.append("(created_at, id) < (%s, %s)")
        params += key
    rows = db.fetch_all(
        f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE {' AND '.join(conditions)}"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page(rows, limit, time_key("created_at"))
    return InvitationPage(items=[_invitation(r) for r in items], next_cursor=next_cursor)


@app.delete(
    "/api/organizations/{id}/invitations/{invitationId}",
    status_code=204,
    response_class=Response,
    summary="Revoke a pending invitation",
)
def revoke_invitation(
    id: OrganizationId,
    invitation_id: InvitationId,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
) -> Response:
    organization_id = caller.organization_id
    parsed = parse_uuid(invitation_id)
    with db.transaction() as conn:
        _lock_organization(conn, organization_id)
        row = (
            conn.execute(
                f"UPDATE invitations SET revoked_at = now() WHERE id = %s AND organization_id = %s AND {PENDING}"
                " RETURNING id, email, role",
                (parsed, organization_id),
            ).fetchone()
            if parsed
            else None
        )
        if row is None:
            raise NotFound("There is no such pending invitation in this organization.")
        audit.record(
            conn,
            "invitation.revoke",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="invitation",
            resource_id=row["id"],
            details={"email": row["email"], "role": row["role"]},
        )
    return Response(status_code=204)


@app.post(
    "/api/invitations/accept",
    response_model=AcceptedInvitation,
    summary="Accept an invitation (signed in as the invited e-mail address)",
)
def accept_invitation(body: AcceptInvitationBody, caller: SignedIn) -> AcceptedInvitation:
    assert caller.user_id is not None
    token_hash = hash_secret(body.token)
    with db.transaction() as conn:
        found = conn.execute("SELECT organization_id FROM invitations WHERE token_hash = %s", (token_hash,)).fetchone()
        if found is None:
            raise NotFound("This invitation link is not valid.", code="invitation_not_found")
        # The organization's lock first (as every membership change takes it), then the invitation's.
        organization = _lock_organization(conn, found["organization_id"])
        invitation = conn.execute(
            "SELECT *, expires_at <= now() AS expired FROM invitations WHERE token_hash = %s FOR UPDATE",
            (token_hash,),
        ).fetchone()
        if invitation is None:
            raise NotFound("This invitation link is not valid.", code="invitation_not_found")
        if invitation["email"] != normalize_email(caller.email or ""):
            raise Forbidden(
                "This invitation was sent to another e-mail address. Sign in with that address to accept it.",
                code="invitation_email_mismatch",
            )
        if invitation["accepted_at"] is not None:
            raise Gone("This invitation has already been accepted.", code="invitation_used")
        if invitation["revoked_at"] is not None:
            raise Gone("This invitation has been withdrawn.", code="invitation_revoked")
        if invitation["expired"]:
            raise Gone("This invitation has expired. Ask for a new one.", code="invitation_expired")
        organization_id = organization["id"]
        check_member_limit(conn, organization_id)
        permissions = _normalize_permissions(invitation["role"], invitation["permissions"] or [])
        inserted = conn.execute(
            """
            INSERT INTO organization_members (organization_id, user_id, role, permissions, invited_by)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (organization_id, user_id) DO NOTHING
            RETURNING id
            """,
            (organization_id, caller.user_id, invitation["role"], Jsonb(permissions), invitation["invited_by"]),
        ).fetchone()
        if inserted is None:
            raise Conflict("You are already a member of this organization.", code="already_member")
        conn.execute(
            "UPDATE invitations SET accepted_at = now(), accepted_by = %s WHERE id = %s",
            (caller.user_id, invitation["id"]),
        )
        audit.record(
            conn,
            "member.add",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="organization_member",
            resource_id=inserted["id"],
            details={
                "invitationId": str(invitation["id"]),
                "role": invitation["role"],
                "permissions": permissions,
                "invitedBy": str(invitation["invited_by"]) if invitation["invited_by"] else None,
            },
        )
        member = _member_or_404(conn, organization_id, str(inserted["id"]))
    return AcceptedInvitation(organization=_organization(organization, member["role"]), member=_member(member))


# ---------------------------------------------------------------------------------- audit log


@app.get(
    "/api/organizations/{id}/audit-logs",
    response_model=audit.AuditPage,
    summary="The organization's audit log, newest first",
)
def list_audit_logs(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_AUDIT_VIEW, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=255, description="Only this action (exact).")] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId", description="Only what this user did.")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive, ISO 8601).")] = None,
) -> audit.AuditPage:
    rows, next_cursor = audit.list_entries(
        audit.AuditFilter(
            organization_id=caller.organization_id, user_id=user_id, action=action, since=since, until=until
        ),
        limit=limit,
        cursor=cursor,
    )
    return audit.AuditPage(items=[audit.AuditEntry.model_validate(r) for r in rows], next_cursor=next_cursor)


handler = lambda_handler(app)
