"""Every succeeded card payment backed by its invoice, every refund by its credit note.

One mechanism for every feature. A feature registers, per payment subject
type, what a succeeded payment of its subjects invoices (`register`); the one
ledger subscriber (`on_payment`, on every subject, registered by the app
factory through `subscribe_to_ledger`) issues it in one savepoint
(`issue.issue_or_report`), once per payment, and records the feature's
failure event on the subject when the invoice cannot be issued — never undoing
the money's record.

Order of effects: `billing.outcomes.notify` calls the subject's own
subscribers first (a milestone is `paid`, a booking confirmed before their
invoice), then every-subject ones in registration order. This one is
registered before dunning's, so a payment recorded on a case's unpaid invoice
has closed the case by the time dunning hears of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from billing import events, outcomes
from billing.invoicing import service
from billing.invoicing.models import Invoice
from billing.invoicing.service import Line, Party
from billing.models import Payment, Refund
from billing.payments import SUCCEEDED
from webapp.accounts.models import Freelancer
from webapp.invoices.issue import issue_for_payment, issue_or_report, local_today


@dataclass(frozen=True, slots=True)
class ToInvoice:
    """What a succeeded payment is invoiced as (the invoice's source names its subject)."""

    lines: list[Line]
    buyer: Party
    service_date: date
    source_type: str
    source_id: str | int
    locale: str | None = None
    # `deposit` / `final` for a quote's milestones (billing.invoicing.models kinds), with
    # the quote and the deducted deposits frozen in the invoice's mentions.
    kind: str = "invoice"
    mentions: dict | None = None


Describe = Callable[[Session, Payment], ToInvoice | None]
Issued = Callable[[Session, Payment, Invoice], None]


@dataclass(frozen=True, slots=True)
class Invoicing:
    """A feature's registration for the payments of one subject type."""

    describe: Describe
    not_issued: str
    issued: Issued | None = None
    credit_not_issued: str | None = None


_registry: dict[str, Invoicing] = {}


def register(
    subject_type: str,
    describe: Describe,
    *,
    not_issued: str,
    issued: Issued | None = None,
    credit_not_issued: str | None = None,
) -> None:
    """Invoice the succeeded payments of `subject_type` (a feature's app factory step).

    `describe(session, payment)` says what to invoice, or None for "not
    invoiced here"; `issued(session, payment, invoice)` hears the new invoice;
    `not_issued` is the action of the event left on the subject when issuing
    is refused. With `credit_not_issued`, every refund Stripe confirmed gets a
    credit note on the payment's invoice (that action when it cannot).
    Idempotent.
    """
    _registry[subject_type] = Invoicing(describe, not_issued, issued, credit_not_issued)
    if credit_not_issued is not None:
        outcomes.subscribe_refunds(subject_type, on_refund)


def unregister(subject_type: str) -> None:
    """Forget a subject type's registration (tests)."""
    _registry.pop(subject_type, None)


def registered() -> dict[str, Invoicing]:
    """The registrations by subject type (a copy)."""
    return dict(_registry)


def subscribe_to_ledger() -> None:
    """The one invoice subscriber, on every subject (the app factory's step; idempotent).

    Registered before dunning's every-subject subscriber: see the module's note.
    """
    outcomes.subscribe(outcomes.ANY_SUBJECT)(on_payment)


def on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """A payment succeeded with money captured: issue its invoice (once)."""
    if new == SUCCEEDED and payment.amount_captured_minor > 0:
        invoice_payment(session, payment)


def invoice_payment(session: Session, payment: Payment) -> Invoice | None:
    """Issue the invoice of a succeeded payment as its feature describes it.

    None when its subject type is not invoiced here, when the feature says
    not to, when it is invoiced already (one invoice per payment) or when
    issuing was refused (the failure event is recorded instead).
    """
    invoicing = _registry.get(payment.subject_type)
    if invoicing is None or service.find_by_payment(session, payment.id) is not None:
        return None
    what = invoicing.describe(session, payment)
    if what is None:
        return None
    invoice = issue_or_report(
        session,
        lambda: issue_for_payment(
            session,
            payment,
            lines=what.lines,
            buyer=what.buyer,
            service_date=what.service_date,
            locale=what.locale,
            source_type=what.source_type,
            source_id=what.source_id,
            kind=what.kind,
            extra_mentions=what.mentions,
        ),
        lambda error: _record_failure(session, payment, invoicing.not_issued, error),
    )
    if invoice is not None and invoicing.issued is not None:
        invoicing.issued(session, payment, invoice)
    return invoice


def on_refund(session: Session, payment: Payment, refund: Refund) -> None:
    """A refund Stripe confirmed: the credit note (avoir) on the payment's invoice."""
    invoicing = _registry.get(payment.subject_type)
    if invoicing is None or invoicing.credit_not_issued is None:
        return
    what = invoicing.describe(session, payment)
    if what is None:
        return
    invoice = service.find_by_source(
        session, payment.freelancer_id, what.source_type, what.source_id
    )
    if invoice is None:
        return
    freelancer = session.get(Freelancer, payment.freelancer_id)
    assert freelancer is not None
    action = invoicing.credit_not_issued
    issue_or_report(
        session,
        lambda: service.issue_credit_note(
            session,
            invoice.id,
            amount_minor=refund.amount_minor,
            reason=refund.reason or "refund",
            issue_date=local_today(freelancer),
        ),
        lambda error: _record_failure(session, payment, action, error),
    )


def _record_failure(session: Session, payment: Payment, action: str, error: str) -> None:
    events.record(
        session,
        subject_type=payment.subject_type,
        subject_id=payment.subject_id,
        action=action,
        freelancer_id=payment.freelancer_id,
        data={"payment_id": payment.id, "error": error},
    )
