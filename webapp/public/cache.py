"""What every visitor of a freelancer's public page sees alike, cached per version.

The public profile (name, zone, publishable key, offerings with their terms in
words, whether paid questions are open) is built from a handful of rows and
changes only when the freelancer edits them; so does the booking page's HTML
for anonymous visitors (`webapp.public.reads.page`). Each freelancer carries a
`public_version`; any flush that adds, changes or deletes one of those rows
(the freelancer, an offering, the availability, the Stripe keys, the paid
question settings) raises it in the same transaction — the explicit
invalidation — so a cached copy is keyed by (freelancer, version, language)
and never outlives a change, in every worker: a page reads one indexed row to
learn the version, then builds the profile only on a miss.

The version is also the public profile's ETag.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache as once
from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session

MAX_ENTRIES = 2_048
_lock = threading.Lock()
_entries: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()


def _dependents() -> tuple[type, ...]:
    from billing.models import StripeAccount
    from webapp.booking.models import Availability, Offering
    from webapp.messages.models import MessageSettings

    return (Offering, Availability, StripeAccount, MessageSettings)


def _owners(session: Session) -> set[int]:
    """Freelancers whose public profile this flush changes."""
    from webapp.accounts.models import Freelancer

    dependents = _dependents()
    owners: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Freelancer):
            if obj.id is not None and session.is_modified(obj, include_collections=False):
                owners.add(obj.id)
        elif isinstance(obj, dependents) and getattr(obj, "freelancer_id", None) is not None:
            owners.add(obj.freelancer_id)
    return owners


def _bump(session: Session, flush_context: Any) -> None:
    owners = session.info.pop("acompte.public_owners", None)
    if not owners:
        return
    from webapp.accounts.models import Freelancer

    session.connection().execute(
        update(Freelancer)
        .where(Freelancer.id.in_(sorted(owners)))
        .values(public_version=Freelancer.public_version + 1)
        .execution_options(synchronize_session=False)
    )


def _collect(session: Session, flush_context: Any, instances: Any) -> None:
    owners = _owners(session)
    if owners:
        session.info.setdefault("acompte.public_owners", set()).update(owners)


def install() -> None:
    """Raise a freelancer's public version whenever a flush changes their public rows.

    Called by the app factory; a new app starts with an empty cache (an app is
    one database: tests build one per database)."""
    clear()
    if not event.contains(Session, "before_flush", _collect):
        event.listen(Session, "before_flush", _collect)
        event.listen(Session, "after_flush", _bump)


@once
def _version_statement() -> Any:
    from webapp.accounts.models import Freelancer

    return select(Freelancer.id, Freelancer.public_version).where(
        Freelancer.slug == bindparam("slug"), Freelancer.is_active.is_(True)
    )


def version_of(session: Session, slug: str) -> tuple[int, int] | None:
    """(freelancer id, public version) of an active freelancer, or None.

    Every public request starts with it: one statement built once and run on
    the session's connection, without the ORM's per-query work."""
    row = session.connection().execute(_version_statement(), {"slug": slug}).first()
    return (row[0], row[1]) if row else None


def cached(key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The entry for `key`, built once (least recently used entries evicted)."""
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
            return hit
    value = build()
    with _lock:
        _entries[key] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every entry (tests)."""
    with _lock:
        _entries.clear()
