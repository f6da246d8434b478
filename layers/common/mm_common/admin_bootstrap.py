"""Creates the first global admin: a verified account with role 'admin', if absent."""

from __future__ import annotations

from mm_common import db
from mm_common.identity import email_problem, normalize_email, password_problem
from mm_common.passwords import hash_password


def ensure_admin(email: str, password: str, full_name: str = "Administrator") -> bool:
    """Create the admin unless a user with that e-mail exists; return True when created."""
    email = normalize_email(email)
    problem = email_problem(email) or password_problem(password)
    if problem:
        raise ValueError(problem)
    with db.transaction() as conn:
        row = conn.execute(
            """
            INSERT INTO users (email, password_hash, full_name, role, email_verified)
            VALUES (%s, %s, %s, 'admin', TRUE)
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            (email, hash_password(password), full_name),
        ).fetchone()
    return row is not None
