"""Access tokens (JWT, HS256, 15 minutes) and opaque single-use secrets (refresh, e-mail links).

PyJWT is imported by the first token issued or read, not with this module: it brings in
``cryptography``, which costs a cold start several hundredths of a second.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

from mm_common.config import get_settings
from mm_common.errors import Unauthorized

ALGORITHM = "HS256"
ACCESS_TOKEN_TTL_S = 15 * 60
ISSUER = "moreminimore"


def signing_key() -> str:
    settings = get_settings()
    if settings.jwt_secret:
        return settings.jwt_secret
    if not settings.jwt_secret_arn:
        raise RuntimeError("Set JWT_SECRET_ARN (or JWT_SECRET) to sign access tokens")
    from aws_lambda_powertools.utilities import parameters

    # Cached per execution environment; a rotated key is picked up within five minutes.
    return str(parameters.get_secret(settings.jwt_secret_arn, max_age=300))


def issue_access_token(
    *,
    user_id: str,
    email: str,
    role: str,
    token_version: int,
    organization_id: str | None,
    session_id: str,
) -> tuple[str, int]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": user_id,
        "userId": user_id,
        "email": email,
        "role": role,
        "tv": token_version,
        "iat": now,
        "exp": now + ACCESS_TOKEN_TTL_S,
        "jti": str(uuid.uuid4()),
    }
    if organization_id:
        claims["organizationId"] = organization_id
    claims["sid"] = session_id  # the refresh session this token came from: logout ends the token too
    import jwt

    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), ACCESS_TOKEN_TTL_S


def decode_access_token(token: str) -> dict[str, Any]:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],  # never the token's own choice: no "none", no RS/HS confusion
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "tv", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Your session has expired. Sign in again.", code="token_expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    try:
        uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("The access token is not valid.", code="invalid_token") from None
    return claims


def new_secret() -> str:
    """A random, URL-safe secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # Secrets are high-entropy random values, so a fast hash is enough to make a stolen table
    # useless; they are looked up by this hash.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
