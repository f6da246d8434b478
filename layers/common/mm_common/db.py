"""Postgres access: one connection per execution environment, healed when it drops.

A Lambda environment runs one invocation at a time, so a pool buys nothing there; RDS Proxy
pools across environments. The connection lives in a slot that is process-wide by default, so
FastAPI's worker threads (sync dependencies and endpoints run there) share it. A host that runs
several invocations at once in one process (the local stack) binds a slot per environment with
:func:`bind_connection_slot`; context variables carry it into those worker threads.

RDS Proxy rules shape the details: no startup ``options`` (the proxy rejects them), no named
prepared statements (``prepare_threshold=None``) and no session-level SET (both pin the
client to one backend). The statement timeout is therefore set per transaction with
``set_config(..., is_local => true)``.

psycopg is imported by the first connection, not with this module: importing it (and libpq)
costs a cold start about 0.1 s, and a function's import phase makes no query. At run time
:data:`Connection` is therefore only a name for annotations.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from mm_common.config import get_settings

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow
    from psycopg.types.json import Jsonb

    Connection: TypeAlias = psycopg.Connection[DictRow]
else:
    # Annotations only (modules use ``from __future__ import annotations``); resolving it would
    # mean importing psycopg.
    Connection = "psycopg.Connection[DictRow]"


@dataclass
class ConnectionSlot:
    conn: Connection | None = None


_PROCESS_SLOT = ConnectionSlot()
_slot: ContextVar[ConnectionSlot] = ContextVar("mm_db_connection_slot", default=_PROCESS_SLOT)


def bind_connection_slot(slot: ConnectionSlot) -> Token[ConnectionSlot]:
    """Use ``slot``'s connection in this context (and the threads it starts) from now on."""
    return _slot.set(slot)


def unbind_connection_slot(token: Token[ConnectionSlot]) -> None:
    _slot.reset(token)


def conninfo() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    if not (settings.db_host and settings.db_secret_arn):
        raise RuntimeError("Set DATABASE_URL, or DB_HOST and DB_SECRET_ARN, to reach Postgres")
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    secret: Any = parameters.get_secret(settings.db_secret_arn, transform="json", max_age=300)
    return make_conninfo(
        host=settings.db_host,
        port=settings.db_port,
        dbname=secret.get("dbname") or settings.db_name,
        user=secret["username"],
        password=secret["password"],
        sslmode=settings.db_sslmode,
    )


def connect(*, autocommit: bool = True) -> Connection:
    import psycopg
    from psycopg.rows import dict_row

    settings = get_settings()
    return psycopg.connect(
        conninfo(),
        autocommit=autocommit,
        prepare_threshold=None,
        row_factory=dict_row,
        connect_timeout=settings.db_connect_timeout_s,
        application_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "moreminimore")[:63],
    )


def _cached_connection() -> Connection:
    slot = _slot.get()
    if slot.conn is None or slot.conn.closed or slot.conn.broken:
        slot.conn = connect()
    return slot.conn


def discard_connection() -> None:
    """Forget this environment's connection (closing it); the next use reconnects."""
    slot = _slot.get()
    conn, slot.conn = slot.conn, None
    if conn is not None and not conn.closed:
        import psycopg

        with suppress(psycopg.Error):
            conn.close()


def _begin(stack: ExitStack) -> Connection:
    conn = _cached_connection()
    stack.enter_context(conn.transaction())
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true)",
        (str(get_settings().db_statement_timeout_ms),),
    )
    return conn


@contextmanager
def transaction() -> Iterator[Connection]:
    """Run a block in one transaction; commit on success, roll back on any exception.

    The first statement doubles as a liveness check: when the cached connection turns out
    to be dead (proxy idle timeout, failover, a terminated backend), nothing has been done
    in the transaction yet, so it is safe to reconnect and begin again once.
    """
    import psycopg

    with ExitStack() as stack:
        try:
            conn = _begin(stack)
        except psycopg.OperationalError:
            stack.pop_all()  # the dead transaction ends with its connection
            discard_connection()
            conn = _begin(stack)
        yield conn


def fetch_one(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> DictRow | None:
    with transaction() as conn:
        return conn.execute(sql, params).fetchone()  # type: ignore[arg-type]


def fetch_all(sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[DictRow]:
    with transaction() as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def update_row(
    conn: Connection, table: str, changes: Mapping[str, Any], key: Mapping[str, Any], *, returning: str
) -> DictRow | None:
    """``UPDATE table SET <changes> WHERE <key> RETURNING <returning>``: the partial update every
    PATCH makes. Table and column names are quoted identifiers (they come from our models, never
    from input); with no changes the row is only read. None when no row matches the key."""
    from psycopg import sql

    where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(column)) for column in key)
    if changes:
        assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes)
        query = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
            sql.Identifier(table),
            assignments,
            where,
            sql.SQL(returning),  # type: ignore[arg-type]
        )
    else:
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(returning),  # type: ignore[arg-type]
            sql.Identifier(table),
            where,
        )
    return conn.execute(query, (*changes.values(), *key.values())).fetchone()


def jsonb(value: Any) -> Jsonb:
    """``value`` as a jsonb query parameter (psycopg's ``Jsonb``, imported when first used)."""
    from psycopg.types.json import Jsonb

    return Jsonb(value)


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching ``text`` anywhere, with LIKE's wildcards in it taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
