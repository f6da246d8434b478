"""Projects: created from a template, listed, read, changed (settings and secrets), deleted."""

from __future__ import annotations

import json
import uuid
from typing import Any

from mm_common import audit, crypto, design_systems, preview_builds, projects, versions, working_copy
from mm_common.auth import Caller
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.deploy.services import ProjectServices
from mm_common.errors import Conflict, NotFound, Unprocessable
from mm_common.observability import count, traced
from mm_common.permissions import Action
from mm_common.project_templates import DEFAULT_TEMPLATE_ID, ProjectTemplate, get_template, list_templates
from projects_fn import queries
from projects_fn.schemas import MAX_ENV_VARIABLES, UpdateProjectBody
from projects_fn.service import SERVICE

NO_SUCH_PROJECT = "There is no such project, or you cannot see it."
DEPLOYING = "This project is being deployed right now. Wait until that deployment ends, then delete it."
SLUG_TAKEN = "Another project of this organization uses this slug. Choose another one."
# Templates whose projects get a design system from their description (its files are React + Tailwind's).
DESIGNED_TEMPLATES = frozenset({"react-vite-ts-tailwind"})


def _existing(conn: Connection, project_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    row: dict[str, Any] | None = queries.load_project(conn, project_id, lock=lock)
    if row is None:
        raise NotFound(NO_SUCH_PROJECT)
    return row


@traced(SERVICE)
def templates() -> list[ProjectTemplate]:
    return list_templates()


@traced(SERVICE)
def create_project(
    conn: Connection, caller: Caller, *, name: str, description: str | None, template_id: str | None
) -> dict[str, Any]:
    """A project in the caller's organization with the template's files as version 1 (with a design system's
    files too when the template is a designed one and the project has a description)."""
    template = get_template(template_id or DEFAULT_TEMPLATE_ID)
    if template is None:
        known = ", ".join(t.id for t in list_templates())
        raise Unprocessable(
            f"There is no template '{template_id}'. Choose one of: {known}.", details=[{"field": "template"}]
        )
    # Generated before any write: a failing engine leaves the project without a design system, never
    # without the project (nor a transaction broken half-way).
    design = design_systems.try_generate(description, name) if template.id in DESIGNED_TEMPLATES else None
    organization_id = caller.organization_id
    row = projects.insert_project(
        conn,
        organization_id=organization_id,
        name=name,
        description=description,
        template=template.id,
        install_command=template.install_command,
        build_command=template.build_command,
        start_command=template.start_command,
        created_by=caller.user_id,
    )
    project_id = row["id"]
    for path, data in sorted(template.files.items()):
        working_copy.write(
            conn,
            organization_id=organization_id,
            project_id=project_id,
            path=path,
            body=working_copy.FileBytes(data, is_text=working_copy.is_text(data)),
        )
    revision = (
        design_systems.adopt_for_new_project(
            conn, organization_id=organization_id, project_id=project_id, document=design, user_id=caller.user_id
        )
        if design is not None
        else None
    )
    version = versions.create_version(
        conn, project_id, source="template", message=f"Created from {template.name}", created_by=caller.user_id
    )
    if revision is not None:
        design_systems.record_version(conn, revision["id"], version["id"])
    audit.log(
        conn,
        caller,
        "project.create",
        resource_type="project",
        resource_id=project_id,
        details={"name": name, "template": template.id},
    )
    count(SERVICE, "ProjectCreated")
    return _existing(conn, project_id)


@traced(SERVICE)
def list_projects(
    conn: Connection,
    caller: Caller,
    *,
    organization_id: uuid.UUID | None,
    text: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Projects newest first: of the caller's organizations, or every one for who may see them all;
    ``text`` (trimmed; blank: no filter) is looked for in the name and the description."""
    member_id = None if caller.may(Action.ORGANIZATIONS_VIEW_ALL) else caller.user_id
    found: tuple[list[dict[str, Any]], str | None] = queries.project_page(
        conn,
        member_id=member_id,
        organization_id=organization_id,
        text=(text or "").strip() or None,
        limit=limit,
        cursor=cursor,
    )
    return found


@traced(SERVICE)
def get_project(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    return _existing(conn, project_id)


@traced(SERVICE)
def update_project(conn: Connection, caller: Caller, project_id: uuid.UUID, body: UpdateProjectBody) -> dict[str, Any]:
    """Apply the fields the body sets; variables: NAME -> value seals it, NAME -> null removes it.
    A new slug must be free in the organization."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"environment_variables"})
    if "slug" in changes:
        if changes["slug"] == _existing(conn, project_id)["slug"]:
            del changes["slug"]
        else:
            # Serialised with project creation's slug choice; the unique index is the last word.
            queries.lock_organization(conn, caller.organization_id)
            if projects.slug_taken(conn, caller.organization_id, changes["slug"]):
                raise Conflict(SLUG_TAKEN, code="slug_taken")
    variables = body.environment_variables
    if variables is not None:
        # Read-modify-write of the sealed map: hold the row so a concurrent change is not lost.
        sealed = dict(_existing(conn, project_id, lock=True)["environment_variables"] or {})
        for name, value in variables.items():
            if value is None:
                sealed.pop(name, None)
            else:
                sealed[name] = crypto.seal(value, crypto.variable_context(project_id, name))
        if len(sealed) > MAX_ENV_VARIABLES:
            message = f"A project may have at most {MAX_ENV_VARIABLES} environment variables."
            raise Unprocessable(message, details=[{"field": "environmentVariables", "message": message}])
        changes["environment_variables"] = sealed
    row: dict[str, Any] | None = queries.update_project(conn, project_id, changes)
    if row is None:
        raise NotFound(NO_SUCH_PROJECT)
    if changes:
        audit.log(
            conn,
            caller,
            "project.update",
            resource_type="project",
            resource_id=project_id,
            # Names of what changed only: values may be secrets.
            details={
                "fields": sorted(k for k in changes if k != "environment_variables"),
                "variables": sorted(variables or {}),
            },
        )
    return row


@traced(SERVICE)
def delete_project(conn: Connection, caller: Caller, project_id: uuid.UUID) -> None:
    """The project's rows go now; its S3 objects, its deployed app and database (Easypanel) go in the clean-up
    worker, which also archives its Gitea repository. Refused while a deployment runs (it would create services
    after the clean-up destroyed them)."""
    row = _existing(conn, project_id, lock=True)
    deployed = queries.deployed_names(conn, project_id)
    if deployed["deploying"]:
        raise Conflict(DEPLOYING, code="deployment_in_progress")
    services = ProjectServices.of(deployed)
    # Read before the rows go (they cascade with the project): the clean-up removes these sites.
    preview_labels = preview_builds.site_labels_of_project(conn, project_id)
    queries.delete_project(conn, project_id)
    audit.log(
        conn,
        caller,
        "project.delete",
        resource_type="project",
        resource_id=project_id,
        details={"name": row["name"], "slug": row["slug"]},
    )
    # Rows go now; S3 objects (manifests, archives) go asynchronously. Enqueued inside the
    # transaction: if sending fails nothing is deleted, and a message for a project whose
    # deletion then rolled back would find objects still referenced, so the worker checks.
    client("sqs").send_message(
        QueueUrl=get_settings().project_cleanup_queue_url,
        MessageBody=json.dumps(
            {
                "organizationId": str(row["organization_id"]),
                "projectId": str(project_id),
                "services": services.as_json() if services is not None else None,
                "repository": deployed["gitea_repo_full_name"],
                "previewLabels": preview_labels,
            }
        ),
    )
    count(SERVICE, "ProjectDeleted")


@traced(SERVICE)
def reveal_variable(conn: Connection, caller: Caller, project_id: uuid.UUID, name: str) -> str:
    """One environment variable's value, opened for the caller and recorded (without the value)."""
    sealed = (_existing(conn, project_id)["environment_variables"] or {}).get(name)
    if sealed is None:
        raise NotFound("This project has no environment variable of that name.")
    value = crypto.unseal(sealed, crypto.variable_context(project_id, name))
    audit.log(
        conn,
        caller,
        "project.variable.reveal",
        resource_type="project",
        resource_id=project_id,
        details={"variable": name},
    )
    count(SERVICE, "SecretRevealed")
    return value
