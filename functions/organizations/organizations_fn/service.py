"""The rules of organizations, members and invitations.

Plain functions on the caller's connection (the route owns the transaction: nothing here
commits) and the :class:`~mm_common.auth.Caller`; refusals are ``ApiError``s. Permission
decisions ask the permission table, through ``Caller.may``/``Caller.ensure`` and
``permissions.grant_action``, never by comparing role names.

Who may grant which role is one rule (:func:`grant_refusal`), read by invite, role change,
removal and acceptance alike: giving someone a role, or changing or removing someone who has
it, needs ``grant_action(role)``; a grantor who does not manage members grants no permission
they do not hold. An invitation is the inviter's grant, deferred: on acceptance the inviter
must still be allowed to make it.

Membership changes of one organization are serialized by a row lock on the organization
(``queries.lock_organization``), which keeps "at least one owner remains" and "one pending
invitation per address" true under races.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from mm_common import audit, emails, plans
from mm_common.auth import NOT_FOUND_MESSAGE, Caller, Membership, parse_uuid
from mm_common.db import Connection
from mm_common.errors import Conflict, Forbidden, Gone, NotFound, Unprocessable
from mm_common.identity import normalize_email
from mm_common.observability import count, traced
from mm_common.organizations import OWNER_ROLE, ends_ownership, member_permissions
from mm_common.organizations import create_organization as insert_organization
from mm_common.permissions import Action, MemberPermission, grant_action
from mm_common.tokens import hash_secret, new_secret
from organizations_fn import queries

SERVICE = "organizations"
INVITATION_TTL = timedelta(days=7)
SLUG_TAKEN = "Another organization already uses this slug. Choose another one."
NO_SUCH_MEMBER = "There is no such member in this organization."
INVITATION_NOT_FOUND = "This invitation link is not valid."


def check_member_limit(conn: Connection, organization_id: uuid.UUID, *, adding: int = 1) -> None:
    """The tier's member limit (pending invitations count as members): 402 ``plan_limit_reached`` when
    ``adding`` more would pass it. Called with the organization's row locked, when an invitation is sent
    (``adding=1``) and when one is accepted (``adding=0``: the invitation already counts; refused only while
    the organization is over its limit, after a downgrade)."""
    plans.check(conn, organization_id, "members", adding=adding)


# ------------------------------------------------------------------------------------ helpers


@contextmanager
def refusing_what_the_schema_refuses(conflict: Conflict) -> Iterator[None]:
    """Turn a constraint the database enforced into the client's error instead of a 500: a
    unique violation is ``conflict``, another (a check, a missing reference, a value that does not
    fit) a 409 or 422. The route's transaction rolls back as the error leaves it."""
    import psycopg  # the driver's error classes; imported when first used (cold start)

    try:
        yield
    except (psycopg.errors.UniqueViolation, psycopg.errors.ExclusionViolation):
        raise conflict from None
    except psycopg.errors.ForeignKeyViolation:
        raise Conflict("Something this change refers to changed meanwhile. Try again.") from None
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError):
        raise Unprocessable("The request is not valid: a value cannot be stored as given.") from None


def _locked_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any]:
    row: dict[str, Any] | None = queries.lock_organization(conn, organization_id)
    if row is None:  # deleted since the permission check
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


def _member_or_404(conn: Connection, organization_id: uuid.UUID, member_id: str | uuid.UUID) -> dict[str, Any]:
    parsed = parse_uuid(str(member_id))
    row: dict[str, Any] | None = queries.load_member(conn, organization_id, parsed) if parsed is not None else None
    if row is None:
        raise NotFound(NO_SUCH_MEMBER)
    return row


def _with_article(role: str) -> str:
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def grant_refusal(grantor: Caller, role: str, permissions: Iterable[str]) -> Forbidden | None:
    """Why ``grantor`` may not make someone ``role`` with ``permissions`` (None: they may).

    The role needs ``grant_action(role)``. Permissions: a grantor who manages members may grant
    any; others (inviting through the 'invite' permission) only those they hold, and view, which
    every member has."""
    needed = grant_action(role)
    if needed is not None and not grantor.may(needed):
        return Forbidden(
            f"Only an owner may make someone {_with_article(role)}.",
            code="owner_required",
            details={"action": needed.value},
        )
    if not grantor.may(Action.MEMBERS_MANAGE):
        membership = grantor.membership
        held = set(member_permissions(membership.role, membership.permissions)) if membership else set()
        missing = sorted(set(permissions) - held - {MemberPermission.VIEW.value})
        if missing:
            return Forbidden(
                "You cannot grant permissions you do not have yourself: " + ", ".join(missing) + ".",
                code="permission_not_held",
                details={"permissions": missing},
            )
    return None


