"""Reading the desktop app's sqlite.db: real files built with sqlite3 in each schema version,
hand-made schemas, and damaged or hostile files. No stack: the reader is a pure library."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mm_common.importing.desktop_db import (
    API_KEYS_WARNING,
    INTEGRATIONS_WARNING,
    MCP_WARNING,
    NEON_WARNING,
    DesktopApp,
    DesktopChat,
    DesktopDatabase,
    DesktopDatabaseError,
    DesktopMessage,
    DesktopModel,
    DesktopPrompt,
    DesktopProvider,
    DesktopTheme,
)
from tests.importing.desktop_fixtures import MIGRATION_COUNTS, SCHEMA_VERSIONS, DesktopDbBuilder, SchemaVersion

H0, H1, H2, H3 = (f"{digit}" * 40 for digit in "0123")
MARCH_1 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
MARCH_2 = datetime(2025, 3, 2, 11, 30, tzinfo=UTC)
WRITE_REPLY = (
    '<dyad-write path="src/App.tsx" description="Blue">export default () => <div className="blue" /></dyad-write>'
)
AI_MESSAGES = {"messages": [{"role": "assistant", "content": "done"}], "sdkVersion": "ai@v5"}


@dataclass(frozen=True)
class Sample:
    todo: int
    blog: int
    blue_chat: int
    footer_chat: int


def populate(desktop: DesktopDbBuilder) -> Sample:
    """Two apps: Todo with two chats of turns that made commits, Blog with none."""
    todo = desktop.add_app("Todo", "todo", created_at=MARCH_1, updated_at=MARCH_2, theme_id="default")
    blog = desktop.add_app("Blog", "blog", created_at=MARCH_2, updated_at=MARCH_2)
    blue = desktop.add_chat(todo, "Make it blue", initial_commit_hash=H0, created_at=MARCH_1)
    desktop.add_message(blue, "user", "Make it blue", source_commit_hash=H0, created_at=MARCH_1)
    desktop.add_message(
        blue,
        "assistant",
        WRITE_REPLY,
        source_commit_hash=H0,
        commit_hash=H1,
        approval_state="approved",
        request_id="req-1",
        max_tokens_used=1234,
        model="gpt-4.1",
        ai_messages_json=AI_MESSAGES,
        created_at=MARCH_1,
    )
    footer = desktop.add_chat(todo, "Add a footer", initial_commit_hash=H1, created_at=MARCH_2)
    desktop.add_message(footer, "user", "Add a footer", source_commit_hash=H1, created_at=MARCH_2)
    desktop.add_message(
        footer,
        "assistant",
        "Footer added.",
        source_commit_hash=H1,
        commit_hash=H2,
        approval_state="rejected",
        # Every time given: a default of "now" differs between two databases made a second apart.
        created_at=MARCH_2,
    )
    return Sample(todo=todo, blog=blog, blue_chat=blue, footer_chat=footer)


def build(path: Path, version: SchemaVersion = "v0.34") -> tuple[Path, Sample]:
    with DesktopDbBuilder(path, version) as desktop:
        sample = populate(desktop)
    return path, sample


def read_all(path: Path) -> tuple[list[DesktopApp], list[DesktopChat], list[DesktopMessage]]:
    with DesktopDatabase.open(path) as database:
        apps = database.apps()
        chats = [chat for app in apps for chat in database.chats(app.id)]
        messages = [message for chat in chats for message in database.messages(chat.id)]
    return apps, chats, messages


def minimal_schema(
    *, messages: str = "`id` integer PRIMARY KEY, `chat_id` integer, `role` text, `content` text"
) -> list[str]:
    """Only the columns the reader cannot do without."""
    return [
        "CREATE TABLE `apps` (`id` integer PRIMARY KEY, `name` text, `path` text)",
        "CREATE TABLE `chats` (`id` integer PRIMARY KEY, `app_id` integer)",
        f"CREATE TABLE `messages` ({messages})",
    ]


def open_error(path: Path) -> str:
    with pytest.raises(DesktopDatabaseError) as raised:
        DesktopDatabase.open(path).close()
    return str(raised.value)


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_schema_version_reads_the_same_apps_chats_and_messages(tmp_path: Path, version: SchemaVersion) -> None:
    path, sample = build(tmp_path / "sqlite.db", version)

    apps, chats, messages = read_all(path)

    assert apps == [
        DesktopApp(
            id=sample.todo,
            name="Todo",
            path="todo",
            created_at=MARCH_1,
            updated_at=MARCH_2,
            theme_id="default",
            chat_count=2,
            message_count=4,
        ),
        DesktopApp(
            id=sample.blog,
            name="Blog",
            path="blog",
            created_at=MARCH_2,
            updated_at=MARCH_2,
            theme_id=None,
            chat_count=0,
            message_count=0,
        ),
    ]
    assert chats == [
        DesktopChat(
            id=sample.blue_chat, app_id=sample.todo, title="Make it blue", initial_commit_hash=H0, created_at=MARCH_1
        ),
        DesktopChat(
            id=sample.footer_chat, app_id=sample.todo, title="Add a footer", initial_commit_hash=H1, created_at=MARCH_2
        ),
    ]
    assert [
        (m.chat_id, m.role, m.content, m.source_commit_hash, m.commit_hash, m.approval_state) for m in messages
    ] == [
        (sample.blue_chat, "user", "Make it blue", H0, None, None),
        (sample.blue_chat, "assistant", WRITE_REPLY, H0, H1, "approved"),
        (sample.footer_chat, "user", "Add a footer", H1, None, None),
        (sample.footer_chat, "assistant", "Footer added.", H1, H2, "rejected"),
    ]
    reply = messages[1]
    assert (reply.request_id, reply.max_tokens_used, reply.model, reply.created_at) == (
        "req-1",
        1234,
        "gpt-4.1",
        MARCH_1,
    )
    assert reply.ai_messages_json is not None and '"sdkVersion": "ai@v5"' in reply.ai_messages_json
    with DesktopDatabase.open(path) as database:
        assert database.migration_count() == MIGRATION_COUNTS[version]


def test_columns_and_tables_of_newer_versions_are_ignored(tmp_path: Path) -> None:
    older, _ = build(tmp_path / "v034.db", "v0.34")
    with DesktopDbBuilder(tmp_path / "newer.db", "newer") as desktop:
        sample = populate(desktop)
        collection = desktop.insert("app_collections", {"name": "Work"})
        desktop.execute(
            "UPDATE apps SET needs_app_blueprint = 1, testing_enabled = 1, collection_id = ? WHERE id = ?",
            (collection, sample.todo),
        )
        desktop.execute(
            "UPDATE chats SET chat_mode = 'agent', model_selection = '{\"model\": \"auto\"}', is_favorite = 1,"
            " compacted_at = 1740000000, referenced_app_ids = '[2]'"
        )
        desktop.execute("UPDATE messages SET using_free_agent_mode_quota = 1, user_input_request_id = 'u-1'")
        desktop.execute("UPDATE prompts SET slug = 'x'")

    assert read_all(tmp_path / "newer.db") == read_all(older)


def test_missing_optional_columns_and_tables_read_as_none_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "minimal.db"
    with DesktopDbBuilder(path, statements=minimal_schema()) as desktop:
        app = desktop.add_app("Bare", "bare")
        chat = desktop.add_chat(app)
        desktop.add_message(chat, "user", "hi")

    with DesktopDatabase.open(path) as database:
        assert database.apps() == [
            DesktopApp(
                id=app,
                name="Bare",
                path="bare",
                created_at=None,
                updated_at=None,
                theme_id=None,
                chat_count=1,
                message_count=1,
            )
        ]
        assert database.chats(app) == [
            DesktopChat(id=chat, app_id=app, title=None, initial_commit_hash=None, created_at=None)
        ]
        assert list(database.messages(chat)) == [
            DesktopMessage(
                id=1,
                chat_id=chat,
                role="user",
                content="hi",
                approval_state=None,
                source_commit_hash=None,
                commit_hash=None,
                request_id=None,
                max_tokens_used=None,
                model=None,
                created_at=None,
                ai_messages_json=None,
            )
        ]
        assert (database.prompts(), database.themes(), database.providers(), database.models()) == ([], [], [], [])
        assert database.migration_count() is None
        assert database.warnings() == [API_KEYS_WARNING]


def test_times_are_utc_and_unreadable_times_are_none(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        seconds = desktop.add_app("Seconds", created_at=1_740_823_200)  # 2025-03-01T10:00:00Z
        millis = desktop.add_app("Millis", created_at=1_740_823_200_000)  # year 57000: not seconds
        text = desktop.add_app("Text")
        desktop.execute("UPDATE apps SET created_at = 'yesterday', updated_at = -1e400 WHERE id = ?", (text,))

    with DesktopDatabase.open(path) as database:
        apps = database.apps()
        created = {app.id: app.created_at for app in apps}

    first = created[seconds]
    assert first == MARCH_1
    assert first is not None and first.tzinfo is UTC
    assert created[millis] is None
    assert created[text] is None
    assert [app.updated_at for app in apps if app.id == text] == [None]  # -infinity


def test_messages_come_in_id_order_across_fetch_batches(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        app = desktop.add_app("Long")
        chat = desktop.add_chat(app, "Long chat")
        other = desktop.add_chat(app, "Other chat")
        # Ids given out of insertion order: the order of a chat is its ids'.
        desktop.add_message(chat, "assistant", "second", id=20, commit_hash=H2)
        desktop.add_message(chat, "user", "first", id=10, commit_hash=None, source_commit_hash=H1)
        desktop.add_message(other, "user", "elsewhere", id=15)
        for number in range(250):
            desktop.add_message(
                chat, "user" if number % 2 == 0 else "assistant", f"turn {number}", commit_hash=f"{number:040x}"
            )

    with DesktopDatabase.open(path) as database:
        messages = list(database.messages(chat))
        counts = [(a.chat_count, a.message_count) for a in database.apps()]

    assert [m.content for m in messages[:2]] == ["first", "second"]
    assert [m.content for m in messages[2:]] == [f"turn {number}" for number in range(250)]
    assert [m.id for m in messages] == sorted(m.id for m in messages)
    assert messages[1].commit_hash == H2 and messages[-1].commit_hash == f"{249:040x}"
    assert counts == [(2, 253)]


def test_messages_with_other_roles_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        app = desktop.add_app("Todo")
        chat = desktop.add_chat(app)
        desktop.add_message(chat, "user", "hello")
        desktop.add_message(chat, "system", "You are helpful")
        desktop.add_message(chat, "User", "shouting role")
        desktop.add_message(chat, "assistant", "hi", approval_state="maybe")

    with DesktopDatabase.open(path) as database:
        messages = list(database.messages(chat))
        assert [(m.role, m.content, m.approval_state) for m in messages] == [
            ("user", "hello", None),
            ("assistant", "hi", None),
        ]
        assert database.skipped_message_count() == 2
        assert database.skipped_message_count(chat) == 2
        assert database.apps()[0].message_count == 2
        assert "2 messages with a role other than user or assistant will not be imported." in database.warnings()


def test_prompts_themes_providers_and_models(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        desktop.add_prompt(
            "Refactor", "Refactor {file}", description="Tidy code", created_at=MARCH_1, updated_at=MARCH_2
        )
        desktop.add_prompt("Test", "Write tests")
        desktop.add_theme("Brutalist", "Use thick black borders", description="Loud", created_at=MARCH_2)
        provider = desktop.add_provider("my-llm", "My LLM", "https://llm.example/v1", env_var_name="MY_LLM_KEY")
        desktop.add_model(
            "My Model",
            "my-model-1",
            custom_provider_id=provider,
            description="fast",
            context_window=128_000,
            max_output_tokens=8_192,
        )
        desktop.add_model("Claude (custom)", "claude-x", builtin_provider_id="anthropic")

    with DesktopDatabase.open(path) as database:
        prompts = database.prompts()
        assert prompts[0] == DesktopPrompt(
            id=1,
            title="Refactor",
            description="Tidy code",
            content="Refactor {file}",
            created_at=MARCH_1,
            updated_at=MARCH_2,
        )
        assert [(p.title, p.description, p.content) for p in prompts[1:]] == [("Test", None, "Write tests")]
        assert prompts[1].created_at is not None  # drizzle's unixepoch() default, read back as a time
        assert database.themes() == [
            DesktopTheme(
                id=1, name="Brutalist", description="Loud", prompt="Use thick black borders", created_at=MARCH_2
            )
        ]
        assert database.providers() == [
            DesktopProvider(
                id="my-llm", name="My LLM", api_base_url="https://llm.example/v1", env_var_name="MY_LLM_KEY"
            )
        ]
        assert database.models() == [
            DesktopModel(
                id=1,
                display_name="My Model",
                api_name="my-model-1",
                builtin_provider_id=None,
                custom_provider_id="my-llm",
                description="fast",
                context_window=128_000,
                max_output_tokens=8_192,
            ),
            DesktopModel(
                id=2,
                display_name="Claude (custom)",
                api_name="claude-x",
                builtin_provider_id="anthropic",
                custom_provider_id=None,
                description=None,
                context_window=None,
                max_output_tokens=None,
            ),
        ]


def test_themes_are_empty_before_v034(tmp_path: Path) -> None:
    path, _ = build(tmp_path / "sqlite.db", "v0.33")
    with DesktopDatabase.open(path) as database:
        assert database.themes() == []


def test_warnings_name_what_does_not_carry_over(tmp_path: Path) -> None:
    plain, _ = build(tmp_path / "plain.db")
    with DesktopDatabase.open(plain) as database:
        assert database.warnings() == [API_KEYS_WARNING]
    assert "keychain" in API_KEYS_WARNING and "Re-enter" in API_KEYS_WARNING

    path = tmp_path / "connected.db"
    with DesktopDbBuilder(path) as desktop:
        desktop.add_app("Neon app", neon_project_id="np-1", neon_development_branch_id="br-1")
        desktop.add_app("Vercel app", vercel_project_id="prj_1", vercel_deployment_url="https://x.vercel.app")
        desktop.add_app("Empty ids", neon_project_id="", supabase_project_id="")
        desktop.add_mcp_server("files", command="npx", args=["-y", "@mcp/files"], env={"ROOT": "/"})
    with DesktopDatabase.open(path) as database:
        assert database.warnings() == [API_KEYS_WARNING, NEON_WARNING, INTEGRATIONS_WARNING, MCP_WARNING]
    assert "database-branch history (Neon) does not carry over" in NEON_WARNING

    supabase = tmp_path / "supabase.db"
    with DesktopDbBuilder(supabase) as desktop:
        desktop.add_app("Supabase app", supabase_project_id="abcd", supabase_organization_slug="acme")
    with DesktopDatabase.open(supabase) as database:
        assert database.warnings() == [API_KEYS_WARNING, INTEGRATIONS_WARNING]


def test_a_view_or_virtual_table_in_place_of_a_table_is_refused(tmp_path: Path) -> None:
    view = tmp_path / "view.db"
    with DesktopDbBuilder(view, statements=minimal_schema()[1:]) as desktop:
        desktop.execute("CREATE TABLE real_apps (id integer PRIMARY KEY, name text, path text)")
        desktop.execute("CREATE VIEW apps AS SELECT id, name, path FROM real_apps")
    assert open_error(view) == "This file is not a desktop app database (apps is a view, not a table)."

    virtual = tmp_path / "virtual.db"
    with DesktopDbBuilder(virtual, statements=minimal_schema()[:2]) as desktop:
        desktop.execute("CREATE VIRTUAL TABLE messages USING rtree(id, chat_id, role)")
    assert open_error(virtual) == "This file is not a desktop app database (messages is a virtual table, not a table)."


def test_generated_columns_are_never_read(tmp_path: Path) -> None:
    """A column computed by the file's own expression is not a stored value: treated as missing."""
    path = tmp_path / "generated.db"
    messages = (
        "id integer PRIMARY KEY, chat_id integer, role text, raw text, content text GENERATED ALWAYS AS (upper(raw))"
    )
    with DesktopDbBuilder(path, statements=minimal_schema(messages=messages)):
        pass
    assert (
        open_error(path) == "The database file is not in the expected format: the messages table has no content column."
    )


