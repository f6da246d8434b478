"""A deployed project's Easypanel services, as the deploys recorded them on the project: clients configured from
the settings, and stop / start / destroy / custom domains for the deploy API's lifecycle routes and for the
clean-up of a deleted project.

Every operation looks before it acts, so repeating it (a retried request, a redelivered message) does nothing
twice: stopping a stopped app, destroying a destroyed one and removing a missing domain are no-ops. The
organization's Easypanel project is shared by its projects and is never destroyed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mm_common.config import Settings, easypanel_token, gitea_token
from mm_common.deploy.errors import PermanentError

if TYPE_CHECKING:  # the clients (and httpx) load on first use: the deploy API's cold start does not pay for them
    from mm_common.deploy.easypanel import DatabaseKind, Domain, EasypanelClient
    from mm_common.deploy.gitea import GiteaClient

DATABASE_KINDS = ("postgres", "mariadb")
DEFAULT_APP_PORT = 80


def easypanel(settings: Settings) -> EasypanelClient:
    """A client of the configured panel (API token, else e-mail and password); PermanentError when none is."""
    from mm_common.deploy.easypanel import EasypanelClient

    if not settings.easypanel_url:
        raise PermanentError("EASYPANEL_URL is not set: nowhere to deploy", service="easypanel")
    return EasypanelClient(
        settings.easypanel_url,
        token=easypanel_token(settings) or None,
        email=settings.easypanel_email or None,
        password=settings.easypanel_password or None,
    )


def gitea(settings: Settings) -> GiteaClient:
    """A client of the configured Gitea; PermanentError when none is."""
    from mm_common.deploy.gitea import GiteaClient

    if not settings.gitea_url:
        raise PermanentError("GITEA_URL is not set: nothing to deploy from", service="gitea")
    return GiteaClient(settings.gitea_url, gitea_token(settings))


@dataclass(frozen=True)
class ProjectServices:
    """The names a project's deploys recorded: the organization's Easypanel project, the app, the database."""

    project: str
    app: str
    database: str | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> ProjectServices | None:
        """From a project row (``easypanel_project_id``, ``easypanel_app_id``, ``easypanel_database_id``);
        None when no app was ever recorded."""
        if not row.get("easypanel_project_id") or not row.get("easypanel_app_id"):
            return None
        return cls(str(row["easypanel_project_id"]), str(row["easypanel_app_id"]), row.get("easypanel_database_id"))

    def as_json(self) -> dict[str, str | None]:
        return {"project": self.project, "app": self.app, "database": self.database}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectServices:
        database = data.get("database")
        return cls(str(data["project"]), str(data["app"]), str(database) if database else None)


def _existing(panel: EasypanelClient, services: ProjectServices) -> tuple[bool, DatabaseKind | None]:
    """Whether the app exists, and the database's kind when it exists (one listing of the panel)."""
    listing = panel.list_projects_and_services()
    app = listing.service(services.project, services.app)
    database = listing.service(services.project, services.database) if services.database else None
    kind = cast("DatabaseKind", database.type) if database is not None and database.type in DATABASE_KINDS else None
    return app is not None and app.type == "app", kind


def stop(panel: EasypanelClient, services: ProjectServices) -> None:
    """The app stops answering; its database is disabled (data kept)."""
    app, kind = _existing(panel, services)
    if app:
        panel.stop_app(services.project, services.app)
    if kind is not None and services.database:
        panel.disable_database(kind, services.project, services.database)


def start(panel: EasypanelClient, services: ProjectServices) -> None:
    """The database first (the app connects to it on start), then the app."""
    app, kind = _existing(panel, services)
    if kind is not None and services.database:
        panel.enable_database(kind, services.project, services.database)
    if app:
        panel.start_app(services.project, services.app)


def destroy(panel: EasypanelClient, services: ProjectServices) -> list[str]:
    """The app and the database are destroyed (their data with them); the names of what existed."""
    app, kind = _existing(panel, services)
    destroyed: list[str] = []
    if app:
        panel.destroy_app(services.project, services.app)
        destroyed.append(services.app)
    if kind is not None and services.database:
        panel.destroy_database(kind, services.project, services.database)
        destroyed.append(services.database)
    return destroyed


def _domain(panel: EasypanelClient, services: ProjectServices, host: str) -> Domain | None:
    wanted = host.lower()
    return next((d for d in panel.list_domains(services.project, services.app) if d.host.lower() == wanted), None)


def app_port(panel: EasypanelClient, services: ProjectServices, default_host: str) -> int:
    """The port the app listens on, as its default domain routes to it."""
    domain = _domain(panel, services, default_host)
    return domain.port if domain is not None and domain.port else DEFAULT_APP_PORT


def add_domain(panel: EasypanelClient, services: ProjectServices, *, host: str, port: int) -> None:
    """The app also answers at ``host`` (HTTPS; the panel gets its certificate once DNS points there)."""
    panel.ensure_domain(services.project, services.app, host=host, port=port, https=True)


def remove_domain(panel: EasypanelClient, services: ProjectServices, host: str) -> None:
    found = _domain(panel, services, host)
    if found is not None:
        panel.delete_domain(found.id)
