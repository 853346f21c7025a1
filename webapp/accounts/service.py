"""Account operations: sign-up, authentication, API tokens, profile updates.

Functions flush; the caller commits.
"""

from __future__ import annotations

from datetime import timedelta
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
# Made on first log-in, not at import (an Argon2id hash costs a CLI command's
# start-up ~0.1 s); `authenticate` asks for it on both branches alike.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")
    return _DUMMY_HASH


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


def _audit(
    session: Session,
    freelancer: Freelancer,
    action: str,
    client: dict[str, Any] | None,
    **data: Any,
) -> None:
    """An audit event on the freelancer, with the client's address and user agent."""
    events.record(
        session,
        subject_type="freelancer",
        subject_id=freelancer.id,
        action=action,
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
        data={**(client or {}), **data},
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    client: dict[str, Any] | None = None,
    via: str = "page",
) -> Freelancer | None:
    """The freelancer whose credentials these are, or None (same cost either way).

    With `client` (a log-in attempt from a request), records `logged_in`, or
    `login_failed` when the e-mail is a known account's; without, only checks.
    """
    audit = client is not None
    freelancer = session.scalar(
        select(Freelancer).where(func.lower(Freelancer.email) == email.strip().lower())
    )
    dummy = _dummy_hash()
    try:
        _hasher.verify(freelancer.password_hash if freelancer else dummy, password)
    except (VerificationError, InvalidHashError):
        if audit and freelancer is not None:
            _audit(session, freelancer, "login_failed", client, via=via)
        return None
    if freelancer is None or not freelancer.is_active:
        if audit and freelancer is not None:
            _audit(session, freelancer, "login_failed", client, via=via, reason="inactive")
        return None
    if _hasher.check_needs_rehash(freelancer.password_hash):
        freelancer.password_hash = hash_password(password)
    if audit and via == "page":  # the API's exchange records `api_token_issued` instead
        _audit(session, freelancer, "logged_in", client, via=via)
    return freelancer


def log_out(
    session: Session, freelancer: Freelancer, *, client: dict[str, Any] | None = None
) -> None:
    """End every page session of the freelancer (copies of the cookie included); flushes."""
    freelancer.session_version = (freelancer.session_version or 0) + 1
    session.flush()
    _audit(session, freelancer, "logged_out", client)


def change_password(
    session: Session,
    freelancer: Freelancer,
    current: str,
    new: str,
    *,
    client: dict[str, Any] | None = None,
) -> bool:
    """Replace the password if `current` is right, ending every page session and
    revoking every API token (one minted with a stolen password must not outlive
    the change); flushes."""
    try:
        _hasher.verify(freelancer.password_hash, current)
    except (VerificationError, InvalidHashError):
        _audit(session, freelancer, "password_change_failed", client)
        return False
    freelancer.password_hash = hash_password(new)
    freelancer.session_version = (freelancer.session_version or 0) + 1
    now = utcnow()
    revoked = 0
    for row in session.scalars(
        select(ApiToken).where(
            ApiToken.freelancer_id == freelancer.id, ApiToken.revoked_at.is_(None)
        )
    ):
        row.revoked_at = now
        revoked += 1
    session.flush()
    _audit(session, freelancer, "password_changed", client, tokens_revoked=revoked)
    return True


def issue_token(
    session: Session,
    freelancer: Freelancer,
    *,
    days: int = 90,
    label: str = "",
    client: dict[str, Any] | None = None,
) -> tuple[ApiToken, str]:
    """A new API bearer token valid `days`; only its hash is stored, so it is shown once."""
    token = new_token("acp")
    row = ApiToken(
        freelancer_id=freelancer.id,
        token_hash=hash_token(token),
        label=label,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    _audit(session, freelancer, "api_token_issued", client, token_id=row.id)
    return row, token


def list_tokens(session: Session, freelancer: Freelancer) -> list[ApiToken]:
    """The freelancer's tokens that are not revoked (expired ones included), oldest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.freelancer_id == freelancer.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        )
    )


def revoke_token(
    session: Session,
    freelancer: Freelancer,
    token_id: int,
    *,
    client: dict[str, Any] | None = None,
) -> bool:
    """Revoke one of the freelancer's tokens; False when they have no such token. Flushes."""
    row = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.freelancer_id == freelancer.id)
    )
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        _audit(session, freelancer, "api_token_revoked", client, token_id=row.id)
    return True


def freelancer_for_token(session: Session, token: str) -> Freelancer | None:
    """The freelancer a bearer token belongs to, if it is valid: not revoked, not expired."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > utcnow(),
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