def test_missing_tables_and_columns_are_named(tmp_path: Path) -> None:
    no_messages = tmp_path / "no-messages.db"
    with DesktopDbBuilder(no_messages, statements=minimal_schema()[:2]):
        pass
    assert open_error(no_messages) == "This file is not a desktop app database (no messages table)."

    empty = tmp_path / "empty.db"
    with DesktopDbBuilder(empty, statements=["CREATE TABLE notes (id integer PRIMARY KEY)"]):
        pass
    assert open_error(empty) == "This file is not a desktop app database (no apps table)."

    no_path = tmp_path / "no-path.db"
    statements = minimal_schema()
    statements[0] = "CREATE TABLE apps (id integer PRIMARY KEY, name text)"
    with DesktopDbBuilder(no_path, statements=statements):
        pass
    assert open_error(no_path) == "The database file is not in the expected format: the apps table has no path column."


def test_files_that_are_not_sqlite_are_refused(tmp_path: Path) -> None:
    not_sqlite = "This file is not a desktop app database (it is not an SQLite database file)."
    random_bytes = tmp_path / "random.db"
    random_bytes.write_bytes(random.Random(7).randbytes(8192))
    settings = tmp_path / "user-settings.json"
    settings.write_text('{"providerSettings": {}}')
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")

    for path in (random_bytes, settings, empty):
        assert open_error(path) == not_sqlite


