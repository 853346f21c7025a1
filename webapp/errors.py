"""One error shape for the JSON API; friendly pages for people. Never a 500 for bad input."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from billing.errors import AlreadyDone, GatewayError, GatewayUnavailable, NotAllowed
from webapp.validation import N_

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}

# PostgreSQL SQLSTATEs of a transaction that lost a race and may simply run again.
_TRANSIENT_SQLSTATES = {
    "40P01": "deadlock",  # deadlock_detected
    "40001": "serialization_failure",  # serialization_failure
    "55P03": "lock_timeout",  # lock_not_available (lock_timeout, NOWAIT)
}
RETRY_AFTER_SECONDS = 1


def transient_db_error(exc: BaseException) -> str | None:
    """`deadlock`, `serialization_failure` or `lock_timeout` if the database error is one.

    These say nothing about the request: the same transaction run again (or
    the client's retry) can succeed. Anything else — a constraint, a syntax
    error, a lost connection — is `None`. SQLite's "database is locked"
    (busy timeout spent) counts as a lock timeout.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)  # psycopg 3
    if state in _TRANSIENT_SQLSTATES:
        return _TRANSIENT_SQLSTATES[state]
    name = getattr(orig, "sqlite_errorname", None) or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "lock_timeout"
    return None


# Database errors that say the request's data does not fit, not that the code is
# wrong: SQLSTATE (PostgreSQL) or SQLite error name → (status, message). A
# not-null, foreign-key or check violation is a bug (the schemas should have
# refused the input) and stays a 500.
_INPUT_SQLSTATES = {
    "23505": (409, "This conflicts with data that already exists."),  # unique_violation
    "22001": (422, "A value is too long."),  # string_data_right_truncation
    "22003": (422, "A number is out of range."),  # numeric_value_out_of_range
    "22008": (422, "A date or time is out of range."),  # datetime_field_overflow
    "22021": (422, "A text contains a character that cannot be stored."),  # NUL, bad encoding
    "22P05": (422, "A text contains a character that cannot be stored."),
}
_INPUT_SQLITE_ERRORS = {
    "SQLITE_CONSTRAINT_UNIQUE": _INPUT_SQLSTATES["23505"],
    "SQLITE_CONSTRAINT_PRIMARYKEY": _INPUT_SQLSTATES["23505"],
    "SQLITE_TOOBIG": _INPUT_SQLSTATES["22001"],
}
# sqlite3 refuses an int beyond 64 bits before SQLite sees it (not a DBAPIError).
SQLITE_INT_OVERFLOW = "Python int too large to convert to SQLite INTEGER"


def input_db_error(exc: BaseException) -> tuple[int, str] | None:
    """(409 or 422, message) when the database refused the request's data, else None."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    if state in _INPUT_SQLSTATES:
        return _INPUT_SQLSTATES[state]
    name = getattr(orig, "sqlite_errorname", None) or ""
    if name in _INPUT_SQLITE_ERRORS:
        return _INPUT_SQLITE_ERRORS[name]
    if isinstance(orig, OverflowError) and SQLITE_INT_OVERFLOW in str(orig):
        return _INPUT_SQLSTATES["22003"]
    return None


class ApiError(Exception):
    """An error the API answers with `{"error": {code, message, fields}}`.

    `extra` adds top-level members beside `error` (what the client needs to
    carry on, e.g. the booking a failed card setup left pending); `headers`
    are added to the response (e.g. Retry-After).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}
        self.headers = headers or {}


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Response, int]:
    """The contract's error body."""
    body = {
        **(extra or {}),
        "error": {
            "code": code or _CODES.get(status, "error"),
            "message": message,
            "fields": fields or {},
        },
    }
    return jsonify(body), status


def page_message(status: int, exc: HTTPException) -> str:
    """An error page's sentence in the reader's language (werkzeug's own are English)."""
    from flask_babel import gettext

    messages = {
        400: N_("The request could not be understood. Please go back and try again."),
        403: N_("You are not allowed to see this page."),
        404: N_("This page does not exist, or its link is no longer valid."),
        405: N_("This page cannot be used this way."),
        413: N_("The file is too large."),
        429: N_("Too many attempts. Please wait a minute and try again."),
    }
    text = messages.get(status)
    return gettext(text) if text else (exc.description or "")


