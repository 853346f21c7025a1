"""Send a notice: look it up in the table, respect the freelancer's choice, render it
in the reader's language, and enqueue it in the caller's transaction.

Every function here flushes and never commits: the e-mail leaves only if the
transaction that recorded the event commits (`webapp.mail.service`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask_babel import force_locale, get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.accounts.models import Freelancer
from webapp.mail.models import OutboundEmail
from webapp.mail.service import send_email
from webapp.notifications.models import NotificationOptOut
from webapp.notifications.notices import CLIENT, FREELANCER, NOTICES, freelancer_notices
from webapp.public.wording import money

SUPPORTED = ("fr", "en")


def reader_locale(locale: str | None, fallback: str | None = None) -> str:
    """A supported locale for the reader: theirs, else the fallback, else French."""
    for candidate in (locale, fallback):
        if candidate:
            short = str(candidate).replace("-", "_").split("_")[0].lower()
            if short in SUPPORTED:
                return short
    return "fr"


def local_time(
    value: datetime | None, zone: str | None = None, fmt: str = "medium", *, named: bool = True
) -> str:
    """A time in `zone` as the current locale writes it: "3 déc. 2026, 10:00 (Europe/Paris)"."""
    if not isinstance(value, datetime):
        return ""
    tz = ZoneInfo(str(zone) if zone else "UTC")
    local = value.astimezone(tz)
    locale = str(get_locale() or "fr")
    # The date as the locale writes it, then the time without seconds.
    text = f"{format_date(local, fmt, locale=locale)}, {format_time(local, 'short', locale=locale)}"
    return f"{text} ({zone or 'UTC'})" if named else text


class LocalMoney:
    """An amount formatted when it is rendered, so in the reader's locale ("45,00 €")."""

    __slots__ = ("amount_minor", "currency")

    def __init__(self, amount_minor: int, currency: str) -> None:
        self.amount_minor, self.currency = amount_minor, currency

    def __str__(self) -> str:
        return money(self.amount_minor, self.currency)

    def __html__(self) -> str:
        return str(self)


def reply_to_of(freelancer: Freelancer) -> str:
    """Where a client's answer goes: the freelancer's reply-to address, else their e-mail."""
    return (getattr(freelancer, "reply_to", None) or "").strip() or freelancer.email


def wants(session: Session, freelancer_id: int, event: str) -> bool:
    """Whether the freelancer receives this notice (on unless switched off)."""
    notice = NOTICES[event]
    if not notice.optional:
        return True
    return session.get(NotificationOptOut, {"freelancer_id": freelancer_id, "event": event}) is None


def opted_out(session: Session, freelancer_id: int) -> set[str]:
    """The notices the freelancer switched off."""
    return set(
        session.scalars(
            select(NotificationOptOut.event).where(
                NotificationOptOut.freelancer_id == freelancer_id
            )
        )
    )


def set_choices(session: Session, freelancer_id: int, enabled: set[str]) -> None:
    """Keep exactly the notices in `enabled` switched on (flushes)."""
    current = opted_out(session, freelancer_id)
    for notice in freelancer_notices():
        off = notice.event not in enabled
        if off and notice.event not in current:
            session.add(NotificationOptOut(freelancer_id=freelancer_id, event=notice.event))
        elif not off and notice.event in current:
            row = session.get(
                NotificationOptOut, {"freelancer_id": freelancer_id, "event": notice.event}
            )
            session.delete(row)
    session.flush()


def _formatted(context: dict[str, Any]) -> dict[str, Any]:
    # Called under the reader's locale: amounts and times as they write them.
    values = dict(context)
    if "amount_minor" in values and "currency" in values:
        values["amount"] = money(values["amount_minor"], values["currency"])
    if "when_at" in values:
        values["when"] = local_time(values["when_at"], values.get("zone"))
    return values


def _send(
    session: Session,
    event: str,
    *,
    to: str,
    locale: str,
    freelancer: Freelancer,
    context: dict[str, Any],
    attachments: list[dict[str, Any]] | None,
    reply_to: str | None,
) -> OutboundEmail:
    notice = NOTICES[event]
    with force_locale(locale):
        values = _formatted({"freelancer_name": freelancer.display_name, **context})
        values.setdefault("freelancer", freelancer.display_name)
        subject = str(notice.subject(values))
    return send_email(
        session,
        to=to,
        subject=subject,
        template=notice.template,
        context={
            **context,
            "event": event,
            "freelancer": freelancer,
            "notice": notice,
            "headline": subject,
        },
        locale=locale,
        freelancer_id=freelancer.id,
        attachments=attachments,
        reply_to=reply_to,
    )


def to_freelancer(
    session: Session, freelancer_id: int, event: str, **context: Any
) -> OutboundEmail | None:
    """A notice to the freelancer in their language, unless they switched it off.

    `context` feeds the subject and the `notice` template, which shows what it
    is given of: `title`, `client`, `amount_minor` + `currency`, `when_at` +
    `zone`, `fee_minor`, `refunded_minor`, `released_minor`, `by`,
    `invoice_number`, `failure`, `note`, `link_url`.
    """
    assert NOTICES[event].recipient == FREELANCER
    if not wants(session, freelancer_id, event):
        return None
    freelancer = session.get(Freelancer, freelancer_id)
    assert freelancer is not None
    return _send(
        session,
        event,
        to=freelancer.email,
        locale=reader_locale(freelancer.locale),
        freelancer=freelancer,
        context=context,
        attachments=None,
        reply_to=None,
    )


def to_client(
    session: Session,
    freelancer_id: int,
    event: str,
    *,
    to: str,
    locale: str | None,
    attachments: list[dict[str, Any]] | None = None,
    **context: Any,
) -> OutboundEmail:
    """A notice to a client in their language; their answer goes to the freelancer."""
    assert NOTICES[event].recipient == CLIENT
    freelancer = session.get(Freelancer, freelancer_id)
    assert freelancer is not None
    return _send(
        session,
        event,
        to=to,
        locale=reader_locale(locale, freelancer.locale),
        freelancer=freelancer,
        context=context,
        attachments=attachments,
        reply_to=reply_to_of(freelancer),
    )