def _ensure_may_change_holder_of(caller: Caller, role: str, doing: str) -> None:
    """Changing or removing someone who has ``role`` needs what granting it needs."""
    needed = grant_action(role)
    if needed is not None:
        caller.ensure(needed, f"Only an owner may {doing} {_with_article(role)}.", code="owner_required")


def _inviter(conn: Connection, invitation: dict[str, Any]) -> Caller | None:
    """The inviter as they stand in the organization now (None: their account is gone or disabled)."""
    if invitation["invited_by"] is None:
        return None
    row = queries.standing_of(conn, invitation["organization_id"], invitation["invited_by"])
    if row is None or not row["is_active"]:
        return None
    return Caller(
        user_id=row["user_id"],
        role=row["global_role"],
        membership=Membership(
            organization_id=invitation["organization_id"],
            member_id=row["member_id"],
            role=row["role"],
            permissions=frozenset(row["permissions"] or []),
        ),
    )


# ------------------------------------------------------------------------------ organizations


@traced(SERVICE)
def create_organization(conn: Connection, caller: Caller, *, name: str) -> dict[str, Any]:
    """A new organization with the caller as its owner; the row, and the caller's role as ``member_role``."""
    assert caller.user_id is not None
    with refusing_what_the_schema_refuses(Conflict(SLUG_TAKEN, code="slug_taken")):
        row = insert_organization(conn, name=name, owner_id=caller.user_id)
    audit.log(
        conn,
        caller,
        "organization.create",
        organization_id=row["id"],
        resource_type="organization",
        resource_id=row["id"],
        details={"name": row["name"], "slug": row["slug"]},
    )
    count(SERVICE, "OrganizationCreated")
    return {**row, "member_role": OWNER_ROLE}


@traced(SERVICE)
def list_organizations(
    conn: Connection, caller: Caller, *, every: bool, limit: int, cursor: str | None
) -> queries.Page:
    """The caller's organizations, newest first; ``every``: all of them (platform administrators)."""
    assert caller.user_id is not None
    if every and not caller.may(Action.ORGANIZATIONS_VIEW_ALL):
        raise Forbidden("Only platform administrators may list every organization.")
    return queries.organizations_page(conn, caller.user_id, every=every, limit=limit, cursor=cursor)


@traced(SERVICE)
def get_organization(conn: Connection, caller: Caller) -> dict[str, Any]:
    row: dict[str, Any] | None = queries.load_organization(conn, caller.organization_id)
    if row is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    return row


@traced(SERVICE)
def update_organization(conn: Connection, caller: Caller, *, name: str | None, slug: str | None) -> dict[str, Any]:
    """Rename or change the slug; fields left out (None) or unchanged are not touched."""
    organization_id = caller.organization_id
    before = _locked_organization(conn, organization_id)
    changes = {
        field: value
        for field, value in (("name", name), ("slug", slug))
        if value is not None and value != before[field]
    }
    if not changes:
        return before
    if "slug" in changes and queries.slug_taken(conn, changes["slug"], by_other_than=organization_id):
        raise Conflict(SLUG_TAKEN, code="slug_taken")
    # The look-up above answers the common case kindly; the unique index settles a race.
    with refusing_what_the_schema_refuses(Conflict(SLUG_TAKEN, code="slug_taken")):
        after: dict[str, Any] = queries.update_organization(conn, organization_id, changes)
    audit.log(
        conn,
        caller,
        "organization.update",
        resource_type="organization",
        resource_id=organization_id,
        details={"before": {field: before[field] for field in changes}, "after": changes},
    )
    return after


@traced(SERVICE)
def delete_organization(conn: Connection, caller: Caller) -> None:
    """Delete the organization and everything in it."""
    organization_id = caller.organization_id
    organization = _locked_organization(conn, organization_id)
    # audit_logs.organization_id becomes NULL with the organization: the metadata keeps
    # which organization this was.
    audit.log(
        conn,
        caller,
        "organization.delete",
        resource_type="organization",
        resource_id=organization_id,
        details={"organizationId": str(organization_id), "name": organization["name"], "slug": organization["slug"]},
    )
    queries.delete_organization(conn, organization_id)


# ------------------------------------------------------------------------------------ members