def wants_json() -> bool:
    """API and webhook paths always answer JSON."""
    return request.path.startswith(("/api/", "/stripe/"))


def flatten_messages(messages: Any) -> dict[str, Any]:
    """marshmallow's messages, with `_schema` renamed for API clients."""
    if isinstance(messages, dict):
        return {("_schema" if k == "_schema" else str(k)): v for k, v in messages.items()}
    return {"_schema": messages}


def _answer(status: int, message: str, code: str):
    """JSON for the API, the error page for people."""
    if wants_json():
        return error_response(status, message, code=code)
    return render_template("error.html", status=status, message=message), status


def _discard() -> None:
    """Nothing half-done survives an error: roll back whatever the view flushed."""
    from webapp.extensions import db

    db.session.rollback()


def register_error_handlers(app: Flask) -> None:
    # Here, not at the top: the due work imports `ApiError` without marshmallow or Flask-WTF.
    from flask_wtf.csrf import CSRFError
    from marshmallow import ValidationError

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        _discard()
        response, status = error_response(
            exc.status, exc.message, code=exc.code, fields=exc.fields, extra=exc.extra
        )
        response.headers.update(exc.headers)
        return response, status

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        _discard()
        return error_response(
            422, "Some fields are invalid.", fields=flatten_messages(exc.messages)
        )

    # The engine's named errors, the same answer for every feature.
    @app.errorhandler(AlreadyDone)
    def _already_done(exc: AlreadyDone):
        _discard()
        return _answer(409, str(exc), "already_done")

    @app.errorhandler(NotAllowed)
    def _not_allowed(exc: NotAllowed):
        _discard()
        return _answer(409, str(exc), "not_allowed")

    @app.errorhandler(GatewayUnavailable)
    def _gateway_unavailable(exc: GatewayUnavailable):
        _discard()
        return _answer(503, "The payment service did not answer; try again.", "payment_unavailable")

    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError):
        _discard()
        return _answer(502, f"The payment provider refused: {exc}", "payment_error")

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if wants_json():
            return error_response(400, exc.description, code="csrf_failed")
        return render_template("error.html", status=400, message=exc.description), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        # The exception's own headers (a 405's `Allow`, RFC 9110 15.5.6).
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        if wants_json():
            response, status = error_response(status, exc.description or exc.name)
            response.headers.update(headers)
            if status == 429 and "Retry-After" not in response.headers:
                response.headers["Retry-After"] = "60"
            return response, status
        page = render_template("error.html", status=status, message=page_message(status, exc))
        return page, status, headers

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        _discard()
        from webapp.security import describe_request

        # Never the path: client links carry their token in it.
        log.exception("unhandled error on %s", describe_request())
        if wants_json():
            return error_response(500, "Something went wrong on our side.")
        return render_template(
            "error.html", status=500, message="Something went wrong on our side."
        ), 500

    @app.errorhandler(OverflowError)
    def _overflow(exc: OverflowError):
        # An integer beyond 64 bits bound to a SQLite statement: the input's fault.
        refused = input_db_error(exc)
        if refused is None:
            return _unexpected(exc)
        _discard()
        log.warning("integer out of range on %s %s", request.method, request.endpoint)
        return _answer(*refused, _CODES[refused[0]])

    # A transaction that lost a race (deadlock, serialization failure, lock
    # timeout) anywhere: nothing was kept, and the same request can succeed
    # in a moment. 409 `conflict` (503 `busy` for a lock wait) with
    # Retry-After; every other database error is a bug and stays a 500.
    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        kind = transient_db_error(exc)
        refused = input_db_error(exc)
        if kind is None and refused is not None:
            # The request's own data did not fit (a duplicate, a value out of range):
            # nothing was kept; a 409/422 in the error shape, a warning in the log.
            _discard()
            status, message = refused
            log.warning(
                "refused by the database on %s %s: %s",
                request.method,
                request.endpoint,
                type(exc.orig).__name__,
            )
            return _answer(status, message, _CODES[status])
        if kind is None:
            return _unexpected(exc)
        _discard()
        from webapp.security import describe_request

        log.warning("%s on %s: %s", kind, describe_request(), exc.orig)
        if kind == "lock_timeout":
            status, code = 503, "busy"
            message = "The service is busy; try again in a moment."
        else:
            status, code = 409, "conflict"
            message = "Another request changed the same data at the same time; try again."
        response = make_response(_answer(status, message, code))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
