"""The API against its own OpenAPI document, fuzzed with Schemathesis through the local gateway.

Every operation of the document gets generated requests, valid and invalid (path, query, body),
sent as an organization's owner who has a project (with files, an environment variable, a
tagged version), a chat with a message and its generation job, a prompt, a pending invitation,
a second member and a personal AI key; the administration routes are sent as a platform admin.
Path parameters of the valid requests name those real resources, so handlers run past their
404s. Each answer must be:

- no server error (no 5xx);
- a status code the document lists for the operation;
- the content type the document gives for that status;
- a body that matches the document's schema for that status.

Every example of an operation runs (nothing stops at the first failure); the test then lists
each distinct failure once, with one request that shows it. Budget: FUZZ_EXAMPLES generated
requests per operation (default 12). The examples are derived from the test's name, so a run
repeats the previous one; FUZZ_SEED=<int> explores other inputs. FUZZ_VERBOSE=1 (with -s)
prints the statuses each operation answered.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from devstack.openapi import build_openapi
from devstack.stack import LocalStack
from mm_common import db as mm_db
from mm_common.ai.catalog import seed_catalog
from tests.support.identity import Account, access_token, add_member, make_organization, make_user

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("FUZZ_SEED")
VERBOSE = bool(os.environ.get("FUZZ_VERBOSE"))  # print each operation's statuses (with pytest -s)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(build_openapi())


@dataclass
class World:
    """The resources the fuzzed requests act on, and who sends them."""

    owner: Account
    admin: Account
    ids: dict[str, str] = field(default_factory=dict)


# A path parameter takes the id of the resource the path segment before it names.
RESOURCE_OF_SEGMENT = {
    "ai-models": "model",
    "ai-providers": "provider",
    "api-keys": "provider",
    "chats": "chat",
    "deployments": "deployment",
    "imports": "import",
    "environment-variables": "variable",
    "files": "file",
    "invitations": "invitation",
    "jobs": "job",
    "members": "member",
    "messages": "message",
    "organizations": "organization",
    "plans": "plan",
    "projects": "project",
    "prompts": "prompt",
    "revisions": "revision",
    "sessions": "session",
    "tags": "tag",
    "users": "user",
    "versions": "version",
}


# Body fields naming a resource get the real one in the requests that use real resources.
RESOURCE_OF_BODY_FIELD = {
    "organizationId": "organization",
    "modelId": "model",
    "providerId": "provider",
    "versionId": "version",
    "deploymentId": "deployment",
}


def _resource_of(path: str, parameter: str) -> str:
    segments = path.strip("/").split("/")
    position = segments.index(f"{{{parameter}}}")
    resource = RESOURCE_OF_SEGMENT.get(segments[position - 1])
    assert resource is not None, f"no seeded resource for {{{parameter}}} in {path}: add one to the fuzz test's world"
    return resource


def _sender(world: World, path: str) -> Account:
    """Platform administration goes out as the admin; everything else as the organization's owner."""
    administrative = path.startswith("/api/admin/") or re.fullmatch(r"/api/users(/\{id\})?", path) is not None
    return world.admin if administrative else world.owner


def _created(response: Any, key: str) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    created: dict[str, Any] = response.json()[key]
    return created


@pytest.fixture(scope="module")
def gateway(stack: LocalStack) -> Any:
    return stack.asgi_app()


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any]) -> World:
    with mm_db.transaction() as conn:
        seed_catalog(conn)
    owner = make_user(db, full_name="Fuzz Owner")
    admin = make_user(db, role="admin", full_name="Fuzz Admin")
    colleague = make_user(db, full_name="Fuzz Colleague")
    organization = make_organization(db, owner, name="Fuzz Org")
    member = add_member(db, organization, colleague, "member", ["view", "edit"])
    headers = owner.headers
    project = _created(
        client.post("/api/projects", json={"organizationId": str(organization), "name": "Fuzz"}, headers=headers),
        "project",
    )
    project_path = f"/api/projects/{project['id']}"
    file_path = "src/fuzz.txt"
    put = client.put(f"{project_path}/files/{file_path}", json={"content": "hello\n"}, headers=headers)
    assert put.status_code in (200, 201), put.text
    patched = client.patch(project_path, json={"environmentVariables": {"FUZZ_SECRET": "s3cret"}}, headers=headers)
    assert patched.status_code == 200, patched.text
    version = _created(client.post(f"{project_path}/versions", json={"message": "fuzz"}, headers=headers), "version")
    tagged = client.post(f"{project_path}/versions/{version['id']}/tags", json={"name": "v1"}, headers=headers)
    assert tagged.status_code == 201, tagged.text
    deployment = db.execute(
        "INSERT INTO deployment_logs (project_id, version_id, status, completed_at) VALUES (%s, %s, 'success', now())"
        " RETURNING id",
        (project["id"], version["id"]),
    ).fetchone()
    assert deployment is not None
    designed = client.post(f"{project_path}/design-system", json={"description": "a fuzz shop"}, headers=headers)
    assert designed.status_code == 201, designed.text
    chat = _created(client.post(f"{project_path}/chats", json={"title": "Fuzz chat"}, headers=headers), "chat")
    posted = client.post(f"/api/chats/{chat['id']}/messages", json={"content": "Add a button"}, headers=headers)
    assert posted.status_code == 202, posted.text
    prompt = _created(client.post("/api/prompts", json={"title": "P", "content": "Do it."}, headers=headers), "prompt")
    started = client.post(
        "/api/imports", json={"organizationId": str(organization), "databaseSize": 100, "archives": []}, headers=headers
    )
    the_import = _created(started, "import")
    invitation = _created(
        client.post(f"/api/organizations/{organization}/members", json={"email": "new@example.com"}, headers=headers),
        "invitation",
    )
    provider = db.execute("SELECT id FROM ai_providers ORDER BY slug LIMIT 1").fetchone()
    model = db.execute("SELECT id FROM ai_models ORDER BY display_name LIMIT 1").fetchone()
    assert provider is not None and model is not None
    key = client.put(f"/api/users/me/api-keys/{provider[0]}", json={"apiKey": "sk-fuzz-0123456789"}, headers=headers)
    assert key.status_code == 200, key.text
    # Another sign-in of the owner's, to end (ending the one the requests use would stop them).
    access_token(db, owner.id, owner.email, owner.role)
    other_session = db.execute(
        "SELECT id FROM sessions WHERE user_id = %s ORDER BY created_at DESC, id LIMIT 1", (owner.id,)
    ).fetchone()
    assert other_session is not None
    ids = {
        "organization": str(organization),
        "session": str(other_session[0]),
        "member": str(member),
        "user": str(colleague.id),
        "project": project["id"],
        "file": file_path,
        "variable": "FUZZ_SECRET",
        "version": version["id"],
        "deployment": str(deployment[0]),
        "tag": "v1",
        "chat": chat["id"],
        "message": posted.json()["message"]["id"],
        "job": posted.json()["job"]["id"],
        "prompt": prompt["id"],
        "import": the_import["id"],
        "revision": designed.json()["revisionId"],
        "invitation": invitation["id"],
        "provider": str(provider[0]),
        "model": str(model[0]),
        "plan": "pro",
    }
    return World(owner=owner, admin=admin, ids=ids)