@traced(SERVICE)
def invite_member(
    conn: Connection, caller: Caller, *, email: str, role: str, permissions: Sequence[str]
) -> dict[str, Any]:
    """Invite ``email`` (normalized) as ``role``: store the invitation (replacing a pending one to
    the same address) and e-mail its link. The invitation row."""
    assert caller.user_id is not None
    organization_id = caller.organization_id
    granted = member_permissions(role, permissions)
    refusal = grant_refusal(caller, role, granted)
    if refusal is not None:
        raise refusal
    token = new_secret()
    organization = _locked_organization(conn, organization_id)
    if queries.has_member_with_email(conn, organization_id, email):
        raise Conflict("This person is already a member of the organization.", code="already_member")
    # One pending invitation per address: a new one replaces (revokes) the previous one, so it does not count.
    replaced = queries.revoke_pending_invitations_to(conn, organization_id, email)
    check_member_limit(conn, organization_id)
    with refusing_what_the_schema_refuses(
        Conflict("This address already has a pending invitation.", code="invitation_pending")
    ):
        invitation: dict[str, Any] = queries.insert_invitation(
            conn,
            organization_id,
            email=email,
            role=role,
            permissions=granted,
            token_hash=hash_secret(token),
            invited_by=caller.user_id,
            valid_for=INVITATION_TTL,
        )
    audit.log(
        conn,
        caller,
        "member.invite",
        resource_type="invitation",
        resource_id=invitation["id"],
        details={
            "email": email,
            "role": role,
            "permissions": granted,
            "replacedInvitationIds": [str(replaced_id) for replaced_id in replaced],
        },
    )
    # Last, inside the transaction: an invitation is never stored without its e-mail.
    inviter = caller.full_name or caller.email or "A MoreMinimore user"
    emails.send_invitation(email, token, organization["name"], inviter)
    count(SERVICE, "MemberInvited")
    return invitation


@traced(SERVICE)
def list_members(conn: Connection, caller: Caller, *, limit: int, cursor: str | None) -> queries.Page:
    return queries.members_page(conn, caller.organization_id, limit=limit, cursor=cursor)


@traced(SERVICE)
def change_member(
    conn: Connection, caller: Caller, member_id: str, *, role: str | None, permissions: Sequence[str] | None
) -> dict[str, Any]:
    """Change a member's role and/or permissions; the member row as it is afterwards."""
    organization_id = caller.organization_id
    organization = _locked_organization(conn, organization_id)
    before = _member_or_404(conn, organization_id, member_id)
    new_role = role or before["role"]
    _ensure_may_change_holder_of(caller, before["role"], "change")
    requested = list(permissions) if permissions is not None else before["permissions"] or []
    refusal = grant_refusal(caller, new_role, requested)
    if refusal is not None:
        raise refusal
    if ends_ownership(before["role"], new_role) and queries.owner_count(conn, organization_id) <= 1:
        raise Conflict(
            "The organization's last owner cannot be demoted: make someone else an owner first.",
            code="last_owner",
        )
    granted = member_permissions(new_role, requested)
    if new_role == before["role"] and granted == before["permissions"]:
        return before
    with refusing_what_the_schema_refuses(Conflict("The member changed meanwhile. Try again.")):
        queries.update_member(conn, before["id"], new_role, granted)
    if ends_ownership(before["role"], new_role):
        _move_owner_id_from(conn, organization, before["user_id"])
    audit.log(
        conn,
        caller,
        "member.update",
        resource_type="organization_member",
        resource_id=before["id"],
        details={
            "memberUserId": str(before["user_id"]),
            "email": before["email"],
            "before": {"role": before["role"], "permissions": before["permissions"]},
            "after": {"role": new_role, "permissions": granted},
        },
    )
    return _member_or_404(conn, organization_id, before["id"])


@traced(SERVICE)
def remove_member(conn: Connection, caller: Caller, member_id: str) -> None:
    organization_id = caller.organization_id
    organization = _locked_organization(conn, organization_id)
    target = _member_or_404(conn, organization_id, member_id)
    _ensure_may_change_holder_of(caller, target["role"], "remove")
    if ends_ownership(target["role"], None) and queries.owner_count(conn, organization_id) <= 1:
        raise Conflict(
            "The organization's last owner cannot be removed: make someone else an owner first,"
            " or delete the organization.",
            code="last_owner",
        )
    queries.delete_member(conn, target["id"])
    _move_owner_id_from(conn, organization, target["user_id"])
    audit.log(
        conn,
        caller,
        "member.remove",
        resource_type="organization_member",
        resource_id=target["id"],
        details={
            "memberUserId": str(target["user_id"]),
            "email": target["email"],
            "role": target["role"],
            "permissions": member_permissions(target["role"], target["permissions"] or []),
        },
    )


