"""Drafting a quote: its content (figures, legal mentions), its first version and the next ones.

A version is immutable once written: the client signs one exact content,
identified by its SHA-256. These functions flush, never commit: the view does.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from billing.locking import lock
from webapp import clients
from webapp.accounts.models import VAT_STANDARD, Freelancer, hash_token, new_token
from webapp.quotes import content as qc
from webapp.quotes import transitions as t
from webapp.quotes.errors import QuoteError
from webapp.quotes.lookups import milestones_of, version_of
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion
from webapp.validation import N_

DEFAULT_VALIDITY = timedelta(days=30)
RECOVERY_INDEMNITY_EUR = 40  # Code de commerce L441-10: business clients only


def mismatch_error(exc: qc.MilestonesMismatch, currency: str) -> qc.ContentError:
    """ "The milestones add up to €2,700.00 of €3,000.00…": in English for the API, and in
    the reader's language for the page ("Les jalons font 2 700,00 € sur 3 000,00 €…")."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from webapp.public.wording import money

    def sentence() -> str:
        return _(
            "The milestones add up to %(given)s of %(total)s: they must match the total exactly.",
            given=money(exc.given, currency),
            total=money(exc.total, currency),
        )

    words = sentence()
    with force_locale("en"):
        english = sentence()
    return qc.ContentError({"milestones": [english]}, {"milestones": [words]})


def _build_content(
    quote_id: int, number: int, freelancer: Freelancer, data: dict[str, Any], currency: str
) -> dict[str, Any]:
    client = data["client"]
    if client.get("is_business"):
        problems = clients.business_errors(client)
        if problems:
            raise qc.ContentError({"client": problems})
    details = clients.details(client)
    reverse = freelancer.vat_regime == VAT_STANDARD and clients.reverse_charge(
        bool(client.get("is_business")), details
    )
    vat_rate_bp = freelancer.vat_rate_bp if freelancer.vat_regime == VAT_STANDARD else 0
    if reverse:
        vat_rate_bp = 0  # autoliquidation: the EU business client accounts for the VAT
    lines = qc.line_amounts(data["lines"])
    if lines:
        totals = qc.totals_from_lines(lines, vat_rate_bp)
        try:
            amounts = qc.milestone_amounts(data["milestones"], totals.total_minor)
        except qc.MilestonesMismatch as exc:
            raise mismatch_error(exc, currency) from None
    else:
        amounts = qc.milestone_amounts(data["milestones"], None)
        totals = qc.totals_from_total(sum(amounts), vat_rate_bp)
        lines = [
            {
                "description": data["title"],
                "quantity": 1,
                "unit_amount_minor": totals.excl_vat_minor,
                "amount_minor": totals.excl_vat_minor,
            }
        ]
    if totals.total_minor <= 0:
        raise qc.ContentError({"lines": [N_("The quote's total must be above zero.")]})
    return {
        "quote_id": quote_id,
        "version": number,
        "title": data["title"],
        "currency": currency,
        "seller": {
            "name": freelancer.legal_name or freelancer.display_name,
            "email": freelancer.email,
            "siret": freelancer.siret,
            "address": freelancer.address,
            "vat_regime": freelancer.vat_regime,
            "vat_rate_bp": vat_rate_bp,
            "vat_number": freelancer.vat_number,
            "legal_form": freelancer.legal_form,
            "share_capital_minor": freelancer.share_capital_minor,
            "registration": freelancer.registration,
            "insurance": freelancer.insurance,
            "mediator": freelancer.mediator,
            "postal_address": freelancer.postal_address,
        },
        "client": {
            "name": client["name"],
            "email": client["email"],
            "company": client.get("company", ""),
            "siret": client.get("siret", ""),
            "address": client.get("address", "")
            or clients.format_address(details["postal_address"]),
            "is_business": bool(client.get("is_business")),
            "siren": details["siren"],
            "vat_number": details["vat_number"],
            "postal_address": details["postal_address"],
        },
        "reverse_charge": reverse,
        "lines": lines,
        "total_excl_vat_minor": totals.excl_vat_minor,
        "vat_minor": totals.vat_minor,
        "total_minor": totals.total_minor,
        "milestones": [
            {
                "position": i + 1,
                "title": m["title"],
                "amount_minor": amount,
                "percent_bp": m.get("percent_bp"),
                "trigger": m["trigger"],
                "due_date": m["due_date"].isoformat() if m.get("due_date") else None,
            }
            for i, (m, amount) in enumerate(zip(data["milestones"], amounts, strict=True))
        ],
        "terms": data.get("terms", ""),
        # The legal mentions of a French B2B quote, fixed in the signed content.
        "penalty_rate_bp": freelancer.penalty_rate_bp,
        "recovery_indemnity_eur": RECOVERY_INDEMNITY_EUR if client.get("is_business") else None,
        "valid_until": data["valid_until"].isoformat(),
        "auto_approve_days": data["auto_approve_days"],
    }


