"""Postgres for the local stack and the tests: embedded by default, DATABASE_URL when set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@dataclass
class Postgres:
    server_url: str  # the maintenance database of the server
    server: Any = None  # the embedded server, when we started one

    def database_url(self, name: str) -> str:
        params = conninfo_to_dict(self.server_url)
        params["dbname"] = name
        return make_conninfo("", **params)

    def ensure_database(self, name: str, *, recreate: bool = False) -> str:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists and recreate:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(psycopg.sql.SQL("DROP DATABASE {}").format(psycopg.sql.Identifier(name)))
                exists = None
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.database_url(name)


def start_postgres(data_dir: Path) -> Postgres:
    """Use DATABASE_URL's server when set; otherwise start (or reuse) an embedded one."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return Postgres(server_url=url)
    import pgserver  # embedded PostgreSQL 16 from PyPI: no system install needed

    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    return Postgres(server_url=server.get_uri(), server=server)


def split_for_template(database_url: str) -> dict[str, str]:
    """Host, port and database name as the template's Db* parameters want them."""
    params = conninfo_to_dict(database_url)
    return {
        "DbHost": str(params.get("host") or "127.0.0.1"),
        "DbPort": str(params.get("port") or 5432),
        "DbName": str(params.get("dbname") or "postgres"),
        "DbSslMode": str(params.get("sslmode") or "prefer"),
    }


def credentials_secret(database_url: str) -> dict[str, str]:
    params = conninfo_to_dict(database_url)
    return {
        "username": str(params.get("user") or os.environ.get("PGUSER") or "postgres"),
        "password": str(params.get("password") or ""),
        "dbname": str(params.get("dbname") or "postgres"),
    }