def test_damaged_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        app = desktop.add_app("Big")
        chat = desktop.add_chat(app)
        for number in range(300):
            desktop.add_message(chat, "user", f"message {number} " * 40)
    data = path.read_bytes()
    assert len(data) > 20 * 4096

    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 2])
    header_only = tmp_path / "header-only.db"
    header_only.write_bytes(data[:100])
    garbled = tmp_path / "garbled.db"
    pages = bytearray(data)
    pages[4096 * 12 : 4096 * 16] = random.Random(3).randbytes(4096 * 4)
    garbled.write_bytes(bytes(pages))
    # Pages the schema does not need: SQLite opens the file and only the integrity check notices.
    overwritten = tmp_path / "overwritten.db"
    overwritten.write_bytes(data[: 4096 * 3] + b"\xab" * (4096 * 3) + data[4096 * 6 :])

    for damaged in (truncated, header_only, garbled, overwritten):
        message = open_error(damaged)
        assert message.startswith("The database file is damaged: "), message
        assert message.endswith(".")
    assert "Page " in open_error(overwritten)


def test_a_value_larger_than_the_limit_is_refused_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        app = desktop.add_app("Todo")
        chat = desktop.add_chat(app)
        desktop.add_message(chat, "assistant", "x" * 50_000)

    with DesktopDatabase.open(path, max_value_bytes=10_000) as database, pytest.raises(DesktopDatabaseError) as raised:
        list(database.messages(chat))
    assert str(raised.value) == "The database file holds a value too large to import."


