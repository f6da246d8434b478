"""The local API Gateway hands the functions what HTTP API would, and the functions answer bad
input with a 4xx in the error shape: bodies that are not UTF-8 JSON, paths and query strings
holding what no handler can use, percent-encoded paths decoded exactly as HTTP API does."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from starlette.requests import Request
from starlette.testclient import TestClient

from devstack.gateway import RouteTable, build_event, gateway_path
from devstack.template import HttpRoute
from tests.projects.support import create_project
from tests.support.identity import Account, make_organization, make_user


@pytest.fixture
def owner(db: Any) -> Account:
    return make_user(db)


@pytest.fixture
def project(client: TestClient, db: Any, owner: Account) -> dict[str, Any]:
    return create_project(client, owner, make_organization(db, owner), template="blank")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]  # type: ignore[no-any-return]


# --- bodies ----------------------------------------------------------------------------------


def _post_project(client: TestClient, owner: Account, content: bytes, content_type: str | None) -> Any:
    headers = {**owner.headers, **({"Content-Type": content_type} if content_type else {})}
    return client.post("/api/projects", content=content, headers=headers)


def test_a_json_body_that_is_not_utf8_answers_400_invalid_body(client: TestClient, owner: Account, db: Any) -> None:
    org = make_organization(db, owner)
    body = b'{"organizationId": "' + str(org).encode() + b'", "name": "caf\xe9"}'  # Latin-1, not UTF-8
    response = _post_project(client, owner, body, "application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_body"
    assert db.execute("SELECT count(*) FROM projects").fetchone() == (0,)


def test_utf16_json_is_not_taken_for_json(client: TestClient, owner: Account, db: Any) -> None:
    org = make_organization(db, owner)
    body = json.dumps({"organizationId": str(org), "name": "Sixteen"}).encode("utf-16-le")
    response = _post_project(client, owner, body, "application/json")
    assert response.status_code == 400 and _error(response)["code"] == "invalid_body"
    assert db.execute("SELECT count(*) FROM projects").fetchone() == (0,)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"organizationId": "%(org)s", "name": "My App",', "application/json"),  # malformed
        (b"[" * 50_000, "application/json"),  # nested past what the parser takes
        (b'{"organizationId": "%(org)s", "name": "My App"}', "text/plain"),  # JSON, but not sent as JSON
        (b'{"organizationId": "%(org)s", "name": "My App"}', None),
    ],
    ids=["malformed", "too-deep", "text-plain", "no-content-type"],
)
def test_a_body_that_is_not_json_answers_400_invalid_body(
    client: TestClient, owner: Account, db: Any, content: bytes, content_type: str | None
) -> None:
    org = make_organization(db, owner)
    response = _post_project(client, owner, content % {b"org": str(org).encode()}, content_type)
    assert response.status_code == 400, response.text
    assert _error(response)["code"] == "invalid_body"
    assert db.execute("SELECT count(*) FROM projects").fetchone() == (0,)


def test_json_with_fields_wrong_still_answers_422_naming_them(client: TestClient, owner: Account) -> None:
    response = _post_project(client, owner, b'{"organizationId": "nope", "name": ""}', "application/json")
    assert response.status_code == 422 and _error(response)["code"] == "validation_failed"


async def _event(body: bytes, content_type: str | None) -> dict[str, Any]:
    headers = [(b"content-type", content_type.encode())] if content_type else []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/x",
        "raw_path": b"/api/x",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return await build_event(Request(scope, receive), HttpRoute("POST", "/api/x", "Fn"), "/api/x", {})


@pytest.mark.parametrize(
    ("content_type", "body", "as_text"),
    [
        ("application/json", b'{"a": "\xc3\xa9"}', True),
        ("application/json; charset=utf-8", b"{}", True),
        ("text/plain", b"hello", True),
        ("application/xml", b"<a/>", True),
        ("application/javascript", b"1", True),
        # HTTP API base64-encodes every other type, form posts and +json types included.
        ("application/x-www-form-urlencoded", b"a=1", False),
        ("application/problem+json", b"{}", False),
        ("application/octet-stream", b"\x00\x01", False),
        (None, b"{}", False),
        # Text-typed but not UTF-8: passed as the bytes sent, never decoded with replacements.
        ("application/json", b'{"a": "\xff"}', False),
    ],
)
def test_bodies_are_text_or_base64_as_http_api_passes_them(
    content_type: str | None, body: bytes, as_text: bool
) -> None:
    event = asyncio.run(_event(body, content_type))
    assert event["isBase64Encoded"] is not as_text
    sent = event["body"].encode() if as_text else base64.b64decode(event["body"])
    assert sent == body


# --- paths -----------------------------------------------------------------------------------

# Live captures of what HTTP API (payload 2.0) put in rawPath for each path sent: decoded twice,
# cut at a "?" the first decoding made, refused (400) where the first decoding leaves a broken
# escape. None: HTTP API answered 400 itself.
HTTP_API_PATHS = [
    ("/capture/plain", "/capture/plain"),
    ("/capture/space%20value", "/capture/space value"),
    ("/capture/question%3Fvalue", "/capture/question"),
    ("/capture/percent%25done", None),
    ("/capture/hash%23value", "/capture/hash#value"),
    ("/capture/slash%2Fvalue", "/capture/slash/value"),
    ("/capture/unicode-%CE%BB-%E4%B8%96%E7%95%8C", "/capture/unicode-λ-世界"),
    ("/capture/literal%252Fvalue", "/capture/literal/value"),
    ("/capture/literal%253Fvalue", "/capture/literal?value"),
    ("/capture/literal%2525value", "/capture/literal%value"),
]


@pytest.mark.parametrize(("sent", "raw_path"), HTTP_API_PATHS)
def test_paths_decode_as_http_api_decodes_them(sent: str, raw_path: str | None) -> None:
    assert gateway_path(sent.encode()) == raw_path


def test_routes_match_decoded_paths_holding_any_character() -> None:
    table = RouteTable(
        [HttpRoute("GET", "/api/projects/{id}/files/{path+}", "Files"), HttpRoute("ANY", "$default", "S")]
    )
    assert table.match("GET", "/api/projects/p1/files/a\nb.txt") == (
        HttpRoute("GET", "/api/projects/{id}/files/{path+}", "Files"),
        {"id": "p1", "path": "a\nb.txt"},
    )
    # A trailing newline is part of the parameter, never dropped ("$" matches before it).
    assert table.match("GET", "/api/projects/p1/files/a.txt\n")[1]["path"] == "a.txt\n"  # type: ignore[index]


def test_a_newline_in_a_file_path_answers_422_in_the_error_shape(
    client: TestClient, owner: Account, project: dict[str, Any]
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = client.request(
            method, f"/api/projects/{project['id']}/files/a%0Ab.txt", json={"content": "x"}, headers=owner.headers
        )
        assert response.status_code == 422, (method, response.text)
        error = _error(response)
        assert error["code"] == "validation_failed" and error["details"][0]["in"] == "path"
        assert error["message"] == "The request is not valid: the path contains a control character."


def test_a_percent_in_a_file_name_round_trips_when_the_segment_is_encoded_twice(
    client: TestClient, owner: Account, project: dict[str, Any]
) -> None:
    # The file "a%41": HTTP API decodes the path twice, so a client encodes the name twice
    # ("a%41" -> "a%2541" -> "a%252541"); the function must not decode a third time ("aA").
    files = f"/api/projects/{project['id']}/files"
    created = client.put(f"{files}/a%252541", json={"content": "percent"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["path"] == "a%41"
    listed = {f["path"] for f in client.get(files, headers=owner.headers).json()["items"]}
    assert "a%41" in listed and "aA" not in listed
    assert client.get(f"{files}/a%252541", headers=owner.headers).json()["content"] == "percent"
    # Encoded once, HTTP API turns it into "aA": no such file.
    once = client.get(f"{files}/a%2541", headers=owner.headers)
    assert once.status_code == 404 and _error(once)["code"] == "not_found"
    # A "%" the first decoding leaves dangling is refused by HTTP API itself.
    dangling = client.get(f"{files}/100%25.txt", headers=owner.headers)
    assert dangling.status_code == 400 and dangling.json() == {"message": "Bad Request"}
    assert dangling.headers["x-content-type-options"] == "nosniff"


def test_spaces_and_unicode_in_file_names_decode_once_as_sent(
    client: TestClient, owner: Account, project: dict[str, Any]
) -> None:
    files = f"/api/projects/{project['id']}/files"
    created = client.put(f"{files}/my%20notes/caf%C3%A9.txt", json={"content": "x"}, headers=owner.headers)
    assert created.status_code == 201 and created.json()["path"] == "my notes/café.txt"


@pytest.mark.parametrize(
    "query",
    ["limit=%zz", "limit=5%", "cursor=%00", "cursor=%ff", "cur%zzsor=1", "cursor=%ED%A0%80"],
    ids=["bad-escape", "dangling-percent", "nul", "not-utf8", "bad-name", "encoded-surrogate"],
)
def test_unusable_query_strings_answer_422_before_any_handler(
    client: TestClient, owner: Account, project: dict[str, Any], query: str
) -> None:
    response = client.get(f"/api/projects/{project['id']}/files?{query}", headers=owner.headers)
    assert response.status_code == 422, response.text
    error = _error(response)
    assert error["code"] == "validation_failed"
    assert (error["details"][0]["in"], error["details"][0]["type"]) == ("query", "unusable_text")


@pytest.mark.parametrize("path", ["/api/projects/abc%00def", "/api/no-such%00thing", "/api/organizations/x%0D%0Ay"])
def test_nul_and_control_characters_in_paths_answer_422_before_any_handler(
    client: TestClient, owner: Account, path: str
) -> None:
    response = client.get(path, headers=owner.headers)
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_failed"
    assert error["details"] == [
        {"field": None, "in": "path", "message": "The path contains a control character.", "type": "unusable_text"}
    ]
