"""The import worker: analyzes an import's uploads, then imports the chosen apps (mm_common.importing).

A message is ``{"importId", "action": "analyze" | "import"}``, sent in the transaction that moved the import to
``analyzing`` or ``importing``; the worker locks the import's row first, so it waits for that transaction. The
uploads are untrusted files: they are parsed in this process (SQLite read-only with its schema distrusted, git
objects by dulwich) and nothing in them is ever executed. A problem with the user's files ends the analysis,
or that app's import, with a clear error; anything else fails the message, and SQS delivers it again (each
step is idempotent: see mm_common.importing.importer).
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common import db, imports
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.errors import ApiError
from mm_common.importing.desktop_db import DesktopDatabase, DesktopDatabaseError
from mm_common.importing.git_history import ArchiveError, ArchiveLimits, ImportRepository, open_repository
from mm_common.importing.importer import ImportOptions, import_app, import_prompts
from mm_common.observability import count, for_service, traced

SERVICE = "import-worker"
obs = for_service(SERVICE)
CUSTOM_MODELS_WARNING = (
    "Custom models and providers are not added to the shared catalog: an administrator can add the ones listed."
)


def handle_record(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    import_id = uuid.UUID(str(message["importId"]))
    action = message["action"]
    if action == "analyze":
        analyze(import_id)
    elif action == "import":
        run_import(import_id)
    else:
        raise ValueError(f"unknown import action {action!r}")


def limits() -> ArchiveLimits:
    return ArchiveLimits(max_archive_bytes=get_settings().import_max_archive_bytes)


def download(key: str, target: Path) -> Path:
    client("s3").download_file(get_settings().imports_bucket, key, str(target))
    return target


def _claim(import_id: uuid.UUID, status: str) -> dict[str, Any] | None:
    with db.transaction() as conn:
        row = imports.get_import(conn, import_id, lock=True)
    return row if row is not None and row["status"] == status else None


# ------------------------------------------------------------------------------------------------ analysis


@traced(SERVICE)
def analyze(import_id: uuid.UUID) -> None:
    row = _claim(import_id, "analyzing")
    if row is None:
        return
    database_upload = next(u for u in row["uploads"] if u["kind"] == "database")
    archives = [u for u in row["uploads"] if u["kind"] == "archive"]
    with tempfile.TemporaryDirectory(prefix="mm-import-") as work:
        root = Path(work)
        try:
            database = DesktopDatabase.open(download(database_upload["key"], root / "sqlite.db"))
        except DesktopDatabaseError as error:
            _fail(import_id, "invalid_database", str(error))
            return
        with database:
            summaries = {upload["name"]: _summary(upload, root, index) for index, upload in enumerate(archives)}
            analysis = _analysis(database, summaries)
    with db.transaction() as conn:
        imports.set_status(conn, import_id, "analyzed", analysis=analysis)
    count(SERVICE, "ImportAnalyzed")


def _summary(upload: dict[str, Any], root: Path, index: int) -> dict[str, Any]:
    """What an archive holds (commits, files at the tip), or why it cannot be read."""
    path = download(upload["key"], root / f"archive-{index}")
    try:
        with open_repository(path, root / f"repo-{index}", limits()) as repository:
            history = repository.history()
    except ArchiveError as error:
        return {"error": str(error)}
    finally:
        path.unlink(missing_ok=True)
    tip = history[-1] if history else None
    return {
        "commits": len(history),
        "files": len(tip.files) if tip else 0,
        "skippedFiles": len({item.path for commit in history for item in commit.skipped}),
        "envFiles": len(tip.env_files) if tip else 0,
    }


def _stem(name: str) -> str:
    return re.sub(r"\.(zip|bundle)$", "", name.strip().lower())


def _analysis(database: DesktopDatabase, summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The apps (each matched to the archive named after its folder or its name), prompts, themes and custom
    models found, and what will not carry over."""
    by_stem = {_stem(name): name for name in summaries}
    matched: set[str] = set()
    apps = []
    for app in database.apps():
        candidates = {_stem(Path(app.path).name), _stem(app.name), _stem(re.sub(r"\s+", "-", app.name))}
        archive = next((by_stem[c] for c in candidates if c in by_stem), None)
        summary = summaries.get(archive, {}) if archive else {}
        if archive:
            matched.add(archive)
        apps.append(
            {
                "appId": app.id,
                "name": app.name,
                "path": app.path,
                "chats": app.chat_count,
                "messages": app.message_count,
                "archive": archive,
                "commits": summary.get("commits"),
                "files": summary.get("files"),
                "skippedFiles": summary.get("skippedFiles"),
                "envFiles": summary.get("envFiles"),
                "archiveError": summary.get("error"),
            }
        )
    providers = {provider.id: provider for provider in database.providers()}
    models = [
        {
            "displayName": model.display_name,
            "apiName": model.api_name,
            "provider": (providers[model.custom_provider_id].name if model.custom_provider_id in providers else None)
            or model.builtin_provider_id,
            "apiBaseUrl": providers[model.custom_provider_id].api_base_url
            if model.custom_provider_id in providers
            else None,
        }
        for model in database.models()
    ]
    warnings = list(database.warnings())
    if models:
        warnings.append(CUSTOM_MODELS_WARNING)
    return {
        "apps": apps,
        "prompts": len(database.prompts()),
        "themes": [theme.name for theme in database.themes()],
        "customModels": models,
        "unmatchedArchives": sorted(set(summaries) - matched),
        "warnings": warnings,
    }


