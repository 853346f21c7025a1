"""How quotes and milestones are shown: JSON for the API, the same dicts for the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from billing import events
from webapp.quotes import ledger, lookups
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def milestone_json(session: Session, milestone: Milestone, *, private: bool) -> dict[str, Any]:
    """One milestone; the freelancer also sees its payment attempts."""
    out: dict[str, Any] = {
        "id": milestone.id,
        "position": milestone.position,
        "title": milestone.title,
        "amount_minor": milestone.amount_minor,
        "currency": milestone.currency,
        "percent": milestone.percent_bp / 100 if milestone.percent_bp is not None else None,
        "trigger": milestone.trigger,
        "due_date": _iso(milestone.due_date),
        "status": milestone.status,
        "delivered_at": _iso(milestone.delivered_at),
        "delivery_note": milestone.delivery_note,
        "auto_approve_at": _iso(milestone.auto_approve_at),
        "approved_at": _iso(milestone.approved_at),
        "approved_by": milestone.approved_by,
        "objection_reason": milestone.objection_reason,
        "paid_at": _iso(milestone.paid_at),
        "paid_by": milestone.paid_by,
    }
    payment = ledger.latest_payment(session, milestone)
    if payment is not None:
        out["payment"] = {
            "status": payment.status,
            "failure_code": payment.failure_code,
            **({"id": payment.id, "attempt": payment.attempt} if private else {}),
        }
    return out


def acceptance_json(acceptance: QuoteAcceptance | None) -> dict[str, Any] | None:
    """The signature evidence."""
    if acceptance is None:
        return None
    return {
        "signer_name": acceptance.signer_name,
        "version": acceptance.version_number,
        "content_sha256": acceptance.content_sha256,
        "terms_accepted": acceptance.terms_accepted,
        "signed_at": _iso(acceptance.signed_at),
        "accepted_at": _iso(acceptance.accepted_at),
        "ip": acceptance.ip,
        "user_agent": acceptance.user_agent,
    }


def version_json(version: QuoteVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "content_sha256": version.content_sha256,
        "created_at": _iso(version.created_at),
        "content": version.content,
    }


def quote_summary(quote: Quote) -> dict[str, Any]:
    return {
        "id": quote.id,
        "number": quote.number,
        "title": quote.title,
        "status": quote.status,
        "client": {
            "name": quote.client_name,
            "email": quote.client_email,
            "is_business": quote.client_is_business,
            **{k: v for k, v in (quote.client_details or {}).items() if v},
            "locale": quote.client_locale,
        },
        "total_minor": quote.total_minor,
        "amount_minor": quote.total_minor,
        "currency": quote.currency,
        "valid_until": _iso(quote.valid_until),
        "version": quote.current_version,
        "created_at": _iso(quote.created_at),
    }


def quote_json(session: Session, quote: Quote) -> dict[str, Any]:
    """Everything the freelancer sees about a quote."""
    version = lookups.version_of(session, quote)
    return {
        **quote_summary(quote),
        "public_url": lookups.quote_url(quote),
        "public_token": lookups.public_token(quote),
        "auto_approve_days": quote.auto_approve_days,
        "content": version.content,
        "content_sha256": version.content_sha256,
        "versions": [
            {k: v for k, v in version_json(v).items() if k != "content"}
            for v in lookups.versions_of(session, quote)
        ],
        "acceptance": acceptance_json(lookups.acceptance_of(session, quote)),
        "decline_reason": quote.decline_reason,
        "milestones": [
            milestone_json(session, m, private=True) for m in lookups.milestones_of(session, quote)
        ],
        "timeline": timeline_json(session, quote),
    }


def public_quote_json(session: Session, quote: Quote) -> dict[str, Any]:
    """What the client sees: the exact current version, its state, and the milestones."""
    from webapp.quotes.numbers import display_number, quote_date

    version = lookups.version_of(session, quote)
    return {
        "number": display_number(quote),
        "date": quote_date(session, quote).isoformat(),
        "status": quote.status,
        "version": version.number,
        "content_sha256": version.content_sha256,
        "content": version.content,
        "acceptance": acceptance_json(lookups.acceptance_of(session, quote)),
        "milestones": [
            milestone_json(session, m, private=False) for m in lookups.milestones_of(session, quote)
        ],
    }


def timeline_json(session: Session, quote: Quote) -> list[dict[str, Any]]:
    """The quote's events and its milestones', oldest first."""
    rows = list(events.timeline(session, "quote", quote.id))
    for milestone in lookups.milestones_of(session, quote):
        rows += events.timeline(session, "milestone", milestone.id)
    rows.sort(key=lambda e: e.id)
    return [
        {
            "at": _iso(e.occurred_at),
            "subject": f"{e.subject_type}:{e.subject_id}",
            "action": e.action,
            "actor": e.actor,
            "data": e.data,
        }
        for e in rows
    ]