def test_text_that_is_not_utf8_is_read_with_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path) as desktop:
        app = desktop.add_app("Todo")
        chat = desktop.add_chat(app)
        desktop.execute(
            "INSERT INTO messages (chat_id, role, content) VALUES (?, 'user', CAST(X'6869ff21' AS TEXT))", (chat,)
        )
        desktop.execute("INSERT INTO messages (chat_id, role, content) VALUES (?, 'assistant', X'6f6b')", (chat,))

    with DesktopDatabase.open(path) as database:
        assert [m.content for m in database.messages(chat)] == ["hi\ufffd!", "ok"]


def test_the_file_is_never_modified(tmp_path: Path) -> None:
    """Not its bytes, not its times, and nothing (journal, WAL, lock) created next to it, even for
    a file the desktop app left in WAL mode."""
    folder = tmp_path / "upload #1?"  # characters a file: URI must escape
    folder.mkdir()
    path = folder / "sqlite.db"
    with DesktopDbBuilder(path, journal_mode="wal") as desktop:
        populate(desktop)
        desktop.add_prompt("Refactor", "Refactor it")
        desktop.add_mcp_server("files", command="npx")
    before = (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder)))

    with DesktopDatabase.open(path) as database:
        apps = database.apps()
        for app in apps:
            for chat in database.chats(app.id):
                list(database.messages(chat.id))
        everything_else = [database.prompts(), database.themes(), database.providers(), database.models()]
        everything_else += [database.warnings(), database.migration_count(), database.skipped_message_count()]
        assert sorted(os.listdir(folder)) == ["sqlite.db"]

    assert [app.name for app in apps] == ["Todo", "Blog"]
    assert (path.read_bytes(), os.stat(path).st_mtime_ns, sorted(os.listdir(folder))) == before
