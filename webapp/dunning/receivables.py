"""The receivables dashboard's figures: secured, collected, overdue by age, cases by step."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import payments
from billing.dunning import service as engine
from billing.dunning.models import DunningCase, DunningStep
from billing.invoicing import service as invoicing
from billing.invoicing.models import DEBIT_KINDS, ISSUED, PARTIALLY_PAID, Invoice
from billing.models import CardSetup, Payment

BUCKETS = (("0-15", 0, 15), ("16-30", 16, 30), ("31-45", 31, 45), ("45+", 46, None))


@dataclass
class Receivables:
    """Minor units in the freelancer's currency; counts where money is not the point."""

    currency: str
    held_minor: int = 0
    saved_cards: int = 0
    collected_minor: int = 0
    overdue: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in BUCKETS})
    cases_by_step: dict[str, int] = field(default_factory=dict)
    paid_cases: int = 0
    lost_cases: int = 0
    recovered_minor: int = 0
    written_off_minor: int = 0

    @property
    def overdue_minor(self) -> int:
        """Everything overdue."""
        return sum(self.overdue.values())

    @property
    def recovery_rate_bp(self) -> int | None:
        """Paid cases among those closed as paid or written off (basis points)."""
        closed = self.paid_cases + self.lost_cases
        return None if closed == 0 else self.paid_cases * 10_000 // closed


def bucket(days: int) -> str:
    """The age bucket of a debt `days` past due."""
    for name, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return BUCKETS[0][0]


def compute(session: Session, freelancer_id: int, currency: str, now: datetime) -> Receivables:
    """The dashboard figures of one freelancer, as of `now`."""
    out = Receivables(currency)
    mine = (Payment.freelancer_id == freelancer_id, Payment.currency == currency)
    out.held_minor = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_capturable_minor), 0)).where(
            *mine, Payment.status == payments.AUTHORIZED
        )
    )
    out.saved_cards = session.scalar(
        select(func.count(CardSetup.id)).where(
            CardSetup.freelancer_id == freelancer_id, CardSetup.status == "succeeded"
        )
    )
    out.collected_minor = session.scalar(
        select(
            func.coalesce(
                func.sum(Payment.amount_captured_minor - Payment.amount_refunded_minor), 0
            )
        ).where(*mine, Payment.status == payments.SUCCEEDED)
    )
    unpaid = session.scalars(
        select(Invoice).where(
            Invoice.freelancer_id == freelancer_id,
            Invoice.kind.in_(DEBIT_KINDS),
            Invoice.currency == currency,
            Invoice.status.in_((ISSUED, PARTIALLY_PAID)),
            Invoice.due_date < now.date(),
        )
    )
    for invoice in unpaid:
        days = (now.date() - invoice.due_date).days
        out.overdue[bucket(days)] += invoicing.balance_due(invoice)
    cases = session.scalars(
        select(DunningCase).where(
            DunningCase.freelancer_id == freelancer_id, DunningCase.currency == currency
        )
    ).all()
    last_steps = _last_steps(session, [c.id for c in cases])
    by_step: Counter[str] = Counter()
    for case in cases:
        if case.status in (engine.OPEN, engine.PAUSED):
            if case.invoice_id is None:
                # Not invoiced yet: still money owed since the failure.
                out.overdue[bucket((now - case.anchor_at).days)] += case.amount_minor
            by_step[last_steps.get(case.id, "opened")] += 1
        elif case.status == engine.PAID:
            out.paid_cases += 1
            out.recovered_minor += case.amount_minor
        elif case.status == engine.WRITTEN_OFF:
            out.lost_cases += 1
            out.written_off_minor += case.amount_minor
    out.cases_by_step = dict(by_step)
    return out


def _last_steps(session: Session, case_ids: list[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    rows = session.execute(
        select(DunningStep.case_id, DunningStep.step)
        .where(DunningStep.case_id.in_(case_ids), DunningStep.outcome != "skipped")
        .order_by(DunningStep.id)
    )
    return {case_id: step for case_id, step in rows}
