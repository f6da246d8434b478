"""Wire models of the auth function: request bodies (RequestModel) and responses (ApiModel)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.identity import email_problem, normalize_email, password_problem
from mm_common.models import ApiModel, RequestModel, UtcDatetime


def _email(value: str) -> str:
    value = normalize_email(value)
    problem = email_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class User(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    avatar_url: str | None
    role: Literal["admin", "co_admin", "user"]
    email_verified: bool
    is_active: bool
    created_at: UtcDatetime
    last_login_at: UtcDatetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls.model_validate({name: row[name] for name in cls.model_fields})


class UserEnvelope(ApiModel):
    user: User


class RegisterBody(RequestModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    full_name: str = Field(min_length=1, max_length=255)

    _check_email = field_validator("email")(_email)
    _check_password = field_validator("password")(_password)

    @field_validator("full_name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Tell us your name.")
        return value


class TokenBody(RequestModel):
    token: str = Field(min_length=1, max_length=512)


class EmailBody(RequestModel):
    email: str = Field(max_length=254)

    _check_email = field_validator("email")(_email)


class LoginBody(RequestModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    remember_me: bool = False
    # Clients that cannot keep an HttpOnly cookie (CLIs, mobile) ask for the refresh token in the body.
    include_refresh_token: bool = False

    @field_validator("email")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalize_email(value)


class RefreshBody(RequestModel):
    refresh_token: str | None = Field(default=None, min_length=1, max_length=512)


class Session(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str | None = None
    user: User


class ResetPasswordBody(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    password: str = Field(max_length=1024)

    _check_password = field_validator("password")(_password)


class ChangePasswordBody(RequestModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(max_length=1024)

    _check_password = field_validator("new_password")(_password)


class UpdateMeBody(RequestModel):
    full_name: str | None = Field(default=None, min_length=1, max_length=255)
    avatar_url: str | None = Field(default=None, max_length=2048)

    @field_validator("avatar_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not value.startswith("https://"):
            raise ValueError("The avatar must be an https:// URL.")
        return value or None


class AdminUpdateUserBody(RequestModel):
    role: Literal["admin", "co_admin", "user"] | None = None
    is_active: bool | None = None


class UserPage(ApiModel):
    items: list[User]
    next_cursor: str | None = None


class Accepted(ApiModel):
    message: str


class ActiveSession(ApiModel):
    """One live sign-in: a browser or device holding a refresh token."""

    id: uuid.UUID = Field(description="The sign-in's current session (DELETE /api/users/me/sessions/{id} ends it).")
    created_at: UtcDatetime = Field(description="When this sign-in began.")
    last_used_at: UtcDatetime = Field(description="When it last refreshed its tokens (else when it began).")
    expires_at: UtcDatetime = Field(description="When it ends unless refreshed again.")
    user_agent: str | None = Field(description="The browser or client of its latest sign-in or refresh.")
    ip_address: str | None = Field(description="The network address of its latest sign-in or refresh.")
    current: bool = Field(description="Whether this is the sign-in of the access token making the request.")


class ActiveSessionList(ApiModel):
    items: list[ActiveSession]
    next_cursor: str | None = None
