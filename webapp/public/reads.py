"""What the client pages show, read from the same service functions the public
JSON API answers with (`webapp.booking.public`), in the page's own request: one
source of truth, no HTTP or thread back into ourselves.

The public profile is cached per freelancer, public version and language
(`webapp.public.cache`); a booking as its client sees it is read fresh.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale

from webapp.booking import public
from webapp.booking.errors import NotFound
from webapp.extensions import db
from webapp.public import cache


def profile(slug: str) -> dict[str, Any] | None:
    """`GET /api/v1/public/freelancers/{slug}`'s body, plus `asks` (paid questions
    open); None for an unknown or inactive freelancer."""
    found = cache.version_of(db.session, slug)
    if found is None:
        return None
    freelancer_id, version = found

    def build() -> dict[str, Any]:
        return {**public.public_profile(db.session, slug), "asks": _asks(slug)}

    try:
        return cache.cached((freelancer_id, version, str(get_locale())), build)
    except NotFound:
        return None


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