@traced(SERVICE)
def leave_organization(conn: Connection, caller: Caller) -> None:
    """The caller stops being a member. The last owner cannot leave (the organization would have
    no one to run it): they make someone else an owner first, or delete the organization."""
    assert caller.user_id is not None
    organization_id = caller.organization_id
    organization = _locked_organization(conn, organization_id)
    # Read again under the organization's lock: the membership may have changed since the check.
    me = queries.membership_of_user(conn, organization_id, caller.user_id)
    if me is None:
        raise NotFound("You are not a member of this organization.")
    if ends_ownership(me["role"], None) and queries.owner_count(conn, organization_id) <= 1:
        raise Conflict(
            "You are the organization's last owner, so you cannot leave it: make someone else an owner first,"
            " or delete the organization.",
            code="last_owner",
        )
    queries.delete_member(conn, me["id"])
    _move_owner_id_from(conn, organization, caller.user_id)
    audit.log(
        conn,
        caller,
        "member.leave",
        resource_type="organization_member",
        resource_id=me["id"],
        details={
            "memberUserId": str(caller.user_id),
            "email": me["email"],
            "role": me["role"],
            "permissions": member_permissions(me["role"], me["permissions"] or []),
        },
    )
    count(SERVICE, "MemberLeft")


def _move_owner_id_from(conn: Connection, organization: dict[str, Any], leaving_user_id: uuid.UUID) -> None:
    """Keep organizations.owner_id on an owner when the user it names stops being one
    (``organization``: the row as locked by this transaction, so owner_id is current)."""
    if organization["owner_id"] == leaving_user_id:
        queries.reassign_owner_id(conn, organization["id"], leaving_user_id)


# -------------------------------------------------------------------------------- invitations


@traced(SERVICE)
def list_invitations(conn: Connection, caller: Caller, *, limit: int, cursor: str | None) -> queries.Page:
    """Pending invitations (not accepted, revoked or expired), newest first."""
    return queries.invitations_page(conn, caller.organization_id, limit=limit, cursor=cursor)


@traced(SERVICE)
def revoke_invitation(conn: Connection, caller: Caller, invitation_id: str) -> None:
    organization_id = caller.organization_id
    parsed = parse_uuid(invitation_id)
    _locked_organization(conn, organization_id)
    row = queries.revoke_pending_invitation(conn, organization_id, parsed) if parsed else None
    if row is None:
        raise NotFound("There is no such pending invitation in this organization.")
    audit.log(
        conn,
        caller,
        "invitation.revoke",
        resource_type="invitation",
        resource_id=row["id"],
        details={"email": row["email"], "role": row["role"]},
    )


@traced(SERVICE)
def accept_invitation(conn: Connection, caller: Caller, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Join the organization an invitation (by its e-mailed token) is for, as the caller, who must
    be signed in with the invited address. The organization and the new member row."""
    assert caller.user_id is not None
    token_hash = hash_secret(token)
    organization_id = queries.invitation_organization(conn, token_hash)
    if organization_id is None:
        raise NotFound(INVITATION_NOT_FOUND, code="invitation_not_found")
    # The organization's lock first (as every membership change takes it), then the invitation's.
    organization = _locked_organization(conn, organization_id)
    invitation = queries.lock_invitation(conn, token_hash)
    if invitation is None:
        raise NotFound(INVITATION_NOT_FOUND, code="invitation_not_found")
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
    role, granted = invitation["role"], member_permissions(invitation["role"], invitation["permissions"] or [])
    _ensure_inviter_still_may_grant(conn, invitation, role, granted)
    check_member_limit(conn, organization_id, adding=0)
    with refusing_what_the_schema_refuses(
        Conflict("You are already a member of this organization.", code="already_member")
    ):
        member_id = queries.insert_member(
            conn, organization_id, caller.user_id, role, granted, invited_by=invitation["invited_by"]
        )
    if member_id is None:
        raise Conflict("You are already a member of this organization.", code="already_member")
    queries.mark_invitation_accepted(conn, invitation["id"], caller.user_id)
    audit.log(
        conn,
        caller,
        "member.add",
        organization_id=organization_id,
        resource_type="organization_member",
        resource_id=member_id,
        details={
            "invitationId": str(invitation["id"]),
            "role": role,
            "permissions": granted,
            "invitedBy": str(invitation["invited_by"]) if invitation["invited_by"] else None,
        },
    )
    count(SERVICE, "InvitationAccepted")
    return organization, _member_or_404(conn, organization_id, member_id)


def _ensure_inviter_still_may_grant(
    conn: Connection, invitation: dict[str, Any], role: str, permissions: list[str]
) -> None:
    """An invitation grants what its inviter may grant at acceptance, not at sending: a demoted
    or removed inviter's old link must not make admins (or members with permissions they lost)."""
    inviter = _inviter(conn, invitation)
    if inviter is None or not inviter.may(Action.MEMBERS_INVITE) or grant_refusal(inviter, role, permissions):
        raise Forbidden(
            "The person who sent this invitation can no longer grant what it offers. Ask for a new invitation.",
            code="invitation_no_longer_valid",
        )
