"""Finding a dunning case and reading what it is owed: the link, the invoice, the balance.

The base of the app's dunning modules: it imports none of them.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.dunning.models import DunningCase
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from webapp.accounts.models import hash_token

RETRY_PURPOSE = "dunning_retry"
LINK_PURPOSE = "dunning_link"
PENALTY_SOURCE = "penalty"
UNPAID = (invoicing.ISSUED, invoicing.PARTIALLY_PAID)


def case_for_token(session: Session, token: str) -> DunningCase | None:
    """The case a "fix my payment" link opens (by the token's hash only)."""
    return session.scalar(select(DunningCase).where(DunningCase.token_hash == hash_token(token)))


def get_case(session: Session, freelancer_id: int, case_id: int) -> DunningCase | None:
    """One of the freelancer's cases (another freelancer's is None)."""
    return session.scalar(
        select(DunningCase).where(
            DunningCase.id == case_id, DunningCase.freelancer_id == freelancer_id
        )
    )


def invoice_of(session: Session, case: DunningCase) -> Invoice | None:
    """The case's invoice, scoped to its freelancer."""
    if case.invoice_id is None:
        return None
    return invoicing.get_invoice(session, case.freelancer_id, case.invoice_id)


def amount_due(session: Session, case: DunningCase) -> int:
    """What is still owed: the invoice's balance, else the failed charge."""
    invoice = invoice_of(session, case)
    return invoicing.balance_due(invoice) if invoice is not None else case.amount_minor


def pay_link(case: DunningCase) -> str:
    """The client's "fix my payment" URL (the token is decrypted, never stored in clear)."""
    from webapp.stripe_connect import secret_box

    token = secret_box().decrypt(case.token_enc)
    return f"{current_app.config['BASE_URL'].rstrip('/')}/pay/{token}"


def quote_of(session: Session, subject_type: str, subject_id: str) -> Any | None:
    """The quote behind a milestone's debt, if the quotes feature is installed."""
    # Read from the quotes tables when they exist (a milestone's debt comes from a quote).
    if subject_type != "milestone" or not subject_id.isdigit():
        return None
    try:
        from webapp.quotes.models import Milestone, Quote
    except ImportError:  # pragma: no cover - quotes not installed
        return None
    milestone = session.get(Milestone, int(subject_id))
    return session.get(Quote, milestone.quote_id) if milestone else None
