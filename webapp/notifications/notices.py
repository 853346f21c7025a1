"""The one table of notices: event → recipient, template and subject.

Freelancer notices are in the freelancer's own language and may be switched
off on their settings page (`optional`); client notices are in the client's
language (stored on the booking, quote, question or dunning case) and are
always sent, as they tell someone what happened to their money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

FREELANCER, CLIENT = "freelancer", "client"
Subject = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Notice:
    """One kind of e-mail: who receives it, which template renders it, its subject line."""

    event: str
    recipient: str
    template: str
    subject: Subject
    label: Any = None
    optional: bool = True


def _n(event: str, recipient: str, template: str, subject: Subject, label: Any = None) -> Notice:
    return Notice(event, recipient, template, subject, label, optional=recipient == FREELANCER)


_ALL = [
    # To the freelancer (the generic `notice` template; rows say what happened).
    _n(
        "booking_new",
        FREELANCER,
        "notice",
        lambda c: _l("New booking: %(title)s", title=c["title"]),
        _l("A new booking"),
    ),
    _n(
        "booking_cancelled",
        FREELANCER,
        "notice",
        lambda c: _l("Booking cancelled: %(title)s", title=c["title"]),
        _l("A booking is cancelled (by whom, the fee)"),
    ),
    _n(
        "booking_rescheduled",
        FREELANCER,
        "notice",
        lambda c: _l("Booking moved: %(title)s", title=c["title"]),
        _l("A booking is moved"),
    ),
    _n(
        "booking_auto_cancelled",
        FREELANCER,
        "notice",
        lambda c: _l("Booking cancelled automatically: %(title)s", title=c["title"]),
        _l("A booking is cancelled for lack of a card"),
    ),
    _n(
        "quote_viewed",
        FREELANCER,
        "notice",
        lambda c: _l("Quote viewed: %(title)s", title=c["title"]),
        _l("A client opens a quote"),
    ),
    _n(
        "quote_accepted",
        FREELANCER,
        "notice",
        lambda c: _l("Quote accepted: %(title)s", title=c["title"]),
        _l("A quote is accepted"),
    ),
    _n(
        "milestone_objected",
        FREELANCER,
        "milestone_objected",
        lambda c: _l("Objection on a milestone: %(title)s", title=c["title"]),
        _l("A client objects to a delivered milestone"),
    ),
    _n(
        "milestone_approved",
        FREELANCER,
        "notice",
        lambda c: _l("Milestone approved: %(title)s", title=c["title"]),
        _l("A delivered milestone is approved"),
    ),
    _n(
        "payment_received",
        FREELANCER,
        "notice",
        lambda c: _l("Payment received: %(amount)s", amount=c["amount"]),
        _l("A payment is received (milestone charged, deposit, balance, fee…)"),
    ),
    _n(
        "charge_failed",
        FREELANCER,
        "notice",
        lambda c: _l("A charge failed: %(amount)s", amount=c["amount"]),
        _l("A charge fails"),
    ),
    _n(
        "dunning_opened",
        FREELANCER,
        "notice",
        lambda c: _l("Unpaid: recovery started for %(amount)s", amount=c["amount"]),
        _l("A recovery case is opened"),
    ),
    _n(
        "dunning_step_sent",
        FREELANCER,
        "notice",
        lambda c: _l("Reminder sent to %(client)s", client=c["client"]),
        _l("A reminder of a recovery case is sent"),
    ),
    _n(
        "dunning_paid",
        FREELANCER,
        "notice",
        lambda c: _l("Recovered: %(amount)s paid", amount=c["amount"]),
        _l("A recovery case is paid"),
    ),
    _n(
        "question_asked",
        FREELANCER,
        "message_new",
        lambda c: _l("New paid question from %(client)s", client=c["client"]),
        _l("A paid question is asked"),
    ),
    # To the client.
    _n(
        "receipt",
        CLIENT,
        "receipt",
        lambda c: _l(
            "Receipt: %(amount)s paid to %(freelancer)s",
            amount=c["amount"],
            freelancer=c["freelancer"],
        ),
    ),
    _n(
        "late_money_returned",
        CLIENT,
        "late_money_returned",
        lambda c: _l("Your payment for %(title)s was returned", title=c["title"]),
    ),
    _n(
        "session_reminder",
        CLIENT,
        "session_reminder",
        lambda c: _l("Reminder: %(title)s, %(when)s", title=c["title"], when=c["when"]),
    ),
]

NOTICES: dict[str, Notice] = {notice.event: notice for notice in _ALL}


def freelancer_notices() -> list[Notice]:
    """The notices a freelancer may switch on or off, in the settings page's order."""
    return [n for n in _ALL if n.recipient == FREELANCER and n.optional]