def _write_version(
    session: Session, quote: Quote, freelancer: Freelancer, data: dict[str, Any], number: int
) -> QuoteVersion:
    content = _build_content(quote.id, number, freelancer, data, quote.currency)
    version = QuoteVersion(
        quote_id=quote.id,
        freelancer_id=quote.freelancer_id,
        number=number,
        content=content,
        content_sha256=qc.content_sha256(content),
    )
    session.add(version)
    # The live milestone rows follow the current version until acceptance;
    # nothing has happened to them yet, so they are simply replaced.
    for old in milestones_of(session, quote):
        session.delete(old)
    session.flush()
    for m in content["milestones"]:
        session.add(
            Milestone(
                quote_id=quote.id,
                freelancer_id=quote.freelancer_id,
                position=m["position"],
                title=m["title"],
                amount_minor=m["amount_minor"],
                currency=quote.currency,
                percent_bp=m["percent_bp"],
                trigger=m["trigger"],
                due_date=date.fromisoformat(m["due_date"]) if m["due_date"] else None,
            )
        )
    quote.total_minor = content["total_minor"]
    quote.current_version = number
    session.flush()
    return version


def _apply_fields(quote: Quote, data: dict[str, Any]) -> None:
    client = data["client"]
    quote.title = data["title"]
    quote.client_name = client["name"]
    quote.client_email = client["email"]
    quote.client_company = client.get("company", "")
    quote.client_siret = client.get("siret", "")
    quote.client_address = client.get("address", "")
    quote.client_is_business = bool(client.get("is_business"))
    quote.client_details = clients.details(client)
    if client.get("locale"):
        quote.client_locale = client["locale"]
    quote.terms = data.get("terms", "")
    quote.valid_until = data["valid_until"]
    quote.auto_approve_days = data["auto_approve_days"]


def create_quote(
    session: Session, freelancer: Freelancer, data: dict[str, Any]
) -> tuple[Quote, str]:
    """A draft quote with its first version; returns it and the client link's token.

    `qc.ContentError` when the figures do not add up (nothing is written).
    """
    from webapp.stripe_connect import secret_box

    data = {**data, "valid_until": data.get("valid_until") or (utcnow() + DEFAULT_VALIDITY).date()}
    currency = data.get("currency") or freelancer.currency
    # Validate the figures before writing anything.
    _build_content(0, 1, freelancer, data, currency)
    token = new_token("q")
    quote = Quote(
        freelancer_id=freelancer.id,
        currency=currency,
        total_minor=1,
        status=t.DRAFT,
        current_version=1,
        public_token_hash=hash_token(token),
        public_token_enc=secret_box().encrypt(token),
        client_locale=freelancer.locale or "fr",
    )
    _apply_fields(quote, data)
    session.add(quote)
    session.flush()
    from webapp.invoices.issue import local_today
    from webapp.quotes.numbers import assign_number

    assign_number(session, quote, local_today(freelancer))
    version = _write_version(session, quote, freelancer, data, 1)
    events.record(
        session,
        subject_type="quote",
        subject_id=quote.id,
        action="quote_created",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
        data={"version": 1, "content_sha256": version.content_sha256},
    )
    return quote, token


def revise_quote(
    session: Session, freelancer: Freelancer, quote: Quote, data: dict[str, Any]
) -> QuoteVersion:
    """A change to the quote: a new immutable version (the client signs only the current one)."""
    quote = lock(session, Quote, quote.id) or quote
    if quote.status not in t.EDITABLE:
        raise QuoteError(409, f"A quote that is {quote.status} cannot be changed.")
    current = version_of(session, quote).content
    merged: dict[str, Any] = {
        "title": current["title"],
        "client": current["client"],
        "terms": current["terms"],
        "valid_until": date.fromisoformat(current["valid_until"]),
        "auto_approve_days": current["auto_approve_days"],
        "lines": [
            {k: line[k] for k in ("description", "quantity", "unit_amount_minor")}
            for line in current["lines"]
        ],
        "milestones": [
            {
                "title": m["title"],
                "trigger": m["trigger"],
                "due_date": date.fromisoformat(m["due_date"]) if m["due_date"] else None,
                **(
                    {"percent_bp": m["percent_bp"]}
                    if m["percent_bp"] is not None
                    else {"amount_minor": m["amount_minor"]}
                ),
            }
            for m in current["milestones"]
        ],
    }
    merged.update({k: v for k, v in data.items() if v is not None or k == "valid_until"})
    if "client" in data:
        # Only the client fields given change; the others keep the current version's.
        merged["client"] = {**current["client"], **data["client"]}
    if merged.get("valid_until") is None:
        merged["valid_until"] = date.fromisoformat(current["valid_until"])
    if "currency" in data and data["currency"] and data["currency"] != quote.currency:
        raise QuoteError(409, "The currency of a quote cannot change; make a new quote.")
    number = quote.current_version + 1
    content = _build_content(quote.id, number, freelancer, merged, quote.currency)
    if qc.content_sha256({**content, "version": 0}) == qc.content_sha256({**current, "version": 0}):
        return version_of(session, quote)
    _apply_fields(quote, merged)
    version = _write_version(session, quote, freelancer, merged, number)
    # Signatures given on an older version no longer count.
    for pending in session.scalars(
        select(QuoteAcceptance).where(
            QuoteAcceptance.quote_id == quote.id, QuoteAcceptance.status == "pending"
        )
    ):
        pending.status = "superseded"
    if quote.status == t.VIEWED:
        t.move_quote(
            session,
            quote,
            t.SENT,
            actor=events.freelancer_actor(freelancer.id),
            action="quote_revised_after_view",
        )
    events.record(
        session,
        subject_type="quote",
        subject_id=quote.id,
        action="quote_version_created",
        actor=events.freelancer_actor(freelancer.id),
        freelancer_id=freelancer.id,
        data={"version": number, "content_sha256": version.content_sha256},
    )
    return version
