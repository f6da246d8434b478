"""Read the desktop app's ``sqlite.db`` (dyad v0.33 and later, and its fork) safely.

The file is an upload: its bytes, its schema and every value in it are the user's, possibly
damaged, possibly crafted. So the file is opened read-only and immutable (SQLite never writes,
locks or looks for a journal next to it), its integrity is checked before anything is read,
schema-defined code is distrusted (``trusted_schema = OFF``), and only real tables are read (a
view or a virtual table under an expected name would run its own SQL or module code). Column
names in queries come only from this module's allow-lists, intersected with the columns the file
declares, so versions of the desktop app with fewer or more columns both read the same way; no
value from the file is ever formatted into SQL. Values are coerced to the types the desktop app
writes, because SQLite does not enforce them.

Timestamps are drizzle ``mode: "timestamp"`` integers: UNIX seconds, returned as aware UTC
datetimes (``None`` when absent or not representable).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote

SQLITE_HEADER: Final = b"SQLite format 3\x00"
# The largest single value (a message's text, its AI SDK JSON) read from the file: SQLite refuses
# a bigger one instead of allocating it, so a crafted file cannot exhaust the worker's memory.
MAX_VALUE_BYTES: Final = 64 * 1024 * 1024
# Rows fetched from SQLite at a time while iterating a chat's messages.
MESSAGE_BATCH: Final = 100
# Lines of a failed integrity check quoted to the user (SQLite stops checking after this many).
QUICK_CHECK_LINES: Final = 3

ROLES: Final = ("user", "assistant")
APPROVAL_STATES: Final = frozenset({"approved", "rejected"})

NOT_SQLITE_MESSAGE: Final = "This file is not a desktop app database (it is not an SQLite database file)."
NO_APPS_MESSAGE: Final = "This file is not a desktop app database (no apps table)."
API_KEYS_WARNING: Final = (
    "API keys are not imported: the desktop app keeps them sealed by the operating system's keychain,"
    " outside this file. Re-enter your API keys in MoreMinimore."
)
NEON_WARNING: Final = (
    "Some apps use a Neon database: database-branch history (Neon) does not carry over; only the code"
    " and chats are imported."
)
INTEGRATIONS_WARNING: Final = (
    "Some apps are connected to Supabase or Vercel: those integrations are not imported; connect them"
    " again after the import."
)
MCP_WARNING: Final = "MCP servers are not imported: add the ones you need again in MoreMinimore."

_INTEGRATION_COLUMNS: Final = (
    "supabase_project_id",
    "supabase_parent_project_id",
    "supabase_organization_slug",
    "supabase_organization_id",
    "vercel_project_id",
    "vercel_project_name",
    "vercel_team_id",
    "vercel_deployment_url",
)
_NEON_COLUMNS: Final = ("neon_project_id", "neon_development_branch_id", "neon_preview_branch_id")

# The columns read from each table (all lower case, as the desktop app declares them); anything
# else a table has is ignored, anything listed that it lacks reads as None.
_KNOWN_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "apps": ("id", "name", "path", "created_at", "updated_at", "theme_id", *_NEON_COLUMNS, *_INTEGRATION_COLUMNS),
    "chats": ("id", "app_id", "title", "initial_commit_hash", "created_at"),
    "messages": (
        "id",
        "chat_id",
        "role",
        "content",
        "approval_state",
        "source_commit_hash",
        "commit_hash",
        "request_id",
        "max_tokens_used",
        "model",
        "created_at",
        "ai_messages_json",
    ),
    "prompts": ("id", "title", "description", "content", "created_at", "updated_at"),
    "custom_themes": ("id", "name", "description", "prompt", "created_at"),
    "language_model_providers": ("id", "name", "api_base_url", "env_var_name"),
    "language_models": (
        "id",
        "display_name",
        "api_name",
        "builtin_provider_id",
        "custom_provider_id",
        "description",
        "context_window",
        "max_output_tokens",
    ),
    "mcp_servers": ("id",),
    "__drizzle_migrations": ("id",),
}
# Without these a table's rows mean nothing. For the three core tables a missing one makes the file
# unreadable; an optional table missing one is treated as absent (it must not block the import).
_REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "apps": ("id", "name", "path"),
    "chats": ("id", "app_id"),
    "messages": ("id", "chat_id", "role", "content"),
    "prompts": ("id", "title", "content"),
    "custom_themes": ("id", "name", "prompt"),
    "language_model_providers": ("id", "name"),
    "language_models": ("id", "display_name", "api_name"),
    "mcp_servers": (),
    "__drizzle_migrations": (),
}
_CORE_TABLES: Final = ("apps", "chats", "messages")

# A message is imported when its role is one we know (compared byte for byte, whatever collation
# the file declares for the column) and its id is an integer; the same condition counts and skips.
_IMPORTED_MESSAGE_SQL: Final = "(m.role COLLATE BINARY) IN ('user', 'assistant') AND typeof(m.id) = 'integer'"


class DesktopDatabaseError(Exception):
    """The upload cannot be read as a desktop app database; the message is shown to the user."""


@dataclass(frozen=True)
class DesktopApp:
    id: int
    name: str
    path: str
    created_at: datetime | None
    updated_at: datetime | None
    theme_id: str | None
    chat_count: int
    # Messages that will be imported (roles user and assistant) across the app's chats.
    message_count: int


@dataclass(frozen=True)
class DesktopChat:
    id: int
    app_id: int
    title: str | None
    initial_commit_hash: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class DesktopMessage:
    id: int
    chat_id: int
    role: str  # "user" or "assistant"
    content: str  # raw text, dyad tags included
    approval_state: str | None  # None, "approved" or "rejected"
    source_commit_hash: str | None  # HEAD before the turn
    commit_hash: str | None  # the commit the turn made
    request_id: str | None
    max_tokens_used: int | None
    model: str | None
    created_at: datetime | None
    ai_messages_json: str | None  # the JSON text as stored; not parsed here


@dataclass(frozen=True)
class DesktopPrompt:
    id: int
    title: str
    description: str | None
    content: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class DesktopTheme:
    id: int
    name: str
    description: str | None
    prompt: str
    created_at: datetime | None


@dataclass(frozen=True)
class DesktopProvider:
    """A custom OpenAI-compatible provider; its API key is not in the file."""

    id: str
    name: str
    api_base_url: str | None
    env_var_name: str | None


@dataclass(frozen=True)
class DesktopModel:
    id: int
    display_name: str
    api_name: str
    builtin_provider_id: str | None
    custom_provider_id: str | None
    description: str | None
    context_window: int | None
    max_output_tokens: int | None


Row = dict[str, Any]


class DesktopDatabase:
    """A desktop app database opened read-only; use ``DesktopDatabase.open`` as a context manager.

    Every method may raise ``DesktopDatabaseError`` when SQLite finds damage the integrity check
    at open time did not (it checks structure, not every value).
    """

    def __init__(self, connection: sqlite3.Connection, columns: dict[str, tuple[str, ...]]) -> None:
        """Use ``open``: it checks the file before a ``DesktopDatabase`` exists."""
        self._connection = connection
        # Readable tables -> the known columns they have, in allow-list order.
        self._columns = columns

    @classmethod
    def open(cls, path: Path, *, max_value_bytes: int = MAX_VALUE_BYTES) -> DesktopDatabase:
        """Open the file at ``path`` read-only and check that it is an intact desktop app database.

        Raises ``DesktopDatabaseError`` for anything about the file's contents; ``OSError`` when
        the path cannot be read at all (the caller's fault, not the user's).
        """
        # SQLite reads any file lazily and only complains on the first query, with a message
        # about "databases"; the header tells a wrong kind of file apart in words a user follows.
        with path.open("rb") as file:
            if file.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise DesktopDatabaseError(NOT_SQLITE_MESSAGE)
        # immutable=1: no locks, no journal or WAL files looked for or created next to the upload.
        uri = f"file:{quote(str(path.resolve()), safe='/')}?mode=ro&immutable=1"
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as error:
            raise _damaged(error) from error
        try:
            connection.text_factory = _decode_text
            connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_value_bytes)
            connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA cell_size_check = ON")
            connection.execute("PRAGMA query_only = ON")
            _check_integrity(connection)
            columns = _readable_tables(connection)
        except sqlite3.Error as error:
            connection.close()
            raise _damaged(error) from error
        except BaseException:
            connection.close()
            raise
        return cls(connection, columns)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DesktopDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def apps(self) -> list[DesktopApp]:
        """Every app, ordered by id, with how many chats and importable messages it has."""
        chat_counts = dict(self._query("SELECT app_id, COUNT(*) FROM chats GROUP BY app_id"))
        message_counts = dict(
            self._query(
                "SELECT c.app_id, COUNT(*) FROM messages AS m JOIN chats AS c ON c.id = m.chat_id"
                f" WHERE {_IMPORTED_MESSAGE_SQL} GROUP BY c.app_id"
            )
        )
        apps = []
        for row in self._rows("apps", order_by="id"):
            app_id = _int(row["id"])
            if app_id is None:
                continue  # not a row the desktop app wrote (its ids are integers)
            apps.append(
                DesktopApp(
                    id=app_id,
                    name=_text(row["name"]) or f"App {app_id}",
                    path=_text(row["path"]) or "",
                    created_at=_time(row.get("created_at")),
                    updated_at=_time(row.get("updated_at")),
                    theme_id=_text(row.get("theme_id")),
                    chat_count=_int(chat_counts.get(app_id)) or 0,
                    message_count=_int(message_counts.get(app_id)) or 0,
                )
            )
        return apps

    def chats(self, app_id: int) -> list[DesktopChat]:
        """The app's chats, oldest first (ids increase with creation)."""
        chats = []
        for row in self._rows("chats", where="app_id = ?", parameters=(app_id,), order_by="id"):
            chat_id = _int(row["id"])
            if chat_id is None:
                continue
            chats.append(
                DesktopChat(
                    id=chat_id,
                    app_id=app_id,
                    title=_text(row.get("title")),
                    initial_commit_hash=_text(row.get("initial_commit_hash")),
                    created_at=_time(row.get("created_at")),
                )
            )
        return chats

    def messages(self, chat_id: int) -> Iterator[DesktopMessage]:
        """The chat's user and assistant messages in id order (the order they were written).

        Rows are fetched a batch at a time, so a long chat is never held in memory at once. Rows
        with another role are skipped; ``skipped_message_count`` says how many.
        """
        columns = self._columns["messages"]
        sql = (
            f"SELECT {_column_list(columns, 'm')} FROM messages AS m"
            f" WHERE m.chat_id = ? AND {_IMPORTED_MESSAGE_SQL} ORDER BY m.id"
        )
        try:
            cursor = self._connection.execute(sql, (chat_id,))
        except sqlite3.Error as error:
            raise _damaged(error) from error
        try:
            while True:
                try:
                    batch = cursor.fetchmany(MESSAGE_BATCH)
                except sqlite3.Error as error:
                    raise _damaged(error) from error
                if not batch:
                    return
                for values in batch:
                    message = _message(dict(zip(columns, values, strict=True)), chat_id)
                    if message is not None:
                        yield message
        finally:
            cursor.close()

    def skipped_message_count(self, chat_id: int | None = None) -> int:
        """Messages ``messages`` leaves out (a role other than user/assistant), in one chat or the file."""
        sql = f"SELECT COUNT(*) FROM messages AS m WHERE NOT ({_IMPORTED_MESSAGE_SQL})"
        parameters: tuple[int, ...] = ()
        if chat_id is not None:
            sql += " AND m.chat_id = ?"
            parameters = (chat_id,)
        return self._count(sql, parameters)

    def prompts(self) -> list[DesktopPrompt]:
        """The prompt library, ordered by id."""
        prompts = []
        for row in self._rows("prompts", order_by="id"):
            prompt_id, title, content = _int(row["id"]), _text(row["title"]), _text(row["content"])
            if prompt_id is None or title is None or content is None:
                continue
            prompts.append(
                DesktopPrompt(
                    id=prompt_id,
                    title=title,
                    description=_text(row.get("description")),
                    content=content,
                    created_at=_time(row.get("created_at")),
                    updated_at=_time(row.get("updated_at")),
                )
            )
        return prompts

    def themes(self) -> list[DesktopTheme]:
        """Custom themes, ordered by id; none before v0.34.0, which added the table."""
        themes = []
        for row in self._rows("custom_themes", order_by="id"):
            theme_id, name, prompt = _int(row["id"]), _text(row["name"]), _text(row["prompt"])
            if theme_id is None or name is None or prompt is None:
                continue
            themes.append(
                DesktopTheme(
                    id=theme_id,
                    name=name,
                    description=_text(row.get("description")),
                    prompt=prompt,
                    created_at=_time(row.get("created_at")),
                )
            )
        return themes

    def providers(self) -> list[DesktopProvider]:
        """Custom model providers, ordered by id (their keys are not in the file)."""
        providers = []
        for row in self._rows("language_model_providers", order_by="id"):
            provider_id, name = _text(row["id"]), _text(row["name"])
            if provider_id is None or name is None:
                continue
            providers.append(
                DesktopProvider(
                    id=provider_id,
                    name=name,
                    api_base_url=_text(row.get("api_base_url")),
                    env_var_name=_text(row.get("env_var_name")),
                )
            )
        return providers

    def models(self) -> list[DesktopModel]:
        """Custom models, ordered by id."""
        models = []
        for row in self._rows("language_models", order_by="id"):
            model_id, display_name, api_name = _int(row["id"]), _text(row["display_name"]), _text(row["api_name"])
            if model_id is None or display_name is None or api_name is None:
                continue
            models.append(
                DesktopModel(
                    id=model_id,
                    display_name=display_name,
                    api_name=api_name,
                    builtin_provider_id=_text(row.get("builtin_provider_id")),
                    custom_provider_id=_text(row.get("custom_provider_id")),
                    description=_text(row.get("description")),
                    context_window=_int(row.get("context_window")),
                    max_output_tokens=_int(row.get("max_output_tokens")),
                )
            )
        return models

    def migration_count(self) -> int | None:
        """How many drizzle migrations made this file (23 for v0.34.0); None when unrecorded."""
        if "__drizzle_migrations" not in self._columns:
            return None
        return self._count("SELECT COUNT(*) FROM __drizzle_migrations")

    def warnings(self) -> list[str]:
        """What the import leaves behind, in words for the user; the API keys one is always there."""
        warnings = [API_KEYS_WARNING]
        if self._any_app_has(_NEON_COLUMNS):
            warnings.append(NEON_WARNING)
        if self._any_app_has(_INTEGRATION_COLUMNS):
            warnings.append(INTEGRATIONS_WARNING)
        if "mcp_servers" in self._columns and self._count("SELECT COUNT(*) FROM mcp_servers"):
            warnings.append(MCP_WARNING)
        skipped = self.skipped_message_count()
        if skipped:
            noun = "message" if skipped == 1 else "messages"
            warnings.append(f"{skipped} {noun} with a role other than user or assistant will not be imported.")
        return warnings

    def _any_app_has(self, candidates: Sequence[str]) -> bool:
        """Whether any app has a non-empty value in one of the columns (those the file has)."""
        present = [column for column in candidates if column in self._columns["apps"]]
        if not present:
            return False
        condition = " OR ".join(f"({_quoted(column)} IS NOT NULL AND {_quoted(column)} <> '')" for column in present)
        return self._count(f"SELECT COUNT(*) FROM (SELECT 1 FROM apps WHERE {condition} LIMIT 1)") > 0

    def _rows(self, table: str, *, where: str = "", parameters: Sequence[object] = (), order_by: str) -> Iterator[Row]:
        """The table's known columns as dicts (missing optional columns read as None); nothing
        when the table is absent. ``where`` and ``order_by`` are this module's own SQL."""
        columns = self._columns.get(table)
        if columns is None:
            return
        sql = f"SELECT {_column_list(columns)} FROM {_quoted(table)}"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {_quoted(order_by)}"
        for values in self._query(sql, parameters):
            yield dict(zip(columns, values, strict=True))

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise _damaged(error) from error

    def _count(self, sql: str, parameters: Sequence[object] = ()) -> int:
        rows = self._query(sql, parameters)
        return (_int(rows[0][0]) or 0) if rows else 0


