"""Imports from the desktop app, the API's part: upload slots (presigned POSTs straight to S3), asking for the
analysis, starting the import of the chosen apps, progress and history. The work itself (reading the uploads,
creating projects) is the import worker's (functions/import_worker), reached through the imports queue."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from mm_common import audit, imports, plans
from mm_common.auth import Caller, parse_uuid
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, PayloadTooLarge, Unprocessable
from mm_common.observability import count, for_service, traced
from mm_common.pagination import decode_time_cursor, page, time_key

SERVICE = "imports"
obs = for_service(SERVICE)
NO_SUCH_IMPORT = "There is no such import, or you cannot see it."
UPLOAD_URL_TTL_S = 3600
DATABASE_KEY = "database.sqlite"


def import_uuid(raw: str) -> uuid.UUID:
    found = parse_uuid(raw)
    if found is None:
        raise NotFound(NO_SUCH_IMPORT)
    return found


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:120] or "archive"


@traced(SERVICE)
def create_import(
    conn: Connection, caller: Caller, *, database_size: int, archives: list[tuple[str, int]]
) -> dict[str, Any]:
    """An import waiting for its files: one slot for the database, one per archive. Files over the limits are
    refused here, before anything is uploaded."""
    settings = get_settings()
    too_big = (
        [
            {
                "field": "databaseSize",
                "message": f"The database is larger than {settings.import_max_database_bytes} bytes.",
            }
        ]
        if database_size > settings.import_max_database_bytes
        else []
    )
    too_big += [
        {
            "field": f"archives[{index}].size",
            "message": f"{name} is larger than {settings.import_max_archive_bytes} bytes.",
        }
        for index, (name, size) in enumerate(archives)
        if size > settings.import_max_archive_bytes
    ]
    if too_big:
        raise PayloadTooLarge("A file is larger than an import accepts.", code="import_too_large", details=too_big)
    names = [name for name, _ in archives]
    if len(set(names)) != len(names):
        raise Unprocessable("Two archives have the same name.", details=[{"field": "archives"}])
    import_id = uuid.uuid4()
    prefix = f"uploads/{import_id}/"
    uploads = [
        {
            "name": "sqlite.db",
            "kind": "database",
            "key": prefix + DATABASE_KEY,
            "maxBytes": settings.import_max_database_bytes,
        }
    ]
    uploads += [
        {
            "name": name,
            "kind": "archive",
            "key": f"{prefix}archives/{index}-{_safe_name(name)}",
            "maxBytes": settings.import_max_archive_bytes,
        }
        for index, name in enumerate(names)
    ]
    row = imports.create_import(
        conn, organization_id=caller.organization_id, created_by=caller.user_id, uploads=uploads, import_id=import_id
    )
    audit.log(
        conn, caller, "import.create", resource_type="import", resource_id=import_id, details={"archives": len(names)}
    )
    count(SERVICE, "ImportCreated")
    return row


def presigned_uploads(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The upload slots with where and how to POST each file (while the import waits for its files)."""
    settings = get_settings()
    signing = _signing_client() if row["status"] == "uploading" else None
    slots = []
    for upload in row["uploads"]:
        url = fields = None
        if signing is not None:
            post = signing.generate_presigned_post(
                Bucket=settings.imports_bucket,
                Key=upload["key"],
                Conditions=[["content-length-range", 1, upload["maxBytes"]]],
                ExpiresIn=UPLOAD_URL_TTL_S,
            )
            url, fields = post["url"], dict(post["fields"])
        slots.append(
            {
                "name": upload["name"],
                "kind": upload["kind"],
                "max_bytes": upload["maxBytes"],
                "url": url,
                "fields": fields,
            }
        )
    return slots


