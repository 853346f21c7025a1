"""The unpaid invoice behind a failed charge: issued once per case, due at once."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from webapp.accounts.models import Freelancer
from webapp.dunning.cases import invoice_of


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who owes the money, as the invoice and the letters name them."""

    name: str
    email: str
    is_business: bool
    legal_name: str = ""
    siret: str = ""
    address: str = ""
    # The client identity of the quote, booking or question (webapp.clients).
    details: dict[str, Any] | None = None

    def party(self) -> invoicing.Party:
        """The invoice's buyer side."""
        if self.details is not None:
            from dataclasses import replace

            from webapp.clients import buyer_party

            details = {**self.details, "company": self.details.get("company") or self.legal_name}
            party = buyer_party(self.name, self.email, self.is_business, details)
            if not party.address and self.address:
                party = replace(party, address=self.address, siret=self.siret)
            return party
        return invoicing.Party(
            name=self.name,
            legal_name=self.legal_name,
            siret=self.siret,
            address=self.address,
            email=self.email,
            is_business=self.is_business,
        )


def _describe(session: Session, subject_type: str, subject_id: str) -> str:
    if subject_type == "milestone" and subject_id.isdigit():
        with suppress(ImportError):
            from webapp.quotes.models import Milestone

            milestone = session.get(Milestone, int(subject_id))
            if milestone is not None:
                return milestone.title
    kinds = {"booking": _("session"), "milestone": _("milestone"), "message": _("question")}
    return _(
        "Payment for %(what)s #%(id)s", what=kinds.get(subject_type, subject_type), id=subject_id
    )


def ensure_invoice(
    session: Session, case: DunningCase, buyer: Buyer | None = None, *, now: datetime
) -> Invoice | None:
    """Issue the unpaid invoice of a failed charge once (one case per invoice).

    An incomplete business profile (no SIRET, address…) makes issuing fail:
    the case stays open without an invoice and the sweep tries again.
    """
    if case.invoice_id is not None:
        return invoice_of(session, case)
    from webapp.invoices.issue import issue_or_report, priced_line

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    buyer = buyer or Buyer(case.client_name, case.client_email, case.client_is_business)
    with force_locale(case.locale):
        description = _describe(session, case.subject_type, case.subject_id)
    invoice = issue_or_report(
        session,
        lambda: _issue_due_now(
            session,
            freelancer=freelancer,
            lines=[priced_line(freelancer, description, case.amount_minor)],
            buyer=buyer.party(),
            service_date=case.anchor_at.date(),
            source_type=case.subject_type,
            source_id=case.subject_id,
            locale=case.locale,
            currency=case.currency,
            now=now,
        ),
        lambda error: engine.record(
            session, case, "dunning_invoice_missing", actor=events.SYSTEM, data={"error": error}
        ),
    )
    if invoice is None:
        return None
    taken = session.scalar(select(DunningCase.id).where(DunningCase.invoice_id == invoice.id))
    if taken is not None and taken != case.id:
        return None
    case.invoice_id = invoice.id
    session.flush()
    engine.record(
        session,
        case,
        "dunning_invoice_linked",
        data={"invoice_id": invoice.id, "number": invoice.number},
        actor=events.SYSTEM,
    )
    return invoice


def _issue_due_now(session: Session, **kwargs: Any) -> Invoice:
    """`issue_unpaid`, due on its issue date: a failed charge's money was due at the charge
    (the quote or booking said when), not after the freelancer's usual payment terms.
    """
    from webapp.invoices import issue

    return issue.issue_unpaid(session, due_in_days=0, **kwargs)
