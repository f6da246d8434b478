"""The one permission table: which caller may do which action (the spec's matrix).

Every route declares exactly one :class:`Action` (``mm_common.auth.require``); the same table
drives the check at run time and the generated authorization matrix test.

Scopes:
- ``public``: anyone, no token.
- ``authenticated``: any signed-in, active user.
- ``global``: only the listed global roles (admin, co_admin).
- ``organization``: decided inside one organization. A caller who is not a member (and whose
  global role does not reach it) gets 404, never 403: other tenants' resources do not exist for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class GlobalRole(StrEnum):
    ADMIN = "admin"
    CO_ADMIN = "co_admin"
    USER = "user"


class OrgRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class MemberPermission(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    DEPLOY = "deploy"
    MANAGE = "manage"
    INVITE = "invite"


class Scope(StrEnum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    GLOBAL = "global"
    ORGANIZATION = "organization"


class Action(StrEnum):
    PUBLIC = "public"
    SELF = "self"  # the caller's own account
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_VIEW = "organization.view"
    ORGANIZATION_UPDATE = "organization.update"
    ORGANIZATION_DELETE = "organization.delete"
    ORGANIZATION_AUDIT_VIEW = "organization.audit.view"
    ORGANIZATION_LEAVE = "organization.leave"
    MEMBERS_VIEW = "members.view"
    MEMBERS_INVITE = "members.invite"
    MEMBERS_MANAGE = "members.manage"
    # Granting, changing or taking away the owner or admin role (invite, change, accept, remove).
    MEMBERS_GRANT_ELEVATED = "members.grant_elevated"
    PROJECT_CREATE = "project.create"
    PROJECT_VIEW = "project.view"
    PROJECT_EDIT = "project.edit"
    PROJECT_DEPLOY = "project.deploy"
    PROJECT_MANAGE = "project.manage"
    PROJECT_SECRETS_REVEAL = "project.secrets.reveal"
    BILLING_MANAGE = "billing.manage"
    ANALYTICS_VIEW = "analytics.view"
    USERS_MANAGE = "users.manage"
    ORGANIZATIONS_VIEW_ALL = "organizations.view_all"
    AI_MODELS_MANAGE = "ai_models.manage"
    AI_PROVIDERS_CONFIGURE = "ai_providers.configure"
    SYSTEM_LOGS_VIEW = "system_logs.view"
    PROMPTS_MODERATE = "prompts.moderate"
    PLANS_MANAGE = "plans.manage"
    PLATFORM_ANALYTICS_VIEW = "platform.analytics.view"
    ORGANIZATIONS_MANAGE = "organizations.manage"
    SYSTEM_SETTINGS_VIEW = "system_settings.view"
    SYSTEM_SETTINGS_MANAGE = "system_settings.manage"
    MAINTENANCE_MANAGE = "maintenance.manage"


@dataclass(frozen=True)
class Rule:
    scope: Scope
    global_roles: frozenset[GlobalRole] = frozenset()
    org_roles: frozenset[OrgRole] = frozenset()
    # A member or viewer passes with any one of these per-member permissions.
    member_permissions: frozenset[MemberPermission] = frozenset()
    description: str = ""


A, CA = GlobalRole.ADMIN, GlobalRole.CO_ADMIN
OWNER, ORG_ADMIN, MEMBER, VIEWER = OrgRole.OWNER, OrgRole.ADMIN, OrgRole.MEMBER, OrgRole.VIEWER
P = MemberPermission


def _org(
    roles: set[OrgRole],
    permissions: Iterable[MemberPermission] = (),
    *,
    co_admin: bool = False,
    about: str = "",
) -> Rule:
    global_roles = frozenset({A, CA} if co_admin else {A})  # the global admin overrides any restriction
    return Rule(Scope.ORGANIZATION, global_roles, frozenset(roles), frozenset(permissions), about)


ALL_MEMBERS = {OWNER, ORG_ADMIN, MEMBER, VIEWER}

PERMISSIONS: dict[Action, Rule] = {
    Action.PUBLIC: Rule(Scope.PUBLIC, description="no sign-in needed"),
    Action.SELF: Rule(Scope.AUTHENTICATED, description="any signed-in user, on their own account"),
    Action.ORGANIZATION_CREATE: Rule(Scope.AUTHENTICATED, description="any signed-in user may found an organization"),
    # Organization administration.
    Action.ORGANIZATION_VIEW: _org(ALL_MEMBERS, about="see the organization"),
    Action.ORGANIZATION_UPDATE: _org({OWNER, ORG_ADMIN}, about="rename, change settings"),
    Action.ORGANIZATION_DELETE: _org({OWNER}, about="delete the organization and everything in it"),
    Action.ORGANIZATION_AUDIT_VIEW: _org({OWNER}, about="read the organization's audit log"),
    # Members only: there is nothing to leave for a platform admin who is not one.
    Action.ORGANIZATION_LEAVE: Rule(
        Scope.ORGANIZATION, org_roles=frozenset(ALL_MEMBERS), description="leave the organization (its members)"
    ),
    Action.MEMBERS_VIEW: _org(ALL_MEMBERS, about="list members"),
    Action.MEMBERS_INVITE: _org({OWNER, ORG_ADMIN}, {P.INVITE}, about="invite members (spec: owner, or granted)"),
    Action.MEMBERS_MANAGE: _org({OWNER, ORG_ADMIN}, about="change roles and permissions, remove members"),
    Action.MEMBERS_GRANT_ELEVATED: _org({OWNER}, about="make someone an owner or admin, or change/remove one"),
    # Projects (spec matrix rows: create, edit, deploy; view is every member's).
    Action.PROJECT_CREATE: _org({OWNER, ORG_ADMIN}, about="create projects"),
    Action.PROJECT_VIEW: _org(ALL_MEMBERS, about="read projects, files, versions, chats"),
    Action.PROJECT_EDIT: _org({OWNER, ORG_ADMIN}, {P.EDIT, P.DEPLOY}, about="edit code and chat"),
    Action.PROJECT_DEPLOY: _org({OWNER, ORG_ADMIN}, {P.DEPLOY}, about="deploy to Easypanel"),
    Action.PROJECT_MANAGE: _org({OWNER, ORG_ADMIN}, {P.MANAGE}, about="project settings, secrets, delete"),
    Action.PROJECT_SECRETS_REVEAL: _org({OWNER, ORG_ADMIN}, {P.MANAGE}, about="read an environment variable's value"),
    Action.BILLING_MANAGE: _org({OWNER}, about="subscription and invoices"),
    Action.ANALYTICS_VIEW: _org({OWNER, ORG_ADMIN}, {P.EDIT, P.DEPLOY}, co_admin=True, about="organization analytics"),
    # Platform administration.
    Action.USERS_MANAGE: Rule(Scope.GLOBAL, frozenset({A}), description="list, ban, change roles of users"),
    Action.ORGANIZATIONS_VIEW_ALL: Rule(Scope.GLOBAL, frozenset({A}), description="see every organization"),
    Action.AI_MODELS_MANAGE: Rule(Scope.GLOBAL, frozenset({A, CA}), description="AI providers and models"),
    # Adding a provider sets the URL our workers will call (an SSRF surface): admins only.
    Action.AI_PROVIDERS_CONFIGURE: Rule(Scope.GLOBAL, frozenset({A}), description="add AI providers (base URLs)"),
    Action.SYSTEM_LOGS_VIEW: Rule(Scope.GLOBAL, frozenset({A, CA}), description="system-wide audit log"),
    Action.PROMPTS_MODERATE: Rule(Scope.GLOBAL, frozenset({A}), description="see, change or delete anyone's prompts"),
    Action.PLANS_MANAGE: Rule(Scope.GLOBAL, frozenset({A, CA}), description="the tiers' limits and display prices"),
    Action.PLATFORM_ANALYTICS_VIEW: Rule(
        Scope.GLOBAL, frozenset({A, CA}), description="the admin dashboard: system metrics, analytics, health"
    ),
    Action.ORGANIZATIONS_MANAGE: Rule(
        Scope.GLOBAL, frozenset({A}), description="set an organization's tier or trial by hand, suspend it"
    ),
    Action.SYSTEM_SETTINGS_VIEW: Rule(Scope.GLOBAL, frozenset({A, CA}), description="read the system settings"),
    Action.SYSTEM_SETTINGS_MANAGE: Rule(
        Scope.GLOBAL, frozenset({A, CA}), description="system-wide settings: default AI model, announcement"
    ),
    Action.MAINTENANCE_MANAGE: Rule(Scope.GLOBAL, frozenset({A}), description="maintenance mode and sign-ups"),
}

# Who may grant which organization role: the one rule invite, role change, removal and
# acceptance all read. None: whoever passes the route's own action (invite or manage members).
ROLE_GRANTS: dict[OrgRole, Action | None] = {
    OWNER: Action.MEMBERS_GRANT_ELEVATED,
    ORG_ADMIN: Action.MEMBERS_GRANT_ELEVATED,
    MEMBER: None,
    VIEWER: None,
}


def grant_action(role: str) -> Action | None:
    """The action needed to give someone ``role`` (or to change or remove someone who has it)."""
    return ROLE_GRANTS[OrgRole(role)]


# Permissions a viewer has, whatever is stored: viewers are read-only.
VIEWER_PERMISSIONS = frozenset({P.VIEW})


def allowed_in_organization(
    rule: Rule, global_role: str, org_role: str | None, member_permissions: frozenset[str]
) -> bool:
    if global_role in rule.global_roles:
        return True
    if org_role is None:
        return False
    if org_role in rule.org_roles:
        return True
    effective = VIEWER_PERMISSIONS if org_role == OrgRole.VIEWER else member_permissions
    return bool(rule.member_permissions & effective)


def allowed_globally(rule: Rule, global_role: str) -> bool:
    """Whether a rule that is not organization-scoped lets this global role through."""
    if rule.scope in (Scope.PUBLIC, Scope.AUTHENTICATED):
        return True
    return global_role in rule.global_roles


def sees_organization(rule: Rule, global_role: str, org_role: str | None) -> bool:
    """Whether the organization exists for this caller (otherwise: 404)."""
    return org_role is not None or global_role in rule.global_roles or global_role == GlobalRole.ADMIN
