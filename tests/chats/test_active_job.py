"""A chat names the generation job still answering in it (``activeJobId``), so that a page
reloaded mid-answer finds the job and resumes following it."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

from mm_common import db as mm_db
from tests.chats.support import DB, User, create_chat, make_project
from tests.support.identity import make_organization, make_user


def _ask(client: TestClient, user: User, chat_id: Any, content: str = "Make it blue") -> str:
    """Post a message and leave its job as the API made it (queued): the job's id."""
    response = client.post(f"/api/chats/{chat_id}/messages", json={"content": content}, headers=user.headers)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job"]["id"]
    return job_id


def _set_status(job_id: str, status: str) -> None:
    # What the worker does as it takes the job and finishes it.
    with mm_db.transaction() as conn:
        conn.execute("UPDATE generation_jobs SET status = %s WHERE id = %s", (status, job_id))


def _active_job(client: TestClient, user: User, chat_id: Any) -> Any:
    response = client.get(f"/api/chats/{chat_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["chat"]["activeJobId"]


def _listed(client: TestClient, user: User, project: Any) -> dict[str, Any]:
    response = client.get(f"/api/projects/{project}/chats", headers=user.headers)
    assert response.status_code == 200, response.text
    return {chat["id"]: chat["activeJobId"] for chat in response.json()["items"]}


def test_a_chat_names_its_queued_or_running_job_until_it_ends(
    client: TestClient, owner: User, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project, title="Landing page")
    quiet = create_chat(client, owner, project, title="Quiet")
    assert chat["activeJobId"] is None
    assert _active_job(client, owner, chat["id"]) is None

    job = _ask(client, owner, chat["id"])
    assert _active_job(client, owner, chat["id"]) == job
    assert _listed(client, owner, project) == {chat["id"]: job, quiet["id"]: None}
    renamed = client.patch(f"/api/chats/{chat['id']}", json={"title": "Landing"}, headers=owner.headers)
    assert renamed.status_code == 200 and renamed.json()["chat"]["activeJobId"] == job

    _set_status(job, "running")
    assert _active_job(client, owner, chat["id"]) == job
    _set_status(job, "succeeded")
    assert _active_job(client, owner, chat["id"]) is None
    assert _listed(client, owner, project) == {chat["id"]: None, quiet["id"]: None}

    # The next answer; failed and canceled jobs are over too.
    second = _ask(client, owner, chat["id"], "Now green")
    assert second != job and _active_job(client, owner, chat["id"]) == second
    _set_status(second, "failed")
    assert _active_job(client, owner, chat["id"]) is None
    third = _ask(client, owner, chat["id"], "Once more")
    assert _active_job(client, owner, chat["id"]) == third
    canceled = client.post(f"/api/jobs/{third}/cancel", headers=owner.headers)
    assert canceled.status_code == 200 and canceled.json()["job"]["status"] == "canceled", canceled.text
    assert _active_job(client, owner, chat["id"]) is None


def test_another_organizations_chat_and_its_job_stay_hidden(
    client: TestClient, db: DB, owner: User, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project, title="Secret plans")
    job = _ask(client, owner, chat["id"])
    outsider = make_user(db)
    theirs = make_project(db, make_organization(db, outsider, name="Elsewhere"))

    for path in (f"/api/chats/{chat['id']}", f"/api/projects/{project}/chats"):
        response = client.get(path, headers=outsider.headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert job not in response.text
    assert _listed(client, outsider, theirs) == {}
    assert client.get(f"/api/chats/{uuid.uuid4()}", headers=owner.headers).status_code == 404
    assert client.get("/api/chats/not-a-chat", headers=owner.headers).status_code == 404
