"""Do Stripe and our rows agree, and did each amount move exactly once?

`ledger(session, stripe, email)` pairs every PaymentIntent Stripe holds for
the scenario's client with our payment rows and lists every disagreement:

- a payment row with two or more PaymentIntents at Stripe (a blind repeat);
- a PaymentIntent of ours (by `metadata.acompte_payment_id`) that no row
  holds, or that a row holds under another id (the answer was never stored);
- a row whose status or amounts differ from its PaymentIntent's;
- a row left `created`/`processing` after the sweep (never converged);
- captured money without exactly one invoice payment for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.models import InvoicePayment
from billing.models import Payment, PaymentCustomer
from tests.faults.stripe_truth import IntentMoney, StripeView

# Stripe's PaymentIntent status → ours.
OURS = {
    "succeeded": "succeeded",
    "requires_capture": "authorized",
    "canceled": "canceled",
    "requires_action": "requires_action",
    "requires_payment_method": "failed",
    "processing": "processing",
}


@dataclass
class Ledger:
    intents: list[IntentMoney]
    rows: list[Payment]
    problems: list[str] = field(default_factory=list)

    @property
    def captured(self) -> list[int]:
        """Amounts kept at Stripe, one per PaymentIntent that captured money."""
        return sorted(i.captured for i in self.intents if i.captured)

    @property
    def refunded(self) -> list[int]:
        return sorted(i.refunded for i in self.intents if i.refunded)

    def intents_for(self, purpose: str) -> list[IntentMoney]:
        ids = {str(r.id) for r in self.rows if r.purpose == purpose}
        return [i for i in self.intents if i.acompte_payment_id in ids]

    def rows_for(self, purpose: str) -> list[tuple[str, int, int]]:
        return [
            (r.status, r.amount_captured_minor, r.amount_refunded_minor)
            for r in self.rows
            if r.purpose == purpose
        ]

    def report(self) -> str:
        lines = ["Stripe:"]
        lines += [
            f"  {i.id} {i.status} amount={i.amount} captured={i.captured} "
            f"refunded={i.refunded} payment={i.acompte_payment_id}"
            for i in self.intents
        ]
        lines.append("ours:")
        lines += [
            f"  payment {r.id} {r.purpose} {r.status} amount={r.amount_minor} "
            f"captured={r.amount_captured_minor} refunded={r.amount_refunded_minor} "
            f"pi={r.stripe_payment_intent_id}"
            for r in self.rows
        ]
        lines.append("problems:")
        lines += [f"  {p}" for p in self.problems] or ["  none"]
        return "\n".join(lines)


def ledger(session: Session, stripe: StripeView, email: str) -> Ledger:
    """Stripe's records and our rows for the client `email`, with every disagreement."""
    session.rollback()  # a fresh snapshot: other processes committed
    session.expire_all()
    intents = stripe.intents_of(email)
    rows = list(
        session.scalars(
            select(Payment)
            .join(PaymentCustomer, PaymentCustomer.id == Payment.customer_id)
            .where(PaymentCustomer.email == email)
            .order_by(Payment.id)
        )
    )
    result = Ledger(intents, rows)
    problems = result.problems
    by_id = {str(r.id): r for r in rows}
    by_intent: dict[str, list[IntentMoney]] = {}
    for intent in intents:
        if intent.acompte_payment_id is None:
            problems.append(f"{intent.id} carries no metadata.acompte_payment_id")
            continue
        by_intent.setdefault(intent.acompte_payment_id, []).append(intent)
    for payment_id, found in sorted(by_intent.items()):
        row = by_id.get(payment_id)
        names = ", ".join(f"{i.id} ({i.status}, captured {i.captured})" for i in found)
        if len(found) > 1:
            problems.append(f"payment {payment_id} has {len(found)} PaymentIntents: {names}")
        if row is None:
            problems.append(f"{names}: metadata names payment {payment_id}, no such row")
            continue
        attached = [i for i in found if i.id == row.stripe_payment_intent_id]
        if not attached:
            problems.append(
                f"payment {payment_id} holds {row.stripe_payment_intent_id!r}, "
                f"Stripe has {names} for it"
            )
            continue
        intent = attached[0]
        expected = OURS.get(intent.status, intent.status)
        if row.status != expected:
            problems.append(
                f"payment {payment_id} is {row.status}, its {intent.id} is {intent.status}"
            )
        if row.amount_captured_minor != intent.captured:
            problems.append(
                f"payment {payment_id} captured {row.amount_captured_minor}, "
                f"Stripe {intent.captured}"
            )
        if row.amount_refunded_minor != intent.refunded:
            problems.append(
                f"payment {payment_id} refunded {row.amount_refunded_minor}, "
                f"Stripe {intent.refunded}"
            )
    known = {i.id for i in intents}
    for row in rows:
        if row.stripe_payment_intent_id and row.stripe_payment_intent_id not in known:
            problems.append(
                f"payment {row.id} holds {row.stripe_payment_intent_id}, unknown to Stripe"
            )
        if row.status in ("created", "processing"):
            problems.append(f"payment {row.id} ({row.purpose}) still {row.status}")
    # Captured money is invoiced once: one invoice payment per captured payment.
    for row in rows:
        if row.amount_captured_minor <= 0:
            continue
        paid = list(
            session.scalars(select(InvoicePayment).where(InvoicePayment.payment_id == row.id))
        )
        if len(paid) != 1:
            problems.append(
                f"payment {row.id} ({row.purpose}, captured {row.amount_captured_minor}) "
                f"has {len(paid)} invoice payments"
            )
    return result


def assert_agree(
    session: Session,
    stripe: StripeView,
    email: str,
    *,
    captured: list[int],
    refunded: list[int] | None = None,
    context: str = "",
) -> Ledger:
    """Stripe and our rows agree, and Stripe kept exactly `captured` (one amount per intent)."""
    result = ledger(session, stripe, email)
    problems = list(result.problems)
    if result.captured != sorted(captured):
        problems.insert(
            0, f"Stripe captured {result.captured}, expected exactly {sorted(captured)}"
        )
    if result.refunded != sorted(refunded or []):
        problems.insert(
            0, f"Stripe refunded {result.refunded}, expected exactly {sorted(refunded or [])}"
        )
    result.problems = problems
    assert not problems, f"{result.report()}\n{context}".rstrip()
    return result