@dataclass
class Findings:
    """Distinct failures of one operation, each with the first request that showed it."""

    operation: str
    seen: dict[tuple[str, int], str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, failure: Failure, case: Any, response: Any) -> None:
        key = (failure.title, response.status_code)
        if key in self.seen:
            return
        body = None if isinstance(case.body, NotSet) else case.body
        request = {"path": case.formatted_path, "query": case.query, "headers": dict(case.headers or {}), "body": body}
        shown = {name: value for name, value in request.items() if value not in (None, {}, [])}
        answer = response.text if len(response.text) <= 300 else response.text[:300] + "..."
        detail = failure.message.strip().splitlines()[0] if failure.message.strip() else ""
        self.seen[key] = (
            f"- {failure.title} ({response.status_code}): {detail}\n"
            f"    request:  {json.dumps(shown, default=str)[:500]}\n"
            f"    response: {answer}"
        )

    def report(self) -> str:
        answered = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        heading = f"{self.operation}: {len(self.seen)} distinct failure(s) (statuses answered: {answered})"
        return heading + "\n" + "\n".join(self.seen.values())


OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_the_api_answers_as_its_document_says(operation: Any, gateway: Any, world: World) -> None:
    template = operation.path
    real_ids = {name: world.ids[_resource_of(template, name)] for name in re.findall(r"\{(\w+)\}", template)}
    headers = _sender(world, template).headers

    def naming_real_resources(case: Any) -> Any:
        if isinstance(case.body, dict):
            for key, resource in RESOURCE_OF_BODY_FIELD.items():
                if key in case.body:
                    case.body[key] = world.ids[resource]
        return case

    cases = st.one_of(
        # Real resources in the path and in the body's id fields: the handlers' own work runs.
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real_ids or None).map(naming_real_resources),
        operation.as_strategy(GenerationMode.POSITIVE),  # ids of nothing: 404s
        operation.as_strategy(GenerationMode.NEGATIVE),  # input the document refuses: 4xx
    )
    findings = Findings(operation.label)

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # every example, no shrinking: the list below is the result
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        # HTTP API decodes a request path twice (devstack/gateway.py): a client encodes each path
        # segment twice so that "%", "?" and "/" in a value arrive as sent. Schemathesis encoded
        # once already.
        for name, value in (case.path_parameters or {}).items():
            if isinstance(value, str):
                case.path_parameters[name] = quote(value, safe="")
        response = case.call(app=gateway, headers=headers)
        findings.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs={"app": gateway})
        except FailureGroup as group:
            for failure in group.exceptions:
                findings.add(failure, case, response)

    if SEED is not None:
        send = hypothesis_seed(int(SEED))(send)
    send()
    if VERBOSE:
        print(findings.report())
    assert not findings.seen, findings.report()
    # Not vacuous: the requests got past authentication to the handlers.
    assert set(findings.statuses) - {401, 403}, findings.report()


def test_every_path_parameter_of_the_document_has_a_seeded_resource() -> None:
    """Guards the fuzz test's world: a new path parameter needs a seeded resource to point at."""
    parameters = [(path, name) for path in build_openapi()["paths"] for name in re.findall(r"\{(\w+)\}", path)]
    assert parameters
    for path, name in parameters:
        _resource_of(path, name)
