"""The JSON API under /api/v1 (CONTRACT.md). Bearer tokens, no cookies, no CSRF."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, request

from webapp.accounts.models import Freelancer
from webapp.errors import ApiError
from webapp.extensions import csrf, db

bp = Blueprint("api", __name__)
csrf.exempt(bp)

F = TypeVar("F", bound=Callable[..., Any])


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong."""
    if not request.is_json:
        raise ApiError(415, "Send a JSON body with Content-Type: application/json.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def token_required(view: F) -> F:
    """Resolve `Authorization: Bearer <token>` to `g.freelancer`, or answer 401."""
    from webapp.accounts.service import freelancer_for_token

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Missing bearer token.")
        freelancer = freelancer_for_token(db.session, token.strip())
        if freelancer is None:
            raise ApiError(401, "Invalid, expired or revoked token.")
        db.session.commit()  # last_used_at
        g.freelancer = freelancer
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_freelancer() -> Freelancer:
    """The freelancer authenticated by `token_required`."""
    return g.freelancer


# This package's own route modules attach themselves to `bp`; other packages'
# (the features, Stripe keys) are imported by the app factory, so that no
# package imports this one while this one imports it.
from webapp.api import accounts, openapi  # noqa: E402, F401
