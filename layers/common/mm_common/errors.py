"""The one error shape of the API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error a client should see, with its HTTP status and a stable snake_case code."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details
        self.headers = headers or {}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class InvalidBody(ApiError):
    """The body is not JSON the API can read (malformed, not UTF-8, or not sent as JSON)."""

    status, code = 400, "invalid_body"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class PaymentRequired(ApiError):
    """A limit of the organization's subscription tier (``plan_limit_reached``)."""

    status, code = 402, "plan_limit_reached"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Gone(ApiError):
    status, code = 410, "gone"


class PreconditionFailed(ApiError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "validation_failed"


class TooManyRequests(ApiError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(ApiError):
    status, code = 503, "service_unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


# Status codes the framework itself raises (unknown path, wrong method, ...) mapped to codes.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


# What each error status means, for the API's documentation (every error response of the OpenAPI
# document says this, and answers the error shape).
STATUS_DESCRIPTIONS: dict[int, str] = {
    400: (
        "invalid_body: the body is not JSON this API can read (malformed, not UTF-8, or sent without "
        "Content-Type: application/json). Nothing was changed."
    ),
    401: (
        "unauthorized: no valid access token: it is missing, expired, or its sign-in was ended "
        "(session_revoked). Sign in again or refresh the token."
    ),
    402: (
        "plan_limit_reached: the organization's subscription tier does not allow more of this; details "
        "say the limit ({limit}). Upgrade the plan, or free one up. Nothing was changed."
    ),
    403: "forbidden: you are signed in, but your role or permissions do not allow this. Nothing was changed.",
    404: (
        "not_found: there is no such resource, or it belongs to an organization you cannot see "
        "(other organizations' resources answer 404, never 403)."
    ),
    409: "conflict: this conflicts with what exists now (a name, address or state already taken). Nothing was changed.",
    410: "gone: it existed, but is no longer available (an expired, used or withdrawn link or item).",
    412: (
        "precondition_failed: If-Match names a version that is no longer current: it changed since you "
        "read it. Read it again, then retry. Nothing was changed."
    ),
    413: "payload_too_large: the content is over this API's size limit. Nothing was changed.",
    422: (
        "validation_failed: a parameter or body field is missing, malformed or out of range; "
        "details lists each one ({field, in, message, type}). Nothing was changed."
    ),
    429: (
        "rate_limited: too many requests (the per-user API limit, or this action's own limit). "
        "Retry after the seconds in the Retry-After header."
    ),
    500: (
        "internal_error: something went wrong on our side, not in the request. Retry later; quote the "
        "X-Correlation-Id header when reporting it."
    ),
    503: "service_unavailable: a service this needs is unavailable right now. Retry later.",
}

# The error shape as JSON Schema, for the OpenAPI document (components ErrorBody and ApiError).
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ErrorBody": {
        "title": "ErrorBody",
        "description": 'Every error answers {"error": {"code", "message", "details"}}.',
        "type": "object",
        "properties": {"error": {"$ref": "#/components/schemas/ApiError"}},
        "required": ["error"],
    },
    "ApiError": {
        "title": "ApiError",
        "type": "object",
        "properties": {
            "code": {
                "type": "string",
                "description": "Stable snake_case code for programs (validation_failed, not_found, conflict, ...).",
            },
            "message": {"type": "string", "description": "What went wrong and what to do, for a person."},
            "details": {
                "description": (
                    "More about this error, or null. For validation_failed: a list of "
                    "{field, in, message, type}, one per refused input."
                )
            },
        },
        "required": ["code", "message", "details"],
    },
}
