"""The template's PreviewRouting CloudFront function, run for real with Node, against the local stack's mirror of it.

The local stack serves previews through ``devstack.stack.preview_key``; these cases keep it and the function that
serves them in AWS from drifting apart.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from devstack.stack import PREVIEW_DOMAIN, preview_key
from devstack.template import Template

LABEL = "abcdefghijklmnopqrstuv2345"  # 26 characters of base32's alphabet, as preview_builds.new_label makes them
HOST = f"{LABEL}.{PREVIEW_DOMAIN}"
SITE = f"sites/{LABEL}"

# (host header or None when the request has none, request URI, the previews-bucket key or None for 404)
CASES: list[tuple[str | None, str, str | None]] = [
    (HOST, "/", f"{SITE}/index.html"),
    (HOST, "/index.html", f"{SITE}/index.html"),
    (HOST, "/assets/index-abc.js", f"{SITE}/assets/index-abc.js"),
    (HOST, "/favicon.ico", f"{SITE}/favicon.ico"),
    # Client-side routes (no file extension in the last segment) get the SPA's entry page.
    (HOST, "/about", f"{SITE}/index.html"),
    (HOST, "/deep/nested/route", f"{SITE}/index.html"),
    (HOST, "/assets/", f"{SITE}/index.html"),
    (HOST, "/v1.2/route", f"{SITE}/index.html"),
    (f"{LABEL}.preview.moreminimore.example", "/assets/app.css", f"{SITE}/assets/app.css"),
    (HOST.upper(), "/about", f"{SITE}/index.html"),
    (f"{LABEL[:-1]}.{PREVIEW_DOMAIN}", "/", None),
    (f"{LABEL}a.{PREVIEW_DOMAIN}", "/", None),
    (f"{LABEL[:-1]}0.{PREVIEW_DOMAIN}", "/", None),
    (f"{LABEL[:-1]}1.{PREVIEW_DOMAIN}", "/index.html", None),
    (f"{LABEL[:-1]}8.{PREVIEW_DOMAIN}", "/", None),
    (f"{LABEL[:-1]}-.{PREVIEW_DOMAIN}", "/", None),
    ("", "/", None),
    (None, "/", None),
    (PREVIEW_DOMAIN, "/", None),
    (PREVIEW_DOMAIN, "/index.html", None),
]

# The function's code as deployed, then a driver feeding it CloudFront viewer-request events (cases on stdin).
DRIVER = """
var cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
var results = cases.map(function (c) {
  var headers = c.host === null ? {} : { host: { value: c.host } };
  return handler({ request: { uri: c.uri, headers: headers, querystring: {}, method: 'GET' } });
});
process.stdout.write(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def function_results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What the function returns for each case: the rewritten request, or the response it answers with."""
    node = shutil.which("node")
    assert node is not None, "these tests run the CloudFront function with node"
    code = Template.load().resources["PreviewRouting"]["Properties"]["FunctionCode"]
    script = tmp_path_factory.mktemp("preview-routing") / "routing.js"
    script.write_text(code + DRIVER)
    cases = [{"host": host, "uri": uri} for host, uri, _ in CASES]
    run = subprocess.run(
        [node, str(script)], input=json.dumps(cases), capture_output=True, text=True, timeout=30, check=True
    )
    results: list[dict[str, Any]] = json.loads(run.stdout)
    assert len(results) == len(CASES)
    return results


def _bucket_key(result: dict[str, Any]) -> str | None:
    """The key a function result reads from the previews bucket (its URI without the leading slash), None for 404."""
    if "statusCode" in result:
        assert result["statusCode"] == 404
        return None
    uri = result["uri"]
    assert isinstance(uri, str) and uri.startswith("/")
    return uri[1:]


def _case_id(case: tuple[str | None, str, str | None]) -> str:
    host, uri, _ = case
    return f"{host if host is not None else '<no host>'}{uri}"


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)), ids=[_case_id(case) for case in CASES])
def test_function_and_local_mirror_map_the_request_to_the_expected_key(
    function_results: list[dict[str, Any]], index: int, case: tuple[str | None, str, str | None]
) -> None:
    host, uri, expected = case
    assert _bucket_key(function_results[index]) == expected
    assert preview_key(host or "", uri) == expected


def test_function_and_local_mirror_agree_on_every_case(function_results: list[dict[str, Any]]) -> None:
    disagreements = [
        (host, uri, _bucket_key(result), preview_key(host or "", uri))
        for (host, uri, _), result in zip(CASES, function_results, strict=True)
        if _bucket_key(result) != preview_key(host or "", uri)
    ]
    assert disagreements == []


def test_rewritten_request_keeps_everything_but_its_uri(function_results: list[dict[str, Any]]) -> None:
    # CloudFront forwards the returned request to the bucket: only the URI may change.
    request = function_results[0]
    assert request["method"] == "GET" and request["querystring"] == {}
    assert request["headers"] == {"host": {"value": HOST}}
