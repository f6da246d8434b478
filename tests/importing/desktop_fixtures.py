"""Real desktop app (dyad) SQLite files for the import tests, built with ``sqlite3``.

The schema is the desktop app's own DDL as drizzle writes it (backquoted names, ``integer`` and
``text`` columns, timestamps in UNIX seconds defaulting to ``unixepoch()``), in three versions:
``"v0.33"`` (no ``custom_themes``), ``"v0.34"`` (dyad v0.34.0, 23 migrations) and ``"newer"``
(50 migrations: extra columns appended by ``ALTER TABLE`` and extra tables, which the importer
must ignore). ``DesktopDbBuilder`` creates a file and fills it; the import API and worker tests
reuse it, pairing the commit hashes they give messages with real git repositories.

    with DesktopDbBuilder(tmp_path / "sqlite.db", "v0.34") as desktop:
        app = desktop.add_app("Todo", "todo")
        chat = desktop.add_chat(app, "Make it blue", initial_commit_hash=first)
        desktop.add_message(chat, "user", "Make it blue", source_commit_hash=first)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

SchemaVersion = Literal["v0.33", "v0.34", "newer"]
SCHEMA_VERSIONS: tuple[SchemaVersion, ...] = ("v0.33", "v0.34", "newer")
MIGRATION_COUNTS: dict[SchemaVersion, int] = {"v0.33": 22, "v0.34": 23, "newer": 50}

# drizzle declares `DEFAULT (unixepoch())`, which SQLite has since 3.38; an older SQLite would
# accept the DDL but fail every insert that leaves a timestamp out, so it gets the equivalent.
NOW = "(unixepoch())" if sqlite3.sqlite_version_info >= (3, 38, 0) else "(CAST(strftime('%s', 'now') AS integer))"

_V034_TABLES: dict[str, str] = {
    "prompts": f"""CREATE TABLE `prompts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`title` text NOT NULL,
	`description` text,
	`content` text NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL
)""",
    "apps": f"""CREATE TABLE `apps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`path` text NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL,
	`github_org` text,
	`github_repo` text,
	`github_branch` text,
	`supabase_project_id` text,
	`supabase_parent_project_id` text,
	`supabase_organization_slug` text,
	`neon_project_id` text,
	`neon_development_branch_id` text,
	`neon_preview_branch_id` text,
	`vercel_project_id` text,
	`vercel_project_name` text,
	`vercel_team_id` text,
	`vercel_deployment_url` text,
	`install_command` text,
	`start_command` text,
	`chat_context` text,
	`is_favorite` integer DEFAULT 0 NOT NULL,
	`theme_id` text
)""",
    "chats": f"""CREATE TABLE `chats` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` integer NOT NULL,
	`title` text,
	`initial_commit_hash` text,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "messages": f"""CREATE TABLE `messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`chat_id` integer NOT NULL,
	`role` text NOT NULL,
	`content` text NOT NULL,
	`approval_state` text,
	`source_commit_hash` text,
	`commit_hash` text,
	`request_id` text,
	`max_tokens_used` integer,
	`model` text,
	`ai_messages_json` text,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "versions": f"""CREATE TABLE `versions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app_id` integer NOT NULL,
	`commit_hash` text NOT NULL,
	`neon_db_timestamp` text,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "versions_app_commit_unique": (
        "CREATE UNIQUE INDEX `versions_app_commit_unique` ON `versions` (`app_id`,`commit_hash`)"
    ),
    "language_model_providers": f"""CREATE TABLE `language_model_providers` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`api_base_url` text NOT NULL,
	`env_var_name` text,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL
)""",
    "language_models": f"""CREATE TABLE `language_models` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`display_name` text NOT NULL,
	`api_name` text NOT NULL,
	`builtin_provider_id` text,
	`custom_provider_id` text,
	`description` text,
	`max_output_tokens` integer,
	`context_window` integer,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`custom_provider_id`) REFERENCES `language_model_providers`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "mcp_servers": f"""CREATE TABLE `mcp_servers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`transport` text NOT NULL,
	`command` text,
	`args` text,
	`env_json` text,
	`url` text,
	`enabled` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL
)""",
    "mcp_tool_consents": f"""CREATE TABLE `mcp_tool_consents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` integer NOT NULL,
	`tool_name` text NOT NULL,
	`consent` text DEFAULT 'ask' NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`server_id`) REFERENCES `mcp_servers`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "custom_themes": f"""CREATE TABLE `custom_themes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`prompt` text NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	`updated_at` integer DEFAULT {NOW} NOT NULL
)""",
}

# What later versions add, the way drizzle migrations add it: new tables, and columns appended to
# existing ones (some NOT NULL with defaults, some JSON, one pointing at a new table).
_NEWER_STATEMENTS: tuple[str, ...] = (
    f"""CREATE TABLE `app_collections` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL
)""",
    f"""CREATE TABLE `chat_turn_intents` (
	`id` text PRIMARY KEY NOT NULL,
	`chat_id` integer NOT NULL,
	`intent` text NOT NULL,
	`created_at` integer DEFAULT {NOW} NOT NULL,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade
)""",
    "ALTER TABLE `apps` ADD `needs_app_blueprint` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `apps` ADD `testing_enabled` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `apps` ADD `collection_id` integer REFERENCES app_collections(id)",
    "ALTER TABLE `chats` ADD `compacted_at` integer",
    "ALTER TABLE `chats` ADD `compaction_backup_path` text",
    "ALTER TABLE `chats` ADD `pending_compaction` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `chats` ADD `chat_mode` text",
    "ALTER TABLE `chats` ADD `model_selection` text",
    "ALTER TABLE `chats` ADD `referenced_app_ids` text",
    "ALTER TABLE `chats` ADD `is_favorite` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `messages` ADD `user_input_request_id` text",
    "ALTER TABLE `messages` ADD `chat_turn_intent_id` text",
    "ALTER TABLE `messages` ADD `using_free_agent_mode_quota` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `messages` ADD `is_compaction_summary` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `versions` ADD `is_favorite` integer DEFAULT 0 NOT NULL",
    "ALTER TABLE `versions` ADD `note` text",
    "ALTER TABLE `prompts` ADD `slug` text",
)

# drizzle's own bookkeeping table, as its SQLite migrator creates it.
_MIGRATIONS_TABLE = (
    'CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)'
)


def schema_statements(version: SchemaVersion = "v0.34") -> list[str]:
    """The DDL of a desktop app database of that version (without the migrations table)."""
    tables = dict(_V034_TABLES)
    if version == "v0.33":
        del tables["custom_themes"]
    statements = list(tables.values())
    if version == "newer":
        statements.extend(_NEWER_STATEMENTS)
    return statements


Time = datetime | int | None


def unix_seconds(value: Time) -> int | None:
    """How the desktop app stores a time (drizzle ``mode: "timestamp"``): whole UNIX seconds."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


class DesktopDbBuilder:
    """Creates a desktop app database at ``path`` and fills it row by row; close (or leave the
    ``with`` block) to commit. Inserting a value into a column the schema lacks is an error;
    values left as None are not inserted (the column keeps its default), so the builder also
    fills hand-made schemas that lack optional columns."""

    def __init__(
        self,
        path: Path,
        version: SchemaVersion = "v0.34",
        *,
        statements: Sequence[str] | None = None,
        journal_mode: Literal["delete", "wal"] = "delete",
    ) -> None:
        """``statements`` replaces the version's DDL (for schemas the desktop app never wrote)."""
        self.path = path
        self.version = version
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute(f"PRAGMA journal_mode = {journal_mode}")
        self.connection.execute("PRAGMA foreign_keys = ON")  # the desktop app turns them on
        self.connection.execute("BEGIN")
        for statement in schema_statements(version) if statements is None else statements:
            self.connection.execute(statement)
        if statements is None:
            self.connection.execute(_MIGRATIONS_TABLE)
            for number in range(MIGRATION_COUNTS[version]):
                self.connection.execute(
                    "INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)",
                    (hashlib.sha256(f"migration {number}".encode()).hexdigest(), 1_740_000_000_000 + number),
                )

    def __enter__(self) -> DesktopDbBuilder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("COMMIT")
        self.connection.close()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Raw SQL, for rows no ``add_`` method makes."""
        return self.connection.execute(sql, parameters)

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self.connection.execute(f"PRAGMA table_info(`{table}`)")]

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        """Insert one row and return its rowid (the id of every desktop table with an integer id)."""
        existing = set(self.columns(table))
        if not existing:
            raise ValueError(f"the {self.version} schema has no {table} table")
        # None means "not given": the column keeps its default (NULL, or drizzle's unixepoch()).
        row = {column: value for column, value in values.items() if value is not None}
        unknown = sorted(set(row) - existing)
        if unknown:
            raise ValueError(f"the {table} table has no column {', '.join(unknown)}")
        names = ", ".join(f"`{column}`" for column in row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO `{table}` ({names}) VALUES ({marks})" if row else f"INSERT INTO `{table}` DEFAULT VALUES"
        cursor = self.connection.execute(sql, tuple(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_app(
        self,
        name: str = "My app",
        path: str | None = None,
        *,
        created_at: Time = None,
        updated_at: Time = None,
        theme_id: str | None = None,
        **columns: Any,
    ) -> int:
        """An app; ``path`` is its folder name under the desktop app's apps directory (defaults to
        the name). ``columns`` sets any other column: ``neon_project_id=...``, ``vercel_project_id=...``."""
        values = {
            "name": name,
            "path": path if path is not None else name.lower().replace(" ", "-"),
            "created_at": unix_seconds(created_at),
            "updated_at": unix_seconds(updated_at),
            "theme_id": theme_id,
            **columns,
        }
        return self.insert("apps", values)

    def add_chat(
        self,
        app_id: int,
        title: str | None = None,
        *,
        initial_commit_hash: str | None = None,
        created_at: Time = None,
        **columns: Any,
    ) -> int:
        values = {
            "app_id": app_id,
            "title": title,
            "initial_commit_hash": initial_commit_hash,
            "created_at": unix_seconds(created_at),
            **columns,
        }
        return self.insert("chats", values)

    def add_message(
        self,
        chat_id: int,
        role: str,
        content: str,
        *,
        source_commit_hash: str | None = None,
        commit_hash: str | None = None,
        approval_state: str | None = None,
        request_id: str | None = None,
        max_tokens_used: int | None = None,
        model: str | None = None,
        ai_messages_json: Any = None,
        created_at: Time = None,
        **columns: Any,
    ) -> int:
        """A message; ``ai_messages_json`` may be a JSON-able value (stored as its JSON text)."""
        if ai_messages_json is not None and not isinstance(ai_messages_json, str):
            ai_messages_json = json.dumps(ai_messages_json)
        values = {
            "chat_id": chat_id,
            "role": role,
            "content": content,
            "approval_state": approval_state,
            "source_commit_hash": source_commit_hash,
            "commit_hash": commit_hash,
            "request_id": request_id,
            "max_tokens_used": max_tokens_used,
            "model": model,
            "ai_messages_json": ai_messages_json,
            "created_at": unix_seconds(created_at),
            **columns,
        }
        return self.insert("messages", values)

    def add_version(self, app_id: int, commit_hash: str, *, neon_db_timestamp: str | None = None) -> int:
        return self.insert(
            "versions", {"app_id": app_id, "commit_hash": commit_hash, "neon_db_timestamp": neon_db_timestamp}
        )

    def add_prompt(
        self,
        title: str,
        content: str,
        *,
        description: str | None = None,
        created_at: Time = None,
        updated_at: Time = None,
    ) -> int:
        values = {
            "title": title,
            "description": description,
            "content": content,
            "created_at": unix_seconds(created_at),
            "updated_at": unix_seconds(updated_at),
        }
        return self.insert("prompts", values)

    def add_provider(self, provider_id: str, name: str, api_base_url: str, *, env_var_name: str | None = None) -> str:
        """A custom OpenAI-compatible provider (the desktop app's id is text, chosen by the user)."""
        values = {"id": provider_id, "name": name, "api_base_url": api_base_url, "env_var_name": env_var_name}
        self.insert("language_model_providers", values)
        return provider_id

    def add_model(
        self,
        display_name: str,
        api_name: str,
        *,
        builtin_provider_id: str | None = None,
        custom_provider_id: str | None = None,
        description: str | None = None,
        context_window: int | None = None,
        max_output_tokens: int | None = None,
    ) -> int:
        values = {
            "display_name": display_name,
            "api_name": api_name,
            "builtin_provider_id": builtin_provider_id,
            "custom_provider_id": custom_provider_id,
            "description": description,
            "context_window": context_window,
            "max_output_tokens": max_output_tokens,
        }
        return self.insert("language_models", values)

    def add_theme(self, name: str, prompt: str, *, description: str | None = None, created_at: Time = None) -> int:
        """A custom theme (v0.34.0 and later)."""
        values = {"name": name, "description": description, "prompt": prompt, "created_at": unix_seconds(created_at)}
        return self.insert("custom_themes", values)

    def add_mcp_server(
        self,
        name: str,
        *,
        transport: str = "stdio",
        command: str | None = None,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        url: str | None = None,
        enabled: bool = True,
    ) -> int:
        values = {
            "name": name,
            "transport": transport,
            "command": command,
            "args": None if args is None else json.dumps(list(args)),
            "env_json": None if env is None else json.dumps(dict(env)),
            "url": url,
            "enabled": int(enabled),
        }
        return self.insert("mcp_servers", values)


def sample_desktop_database(path: Path, commits: Sequence[str]) -> Path:
    """A desktop database with the app "Sample app" (folder sample-app) whose chat "Make it friendly" has a turn
    approved from ``commits[0]`` to ``commits[1]``, another app with nothing uploaded for it, a prompt and a
    custom model of a custom provider."""
    with DesktopDbBuilder(path) as build:
        app = build.add_app("Sample app", "sample-app")
        chat = build.add_chat(app, "Make it friendly", initial_commit_hash=commits[0])
        build.add_message(chat, "user", "say hello")
        build.add_message(
            chat,
            "assistant",
            "Hello.",
            approval_state="approved",
            source_commit_hash=commits[0],
            commit_hash=commits[1],
        )
        build.add_app("Not uploaded", "elsewhere")
        build.add_prompt("Landing page", "Make a landing page")
        build.add_provider("my-llm", "My LLM", "https://llm.example.com/v1")
        build.add_model("My model", "my-model", custom_provider_id="my-llm")
    return path
