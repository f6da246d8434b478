"""Errors every deploy-service client raises, classified so a caller (a state-machine step) knows whether to retry.

`TransientError`: the service may answer next time (timeouts, connection errors, 429, 5xx, a service's own
"try again"). `PermanentError`: retrying the same request cannot help (other 4xx, a refused input).
Messages never contain secrets (tokens, passwords, Authorization headers); they name the service, the
operation and the status, plus the service's own error text, cut short.
"""

from __future__ import annotations

MAX_DETAIL_CHARS = 500


class DeployServiceError(Exception):
    """A call to a deploy service (Gitea, Easypanel) failed.

    `service` names the service ("gitea", "easypanel"); `status` is the HTTP status when there was an answer
    (None for timeouts and connection errors); `detail` is the service's own error text, cut short.
    """

    def __init__(self, message: str, *, service: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.service = service
        self.status = status
        self.detail = detail[:MAX_DETAIL_CHARS]


class TransientError(DeployServiceError):
    """Worth retrying with backoff: a timeout, a dropped connection, 429 or 5xx."""


class PermanentError(DeployServiceError):
    """Not worth retrying: the request itself is wrong or not allowed (4xx other than 429)."""


def is_transient_status(status: int) -> bool:
    """429 and every 5xx may succeed on a retry; every other failure status will not."""
    return status == 429 or status >= 500