def _fail(import_id: uuid.UUID, code: str, message: str) -> None:
    with db.transaction() as conn:
        imports.set_status(conn, import_id, "failed", error={"code": code, "message": message})
    count(SERVICE, "ImportRefused")


# --------------------------------------------------------------------------------------------------- import


@traced(SERVICE)
def run_import(import_id: uuid.UUID) -> None:
    row = _claim(import_id, "importing")
    if row is None:
        return
    options = row["options"] or {}
    with db.transaction() as conn:
        apps = imports.apps_of(conn, import_id)
    database_upload = next(u for u in row["uploads"] if u["kind"] == "database")
    archive_keys = {u["name"]: u["key"] for u in row["uploads"] if u["kind"] == "archive"}
    chosen = ImportOptions(
        chats=bool(options.get("chats", True)),
        files=bool(options.get("files", True)),
        env_vars=bool(options.get("env_vars", False)),
    )
    with tempfile.TemporaryDirectory(prefix="mm-import-") as work:
        root = Path(work)
        with DesktopDatabase.open(download(database_upload["key"], root / "sqlite.db")) as database:
            for index, app in enumerate(apps):
                if app["status"] != "completed":
                    _import_one(app, database, archive_keys, chosen, row["created_by"], root / f"app-{index}")
            if options.get("prompts", True):
                import_prompts(import_id, database=database, user_id=row["created_by"])
    with db.transaction() as conn:
        imports.set_status(conn, import_id, "completed")
    count(SERVICE, "ImportCompleted")


def _import_one(
    app: dict[str, Any],
    database: DesktopDatabase,
    archive_keys: dict[str, str],
    options: ImportOptions,
    user_id: Any,
    work: Path,
) -> None:
    work.mkdir()
    repository: ImportRepository | None = None
    try:
        if options.files and app["archive_name"] in archive_keys:
            archive = download(archive_keys[app["archive_name"]], work / "archive")
            repository = open_repository(archive, work / "repo", limits())
            archive.unlink()
        import_app(app["id"], database=database, repository=repository, options=options, user_id=user_id)
    except (ArchiveError, DesktopDatabaseError, ApiError) as error:
        # The user's files (or the plan's project limit) stop this app only; the others go on.
        message = error.message if isinstance(error, ApiError) else str(error)
        with db.transaction() as conn:
            imports.app_progress(conn, app["id"], status="failed", errors=[{"message": message}])
        count(SERVICE, "AppImportFailed")
    finally:
        if repository is not None:
            repository.close()
