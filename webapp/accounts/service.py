"""Account operations: sign-up, authentication, API tokens, profile updates.

Functions flush; the caller commits.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from webapp.accounts.models import ApiToken, Freelancer, hash_token, new_token
from webapp.validation import N_

# argon2-cffi's defaults are Argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


class AccountConflict(Exception):
    """The e-mail or slug is taken."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("conflict")
        self.fields = fields


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def signup(session: Session, data: dict[str, Any]) -> Freelancer:
    """Create a freelancer from validated sign-up data; `AccountConflict` if taken."""
    taken: dict[str, list[str]] = {}
    if session.scalar(select(Freelancer.id).where(func.lower(Freelancer.email) == data["email"])):
        taken["email"] = [N_("An account already uses this e-mail.")]
    if session.scalar(select(Freelancer.id).where(Freelancer.slug == data["slug"])):
        taken["slug"] = [N_("This address is taken.")]
    if taken:
        raise AccountConflict(taken)
    freelancer = Freelancer(
        email=data["email"],
        password_hash=hash_password(data["password"]),
        display_name=data["display_name"],
        slug=data["slug"],
        locale=data.get("locale", "fr"),
    )
    try:
        # Two sign-ups racing for one e-mail or slug: the unique constraints
        # decide, and the loser gets the same conflict as above, not a 500.
        with session.begin_nested():
            session.add(freelancer)
            session.flush()
    except IntegrityError:
        raise AccountConflict(
            {
                "email": [N_("An account already uses this e-mail.")],
                "slug": [N_("This address may be taken.")],
            }
        ) from None
    events.record(
        session,
        subject_type="freelancer",
        subject_id=freelancer.id,
        action="signed_up",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
    )
    from webapp.mail.service import send_welcome

    send_welcome(session, freelancer)
    return freelancer


def authenticate(session: Session, email: str, password: str) -> Freelancer | None:
    """The freelancer whose credentials these are, or None (same cost either way)."""
    freelancer = session.scalar(
        select(Freelancer).where(func.lower(Freelancer.email) == email.strip().lower())
    )
    try:
        _hasher.verify(freelancer.password_hash if freelancer else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if freelancer is None or not freelancer.is_active:
        return None
    if _hasher.check_needs_rehash(freelancer.password_hash):
        freelancer.password_hash = hash_password(password)
    return freelancer


def issue_token(session: Session, freelancer: Freelancer) -> str:
    """A new API bearer token; only its hash is stored, so it is shown once."""
    token = new_token("acp")
    session.add(ApiToken(freelancer_id=freelancer.id, token_hash=hash_token(token)))
    session.flush()
    events.record(
        session,
        subject_type="freelancer",
        subject_id=freelancer.id,
        action="api_token_issued",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
    )
    return token


def freelancer_for_token(session: Session, token: str) -> Freelancer | None:
    """The freelancer a bearer token belongs to, if it is valid and not revoked."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    freelancer = session.get(Freelancer, row.freelancer_id)
    if freelancer is None or not freelancer.is_active:
        return None
    row.last_used_at = utcnow()
    return freelancer


def update_profile(session: Session, freelancer: Freelancer, changes: dict[str, Any]) -> None:
    """Apply validated profile changes and record which fields changed."""
    changed = {}
    for key, value in changes.items():
        if getattr(freelancer, key) != value:
            setattr(freelancer, key, value)
            changed[key] = True
    if changed:
        session.flush()
        events.record(
            session,
            subject_type="freelancer",
            subject_id=freelancer.id,
            action="profile_updated",
            actor=events.freelancer_actor(freelancer.id),
            freelancer_id=freelancer.id,
            data={"fields": sorted(changed)},
        )
