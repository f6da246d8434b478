"""Creates the first global admin: a verified account with role 'admin', if absent."""

from __future__ import annotations

from mm_common import db
from mm_common.passwords import hash_password


def normalize_email(email: str) -> str:
    return email.strip().lower()


def ensure_admin(email: str, password: str, full_name: str = "Administrator") -> bool:
    """Create the admin unless a user with that e-mail exists; return True when created."""
    email = normalize_email(email)
    if "@" not in email:
        raise ValueError("the admin e-mail address is not valid")
    if len(password) < 10:
        raise ValueError("the admin password must have at least 10 characters")
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
