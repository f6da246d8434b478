"""Settings read from the environment the template (or the local stack) gives each function."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    # Failed sign-ins per e-mail, and per address (higher: offices share one address).
    rate_limit_login: int
    rate_limit_login_per_ip: int
    # Reset e-mails per e-mail address, and per client address.
    rate_limit_password_reset: int
    rate_limit_password_reset_per_ip: int
    rate_limit_api_per_minute: int
    max_file_bytes: int
    max_project_bytes: int
    project_cleanup_queue_url: str
    blob_gc_grace_hours: int
    # The only names a provider may use for the platform's key (never any other variable).
    ai_platform_key_names: frozenset[str]
    # Provider base URLs on private or loopback addresses (a local model server); link-local
    # and cloud metadata addresses are refused whatever this says.
    ai_allow_private_networks: bool
    # Gitea (every version backed up to a repository of gitea_owner): the server's root, and its
    # token from Secrets Manager (gitea_token_secret_arn) or, for tools, the environment.
    gitea_url: str
    gitea_token_secret_arn: str
    gitea_token: str
    gitea_owner: str
    # Easypanel (deploys): the panel's root; an API token (secret or environment), or an e-mail
    # and password the client logs in with.
    easypanel_url: str
    easypanel_token_secret_arn: str
    easypanel_token: str
    easypanel_email: str
    easypanel_password: str
    # Deployed apps get the host <service>.<apps_domain>, and the address deployed_app_url with {host}
    # replaced by it (https://{host} behind Easypanel's proxy); the health check probes
    # app_healthcheck_url, {host} replaced the same way.
    apps_domain: str
    deployed_app_url: str
    app_healthcheck_url: str
    gitea_mirror_queue_url: str
    # Live preview: every new version is queued for a build when the queue and the preview domain are set. A
    # build's site is at preview_site_url with {label} its label and {domain} the preview domain
    # (https://{label}.{domain}); the worker writes sites to the previews bucket under sites/<label>/ and
    # archived node_modules under deps/.
    preview_builds_queue_url: str
    preview_domain: str
    preview_site_url: str
    previews_bucket: str
    # Imports from the desktop app: uploads go straight to the imports bucket (presigned POSTs at
    # import_upload_endpoint when set: the local stack's same-origin path to its S3; S3's own address
    # otherwise), the imports queue carries analyses and imports to the worker; size limits per file.
    imports_bucket: str
    imports_queue_url: str
    import_upload_endpoint: str
    import_max_database_bytes: int
    import_max_archive_bytes: int
    # The deploy state machine an accepted deployment starts an execution of.
    deploy_state_machine_arn: str
    # Billing: days a past_due subscription keeps its tier; trial days Checkout offers (0: none).
    billing_grace_days: int
    billing_trial_days: int
    # Stripe: the secret key and the webhook signing secret (Secrets Manager, or the value for tools and the
    # local stack), the API's base address (an emulator locally), and the prices' lookup keys per tier and
    # interval ({"pro": {"month": "pro_monthly", "year": "pro_yearly"}}).
    stripe_secret_key_secret_arn: str
    stripe_secret_key: str
    stripe_webhook_secret_arn: str
    stripe_webhook_secret: str
    stripe_api_base: str
    stripe_price_lookup_keys: dict[str, dict[str, str]]


DEFAULT_HEALTHCHECK_URL = "https://{host}/"
DEFAULT_DEPLOYED_APP_URL = "https://{host}"
DEFAULT_PREVIEW_SITE_URL = "https://{label}.{domain}"
DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"
DEFAULT_PRICE_LOOKUP_KEYS = {"pro": {"month": "pro_monthly", "year": "pro_yearly"}}


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


DEFAULT_PLATFORM_KEY_NAMES = "OPENAI_API_KEY,ANTHROPIC_API_KEY,GOOGLE_API_KEY,OPENROUTER_API_KEY"


def _names(raw: str) -> frozenset[str]:
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def _lookup_keys(raw: str) -> dict[str, dict[str, str]]:
    """STRIPE_PRICE_LOOKUP_KEYS='{"pro": {"month": "pro_monthly", "year": "pro_yearly"}}' (tier → interval → key)."""
    if not raw.strip():
        return {tier: dict(keys) for tier, keys in DEFAULT_PRICE_LOOKUP_KEYS.items()}
    parsed = json.loads(raw)
    return {str(tier): {str(interval): str(key) for interval, key in keys.items()} for tier, keys in parsed.items()}


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
        rate_limit_login_per_ip=_int("RATE_LIMIT_LOGIN_PER_IP_PER_15_MIN", 50),
        rate_limit_password_reset=_int("RATE_LIMIT_PASSWORD_RESET_PER_HOUR", 3),
        rate_limit_password_reset_per_ip=_int("RATE_LIMIT_PASSWORD_RESET_PER_IP_PER_HOUR", 30),
        rate_limit_api_per_minute=_int("RATE_LIMIT_API_PER_MINUTE", 100),
        max_file_bytes=_int("MAX_FILE_BYTES", 5 * 1024 * 1024),
        max_project_bytes=_int("MAX_PROJECT_BYTES", 200 * 1024 * 1024),
        project_cleanup_queue_url=env("PROJECT_CLEANUP_QUEUE_URL", ""),
        blob_gc_grace_hours=_int("BLOB_GC_GRACE_HOURS", 24),
        ai_platform_key_names=_names(env("AI_PLATFORM_KEY_NAMES", DEFAULT_PLATFORM_KEY_NAMES)),
        ai_allow_private_networks=_bool("AI_ALLOW_PRIVATE_NETWORKS", False),
        gitea_url=env("GITEA_URL", "").rstrip("/"),
        gitea_token_secret_arn=env("GITEA_TOKEN_SECRET_ARN", ""),
        gitea_token=env("GITEA_TOKEN", ""),
        gitea_owner=env("GITEA_OWNER", "") or "moreminimore",
        easypanel_url=env("EASYPANEL_URL", "").rstrip("/"),
        easypanel_token_secret_arn=env("EASYPANEL_TOKEN_SECRET_ARN", ""),
        easypanel_token=env("EASYPANEL_TOKEN", ""),
        easypanel_email=env("EASYPANEL_EMAIL", ""),
        easypanel_password=env("EASYPANEL_PASSWORD", ""),
        apps_domain=env("APPS_DOMAIN", "").strip().strip(".").lower(),
        deployed_app_url=env("DEPLOYED_APP_URL", "") or DEFAULT_DEPLOYED_APP_URL,
        app_healthcheck_url=env("APP_HEALTHCHECK_URL", "") or DEFAULT_HEALTHCHECK_URL,
        gitea_mirror_queue_url=env("GITEA_MIRROR_QUEUE_URL", ""),
        preview_builds_queue_url=env("PREVIEW_BUILDS_QUEUE_URL", ""),
        preview_domain=env("PREVIEW_DOMAIN", "").strip().strip(".").lower(),
        preview_site_url=env("PREVIEW_SITE_URL", "").rstrip("/") or DEFAULT_PREVIEW_SITE_URL,
        previews_bucket=env("PREVIEWS_BUCKET", ""),
        imports_bucket=env("IMPORTS_BUCKET", ""),
        imports_queue_url=env("IMPORTS_QUEUE_URL", ""),
        import_upload_endpoint=env("IMPORT_UPLOAD_ENDPOINT", "").rstrip("/"),
        import_max_database_bytes=_int("IMPORT_MAX_DATABASE_BYTES", 256 * 1024 * 1024),
        import_max_archive_bytes=_int("IMPORT_MAX_ARCHIVE_BYTES", 500 * 1024 * 1024),
        deploy_state_machine_arn=env("DEPLOY_STATE_MACHINE_ARN", ""),
        billing_grace_days=_int("BILLING_GRACE_DAYS", 7),
        billing_trial_days=_int("BILLING_TRIAL_DAYS", 0),
        stripe_secret_key_secret_arn=env("STRIPE_SECRET_KEY_SECRET_ARN", ""),
        stripe_secret_key=env("STRIPE_SECRET_KEY", ""),
        stripe_webhook_secret_arn=env("STRIPE_WEBHOOK_SECRET_ARN", ""),
        stripe_webhook_secret=env("STRIPE_WEBHOOK_SECRET", ""),
        stripe_api_base=env("STRIPE_API_BASE", "").rstrip("/") or DEFAULT_STRIPE_API_BASE,
        stripe_price_lookup_keys=_lookup_keys(env("STRIPE_PRICE_LOOKUP_KEYS", "")),
    )


def secret_or_value(secret_arn: str, value: str) -> str:
    """A credential kept in Secrets Manager (the secret's string, cached for five minutes) when
    ``secret_arn`` is set, else ``value`` (a tool's environment); "" when neither is."""
    if not secret_arn:
        return value
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(secret_arn, max_age=300))


def gitea_token(settings: Settings) -> str:
    return secret_or_value(settings.gitea_token_secret_arn, settings.gitea_token)


def easypanel_token(settings: Settings) -> str:
    return secret_or_value(settings.easypanel_token_secret_arn, settings.easypanel_token)


_IMPORTING_FOR_TOOLS: ContextVar[bool] = ContextVar("importing_for_tools", default=False)


@contextmanager
def importing_for_tools() -> Iterator[None]:
    """Import functions' apps to read what they declare (routes, the OpenAPI document), not to
    serve requests: :func:`require_settings` lets a missing setting pass meanwhile, because tools
    (``mmctl openapi``, the route index, tests reading routes) have no function's environment."""
    token = _IMPORTING_FOR_TOOLS.set(True)
    try:
        yield
    finally:
        _IMPORTING_FOR_TOOLS.reset(token)


def require_settings(*names: str) -> Settings:
    """Fail at cold start, with a clear message, when a function lacks a resource it needs
    (a bucket, a queue, a key): not at the first request that happens to use it.

    Call it at import in the function's app.py (the settings are read once and cached)."""
    settings = get_settings()
    unknown = [name for name in names if not hasattr(settings, name)]
    if unknown:
        raise AttributeError(f"no setting named {', '.join(unknown)} in mm_common.config.Settings")
    missing = [name for name in names if not getattr(settings, name)]
    if missing and not _IMPORTING_FOR_TOOLS.get():
        variables = ", ".join(name.upper() for name in missing)
        raise RuntimeError(f"This function needs {variables} set in its environment (see infra/template.yaml)")
    return settings


def stripe_secret_key(settings: Settings) -> str:
    return secret_or_value(settings.stripe_secret_key_secret_arn, settings.stripe_secret_key)


def stripe_webhook_secret(settings: Settings) -> str:
    return secret_or_value(settings.stripe_webhook_secret_arn, settings.stripe_webhook_secret)
