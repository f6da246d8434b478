"""Settings read from the environment the template (or the local stack) gives each function."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    # Postgres: either a full URL (operators' CLI, tests) or host/port/name plus the
    # RDS (Proxy) secret holding username and password, as the template wires it.
    database_url: str
    db_host: str
    db_port: int
    db_name: str
    db_secret_arn: str
    db_sslmode: str
    db_statement_timeout_ms: int
    db_connect_timeout_s: int
    app_url: str
    mail_from: str
    snapshots_bucket: str
    jobs_queue_url: str
    kms_key_id: str
    jwt_secret_arn: str
    jwt_secret: str
    rate_limit_login: int
    rate_limit_password_reset: int
    rate_limit_api_per_minute: int
    max_file_bytes: int
    max_project_bytes: int
    project_cleanup_queue_url: str
    blob_gc_grace_hours: int
    # Monthly tokens on the platform's AI keys per subscription tier; None: unlimited.
    token_quotas: dict[str, int | None]


DEFAULT_TOKEN_QUOTAS: dict[str, int | None] = {"free": 10_000, "pro": None, "enterprise": None}


def _token_quotas(raw: str) -> dict[str, int | None]:
    """AI_TOKEN_QUOTAS='{"free": 10000, "pro": 2000000}' overrides the spec's tiers (null: unlimited)."""
    quotas = dict(DEFAULT_TOKEN_QUOTAS)
    if raw.strip():
        for tier, value in json.loads(raw).items():
            quotas[str(tier)] = None if value is None else int(value)
    return quotas


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ.get
    return Settings(
        database_url=env("DATABASE_URL", ""),
        db_host=env("DB_HOST", ""),
        db_port=_int("DB_PORT", 5432),
        db_name=env("DB_NAME", "moreminimore"),
        db_secret_arn=env("DB_SECRET_ARN", ""),
        db_sslmode=env("DB_SSLMODE", "prefer"),
        db_statement_timeout_ms=_int("DB_STATEMENT_TIMEOUT_MS", 5000),
        db_connect_timeout_s=_int("DB_CONNECT_TIMEOUT_S", 5),
        app_url=env("APP_URL", "http://127.0.0.1:8000").rstrip("/"),
        mail_from=env("MAIL_FROM", ""),
        snapshots_bucket=env("SNAPSHOTS_BUCKET", ""),
        jobs_queue_url=env("JOBS_QUEUE_URL", ""),
        kms_key_id=env("KMS_KEY_ID", ""),
        jwt_secret_arn=env("JWT_SECRET_ARN", ""),
        jwt_secret=env("JWT_SECRET", ""),
        rate_limit_login=_int("RATE_LIMIT_LOGIN_PER_15_MIN", 5),
        rate_limit_password_reset=_int("RATE_LIMIT_PASSWORD_RESET_PER_HOUR", 3),
        rate_limit_api_per_minute=_int("RATE_LIMIT_API_PER_MINUTE", 100),
        max_file_bytes=_int("MAX_FILE_BYTES", 5 * 1024 * 1024),
        max_project_bytes=_int("MAX_PROJECT_BYTES", 200 * 1024 * 1024),
        project_cleanup_queue_url=env("PROJECT_CLEANUP_QUEUE_URL", ""),
        blob_gc_grace_hours=_int("BLOB_GC_GRACE_HOURS", 24),
        token_quotas=_token_quotas(env("AI_TOKEN_QUOTAS", "")),
    )
