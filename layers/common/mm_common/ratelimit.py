"""Fixed-window rate limits kept in Postgres (one atomic upsert per hit; no extra server)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from mm_common import db
from mm_common.db import Connection
from mm_common.errors import TooManyRequests


def clock() -> float:
    """Seconds since the epoch; one seam so tests can hold time still inside a window."""
    return time.time()


def hit(bucket: str, *, limit: int, window_s: int, message: str, conn: Connection | None = None) -> None:
    """Count one event in ``bucket``; raise 429 (with Retry-After) once over ``limit``.

    Counted in ``conn``'s transaction when given (the caller's own work), else in one of its own.
    """
    if conn is None:
        with db.transaction() as own:
            hit(bucket, limit=limit, window_s=window_s, message=message, conn=own)
        return
    now = clock()
    window_start = math.floor(now / window_s) * window_s
    row = conn.execute(
        """
            INSERT INTO rate_limits (bucket, window_start, count) VALUES (%s, %s, 1)
            ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1
            RETURNING count
            """,
        (bucket, datetime.fromtimestamp(window_start, UTC)),
    ).fetchone()
    assert row is not None
    if int(row["count"]) > limit:
        retry_after = max(1, math.ceil(window_start + window_s - now))
        raise TooManyRequests(
            message, details={"retryAfterSeconds": retry_after}, headers={"Retry-After": str(retry_after)}
        )
