"""What the API and the pages show of a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from billing import events
from billing.dunning import rates
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from webapp.dunning.cases import amount_due, invoice_of
from webapp.dunning.late_payment import penalties_for


def case_timeline(session: Session, case: DunningCase) -> list[dict[str, Any]]:
    """The case's events, oldest first."""
    return [
        {"at": e.occurred_at.isoformat(), "action": e.action, "actor": e.actor, "data": e.data}
        for e in events.timeline(session, engine.SUBJECT, case.id)
    ]


def dump_case(
    session: Session, case: DunningCase, *, now: datetime, full: bool = False
) -> dict[str, Any]:
    """A case with its steps and next step (`full`: with the timeline)."""
    invoice = invoice_of(session, case)
    config = engine.config_for(session, case.freelancer_id)
    upcoming = engine.upcoming(session, case, config)
    try:
        result, rate = penalties_for(session, case, now.date())
        missing_rate = None
    except rates.MissingRate as exc:
        result, rate, missing_rate = None, None, str(exc)
    steps = sorted(engine.steps_of(session, case.id).values(), key=lambda s: s.id)
    out: dict[str, Any] = {
        "id": case.id,
        "status": case.status,
        "reason": case.reason,
        "amount_minor": case.amount_minor,
        "amount_due_minor": amount_due(session, case),
        "currency": case.currency,
        "invoice_id": case.invoice_id,
        "invoice_number": invoice.number if invoice else None,
        "client": {
            "name": case.client_name,
            "email": case.client_email,
            "is_business": case.client_is_business,
        },
        "subject": {"type": case.subject_type, "id": case.subject_id},
        "opened_at": case.created_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "pause": (
            {
                "kind": case.pause_kind,
                "reason": case.pause_reason,
                "promise_date": case.promise_date.isoformat() if case.promise_date else None,
            }
            if case.status == engine.PAUSED
            else None
        ),
        "hard_decline": case.hard_decline,
        "registered_letter": case.registered_letter,
        "penalties": (
            {
                "interest_minor": result.interest_minor,
                "indemnity_minor": result.indemnity_minor,
                "total_minor": result.total_minor,
                "days_late": result.days_late,
                "rate_bp": rate,
                "basis": result.basis,
                "periods": [
                    {
                        "from": s.first_day.isoformat(),
                        "to": s.last_day.isoformat(),
                        "days": s.days,
                        "rate_bp": s.rate_bp,
                        "balance_minor": s.balance_minor,
                        "interest_minor": s.interest_minor,
                    }
                    for s in result.segments
                ],
            }
            if result is not None
            else {"error": missing_rate}
        ),
        "steps": [
            {
                "step": s.step,
                "outcome": s.outcome,
                "scheduled_at": s.scheduled_at.isoformat(),
                "done_at": s.done_at.isoformat(),
            }
            for s in steps
        ],
        "next_step": {"step": upcoming[0], "at": upcoming[1].isoformat()} if upcoming else None,
    }
    if full:
        out["timeline"] = case_timeline(session, case)
    return out
