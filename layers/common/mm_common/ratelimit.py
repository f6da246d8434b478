"""Fixed-window rate limits kept in Postgres (one atomic upsert per hit; no extra server).

A hit counts first and refuses once over the limit, so concurrent attempts cannot slip past a
check-then-count gap. Limits on failures (sign-in) count every attempt before its outcome is
known and take back the ones that turned out fine (:func:`uncount`, :func:`clear`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from mm_common import db
from mm_common.db import Connection
from mm_common.errors import TooManyRequests


def clock() -> float:
    """Seconds since the epoch; one seam so tests can hold time still inside a window."""
    return time.time()


@dataclass(frozen=True)
class Counted:
    """One event counted in a bucket's window (what :func:`uncount` takes back)."""

    bucket: str
    window_start: datetime
    count: int


def hit(bucket: str, *, limit: int, window_s: int, message: str, conn: Connection | None = None) -> Counted:
    """Count one event in ``bucket``; raise 429 (with Retry-After) once over ``limit``.

    Counted in ``conn``'s transaction when given (the caller's own work), else in one of its own.
    A refused hit raises inside that transaction, so (rolled back) it does not count.
    """
    if conn is None:
        with db.transaction() as own:
            return hit(bucket, limit=limit, window_s=window_s, message=message, conn=own)
    now = clock()
    window_start = math.floor(now / window_s) * window_s
    started = datetime.fromtimestamp(window_start, UTC)
    row = conn.execute(
        """
            INSERT INTO rate_limits (bucket, window_start, count) VALUES (%s, %s, 1)
            ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1
            RETURNING count
            """,
        (bucket, started),
    ).fetchone()
    assert row is not None
    count = int(row["count"])
    if count > limit:
        retry_after = max(1, math.ceil(window_start + window_s - now))
        raise TooManyRequests(
            message, details={"retryAfterSeconds": retry_after}, headers={"Retry-After": str(retry_after)}
        )
    return Counted(bucket, started, count)


def uncount(conn: Connection, counted: Counted) -> None:
    """Take back one counted event (in the window it was counted in, even if that has passed)."""
    conn.execute(
        "UPDATE rate_limits SET count = count - 1 WHERE bucket = %s AND window_start = %s AND count > 0",
        (counted.bucket, counted.window_start),
    )


def clear(conn: Connection, bucket: str) -> None:
    """Forget every event counted in ``bucket``, in every window."""
    conn.execute("DELETE FROM rate_limits WHERE bucket = %s", (bucket,))
