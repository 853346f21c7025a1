"""What the client pages show, read from the same service functions the public
JSON API answers with (`webapp.booking.public`), in the page's own request: one
source of truth, no HTTP or thread back into ourselves.

The public profile is cached per freelancer, public version and language
(`webapp.public.cache`); a booking as its client sees it is read fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import get_locale

from webapp.booking import public
from webapp.booking.errors import NotFound
from webapp.extensions import db
from webapp.public import cache

CacheKey = tuple[Any, ...]
# The queries a cached page may carry (any other is rendered afresh: no visitor
# can fill the cache with variants).
CACHED_QUERIES = frozenset({b"", b"lang=fr", b"lang=en"})


def profile(slug: str) -> dict[str, Any] | None:
    """`GET /api/v1/public/freelancers/{slug}`'s body, plus `asks` (paid questions
    open); None for an unknown or inactive freelancer."""
    return profile_with_key(slug)[0]


def profile_with_key(slug: str) -> tuple[dict[str, Any] | None, CacheKey | None]:
    """The profile and the key it is cached under: (freelancer, version, language)."""
    found = cache.version_of(db.session, slug)
    if found is None:
        return None, None
    freelancer_id, version = found
    key = (freelancer_id, version, str(get_locale()))

    def build() -> dict[str, Any]:
        return {**public.public_profile(db.session, slug), "asks": _asks(slug)}

    try:
        return cache.cached(key, build), key
    except NotFound:
        return None, None


def page(key: CacheKey | None, name: str, render: Callable[[], str]) -> str:
    """A public page's HTML, rendered once per profile version, language and query
    for anonymous visitors with nothing flashed (what every such visitor sees alike);
    rendered afresh otherwise (a logged-in freelancer's menu, a pending message)."""
    from flask import request, session
    from flask_login import current_user

    if (
        key is None
        or current_user.is_authenticated
        or session.get("_flashes")
        or request.query_string not in CACHED_QUERIES
    ):
        return render()
    return cache.cached((*key, name, request.query_string), lambda: {"html": render()})["html"]


def _asks(slug: str) -> bool:
    from webapp.messages import service as messages

    try:
        messages.open_offer(db.session, slug)
    except messages.NotFound:
        return False
    return True


def booking(booking_id: int, token: str) -> dict[str, Any] | None:
    """`GET /api/v1/public/bookings/{id}?manage_token=…`'s body, or None (unknown
    booking, wrong token: the same answer)."""
    try:
        return public.client_view(db.session, booking_id, token)
    except NotFound:
        return None