def _signing_client() -> Any:
    """An S3 client whose presigned POSTs name IMPORT_UPLOAD_ENDPOINT, path-style (one address for every bucket,
    which the web app's content security policy allows)."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    return boto3.session.Session().client(  # type: ignore[call-overload]
        "s3",
        endpoint_url=settings.import_upload_endpoint or None,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )


@traced(SERVICE)
def get_import(conn: Connection, caller: Caller, raw_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = imports.get_import(conn, import_uuid(raw_id))
    if row is None:
        raise NotFound(NO_SUCH_IMPORT)
    return row, imports.apps_of(conn, row["id"])


@traced(SERVICE)
def list_imports(
    conn: Connection, caller: Caller, *, limit: int, cursor: str | None
) -> tuple[list[tuple[dict[str, Any], list[dict[str, Any]]]], str | None]:
    rows = imports.imports_of(conn, caller.organization_id, before=decode_time_cursor(cursor), limit=limit + 1)
    items, next_cursor = page(rows, limit, time_key("created_at"))
    return [(row, imports.apps_of(conn, row["id"])) for row in items], next_cursor


@traced(SERVICE)
def analyze(conn: Connection, caller: Caller, raw_id: str) -> dict[str, Any]:
    """Ask the worker to analyze the uploaded files; every slot must hold its file, within its limit."""
    row = imports.get_import(conn, import_uuid(raw_id), lock=True)
    if row is None:
        raise NotFound(NO_SUCH_IMPORT)
    if row["status"] not in ("uploading", "failed") or row["analysis"] is not None:
        raise Conflict("This import was analyzed already.", code="import_analyzed")
    settings = get_settings()
    s3 = client("s3")
    missing, too_big = [], []
    for upload in row["uploads"]:
        size = _size(s3, settings.imports_bucket, upload["key"])
        if size is None:
            missing.append({"field": upload["name"], "message": f"{upload['name']} has not been uploaded."})
        elif size > upload["maxBytes"]:
            too_big.append(
                {"field": upload["name"], "message": f"{upload['name']} is larger than {upload['maxBytes']} bytes."}
            )
    if too_big:
        raise PayloadTooLarge("A file is larger than an import accepts.", code="import_too_large", details=too_big)
    if missing:
        raise Conflict("Upload every file before the analysis.", code="upload_missing", details=missing)
    imports.set_status(conn, row["id"], "analyzing")
    _send(row["id"], "analyze")
    audit.log(conn, caller, "import.analyze", resource_type="import", resource_id=row["id"])
    found = imports.get_import(conn, row["id"])
    assert found is not None
    return found


def _size(s3: Any, bucket: str, key: str) -> int | None:
    from botocore.exceptions import ClientError

    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


@traced(SERVICE)
def start(
    conn: Connection, caller: Caller, raw_id: str, apps: list[tuple[int, str | None]], options: dict[str, bool]
) -> dict[str, Any]:
    """Import the chosen apps (each a new project) with the chosen options, in the worker."""
    row = imports.get_import(conn, import_uuid(raw_id), lock=True)
    if row is None:
        raise NotFound(NO_SUCH_IMPORT)
    if row["status"] != "analyzed":
        raise Conflict("Only an analyzed import can start (once).", code="import_not_analyzed")
    analyzed = {app["appId"]: app for app in (row["analysis"] or {}).get("apps", [])}
    problems = []
    for index, (app_id, _) in enumerate(apps):
        found = analyzed.get(app_id)
        if found is None:
            problems.append({"field": f"apps[{index}].appId", "message": f"The database has no app {app_id}."})
        elif options["files"] and (found["archive"] is None or found["archiveError"]):
            problems.append(
                {
                    "field": f"apps[{index}].appId",
                    "message": f"{found['name']} has no usable archive: upload its folder with .git.",
                }
            )
    if len({app_id for app_id, _ in apps}) != len(apps):
        problems.append({"field": "apps", "message": "An app is listed twice."})
    if problems:
        raise Unprocessable("Some apps cannot be imported.", details=problems)
    # At least one more project must fit; the worker checks each one as it creates it.
    plans.check(conn, row["organization_id"], "projects")
    for app_id, project_name in apps:
        found = analyzed[app_id]
        imports.add_app(
            conn,
            row["id"],
            source_app_id=app_id,
            project_name=project_name or found["name"],
            archive_name=found["archive"],
        )
    imports.set_status(conn, row["id"], "importing", options=options)
    _send(row["id"], "import")
    audit.log(
        conn,
        caller,
        "import.start",
        resource_type="import",
        resource_id=row["id"],
        details={"apps": len(apps), "options": options},
    )
    count(SERVICE, "ImportStarted")
    found_row = imports.get_import(conn, row["id"])
    assert found_row is not None
    return found_row


def _send(import_id: Any, action: str) -> None:
    """Queued inside the transaction that set the status: the worker locks the import row, so it waits for it."""
    client("sqs").send_message(
        QueueUrl=get_settings().imports_queue_url,
        MessageBody=json.dumps({"importId": str(import_id), "action": action}),
    )