def _check_integrity(connection: sqlite3.Connection) -> None:
    """Refuse a damaged file before reading it: SQLite's quick check walks every page and b-tree
    (cheaper than ``integrity_check``, which also cross-checks indexes the import never uses)."""
    results = [str(row[0]) for row in connection.execute(f"PRAGMA quick_check({QUICK_CHECK_LINES})")]
    if results != ["ok"]:
        # One result can hold several lines, under a heading naming the (only) schema, "main".
        lines = [line.strip() for result in results for line in result.splitlines()]
        detail = "; ".join(line for line in lines if line and not line.startswith("***"))
        raise DesktopDatabaseError(f"The database file is damaged: {_shorten(detail or 'integrity check failed')}.")


def _readable_tables(connection: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    """The known tables the file has as real tables, each with the known columns it declares.

    Raises for a missing or unusable core table; an unusable optional table is left out."""
    # SQLite resolves names case-insensitively, so "APPS" is what a query on apps would read.
    kinds: dict[str, tuple[str, str]] = {}
    for kind, name, sql in connection.execute("SELECT type, name, sql FROM sqlite_master"):
        if isinstance(name, str) and name.lower() in _KNOWN_COLUMNS:
            kinds[name.lower()] = (str(kind), str(sql or ""))
    readable: dict[str, tuple[str, ...]] = {}
    for table, known in _KNOWN_COLUMNS.items():
        kind, sql = kinds.get(table, ("", ""))
        if kind == "table" and sql.lstrip().upper().startswith("CREATE VIRTUAL"):
            kind = "virtual table"  # its rows come from module code, not from the file
        if kind != "table":
            if table in _CORE_TABLES:
                raise DesktopDatabaseError(_not_a_table_message(table, kind))
            continue
        # table_info lists declared columns and leaves out generated ones, whose values would be
        # computed by the file's own expressions: those are never read.
        declared = {
            str(row[0]).lower() for row in connection.execute("SELECT name FROM pragma_table_info(?)", (table,))
        }
        missing = [column for column in _REQUIRED_COLUMNS[table] if column not in declared]
        if missing:
            if table in _CORE_TABLES:
                raise DesktopDatabaseError(
                    f"The database file is not in the expected format: the {table} table has no {missing[0]} column."
                )
            continue
        readable[table] = tuple(column for column in known if column in declared)
    return readable


def _not_a_table_message(table: str, kind: str) -> str:
    if table == "apps" and not kind:
        return NO_APPS_MESSAGE
    if not kind:
        return f"This file is not a desktop app database (no {table} table)."
    return f"This file is not a desktop app database ({table} is a {kind.lower()}, not a table)."


def _message(row: Row, chat_id: int) -> DesktopMessage | None:
    message_id, role = _int(row["id"]), _text(row["role"])
    if message_id is None or role not in ROLES:
        return None  # the SQL already leaves these out; kept so the types hold whatever SQLite returns
    approval_state = _text(row.get("approval_state"))
    return DesktopMessage(
        id=message_id,
        chat_id=chat_id,
        role=role,
        content=_text(row["content"]) or "",
        approval_state=approval_state if approval_state in APPROVAL_STATES else None,
        source_commit_hash=_text(row.get("source_commit_hash")),
        commit_hash=_text(row.get("commit_hash")),
        request_id=_text(row.get("request_id")),
        max_tokens_used=_int(row.get("max_tokens_used")),
        model=_text(row.get("model")),
        created_at=_time(row.get("created_at")),
        ai_messages_json=_text(row.get("ai_messages_json")),
    )


def _quoted(identifier: str) -> str:
    """An identifier from this module's allow-lists, quoted; anything else is a bug here."""
    if not identifier.replace("_", "").isalnum() or not identifier.isascii():
        raise ValueError(f"not an allow-listed identifier: {identifier!r}")
    return f'"{identifier}"'


def _column_list(columns: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{_quoted(column)}" for column in columns)


def _decode_text(data: bytes) -> str:
    """TEXT values need not be valid UTF-8 (a tool's binary output pasted into a chat): the
    default decoder would fail the whole query, so undecodable bytes become U+FFFD instead."""
    return data.decode("utf-8", errors="replace")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return _decode_text(value)
    return str(value)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _time(value: object) -> datetime | None:
    """UNIX seconds to an aware UTC datetime; None for anything else or out of datetime's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _shorten(detail: str, limit: int = 200) -> str:
    return detail if len(detail) <= limit else detail[: limit - 1] + "…"


def _damaged(error: sqlite3.Error) -> DesktopDatabaseError:
    if isinstance(error, sqlite3.DataError) or "too big" in str(error):
        return DesktopDatabaseError("The database file holds a value too large to import.")
    return DesktopDatabaseError(f"The database file is damaged: {_shorten(str(error).rstrip('.'))}.")
