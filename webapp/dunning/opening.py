"""Opening dunning cases: on a failed off-session charge (with its unpaid invoice and
J+0 at once) and on an invoice past its due date. Operations flush; the caller commits.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from billing import events
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.models import Payment, PaymentCustomer
from webapp.accounts.models import Freelancer, hash_token, new_token
from webapp.dunning.case_invoice import Buyer, ensure_invoice
from webapp.dunning.cases import quote_of
from webapp.dunning.steps import Steps


def _buyer(session: Session, payment: Payment, customer: PaymentCustomer) -> Buyer:
    quote = quote_of(session, payment.subject_type, payment.subject_id)
    if quote is not None and quote.freelancer_id == payment.freelancer_id:
        return Buyer(
            name=quote.client_name,
            email=quote.client_email,
            is_business=quote.client_is_business,
            legal_name=quote.client_company,
            siret=quote.client_siret,
            address=quote.client_address,
            details=quote.client_details or {},
        )
    subject = _client_subject(session, payment)
    if subject is not None:
        # A booking or paid question: the client said whether they pay for a company.
        return Buyer(
            name=subject.client_name,
            email=subject.client_email,
            is_business=subject.client_is_business,
            details=subject.client_details or {},
        )
    return Buyer(name=customer.name, email=customer.email, is_business=False)


def _client_subject(session: Session, payment: Payment) -> Any:
    """The booking or question a payment is for (same freelancer), or None."""
    if not payment.subject_id.isdigit():
        return None
    model: Any = None
    if payment.subject_type == "booking":
        from webapp.booking.models import Booking as model
    elif payment.subject_type == "message":
        from webapp.messages.models import Question as model
    if model is None:
        return None
    found = session.get(model, int(payment.subject_id))
    return found if found is not None and found.freelancer_id == payment.freelancer_id else None


def _new_token() -> tuple[str, str, str]:
    from webapp.stripe_connect import secret_box

    token = new_token("pay")
    return token, hash_token(token), secret_box().encrypt(token)


def open_for_failed_payment(session: Session, payment: Payment, *, now: datetime) -> DunningCase:
    """Open (or reuse) the case of a failed off-session charge, issue its invoice, send J+0."""
    customer = session.get(PaymentCustomer, payment.customer_id)
    assert customer is not None
    freelancer = session.get(Freelancer, payment.freelancer_id)
    assert freelancer is not None
    buyer = _buyer(session, payment, customer)
    _, token_hash, token_enc = _new_token()
    case, created = engine.open_case(
        session,
        engine.NewCase(
            freelancer_id=payment.freelancer_id,
            source_key=f"payment:{payment.subject_type}:{payment.subject_id}",
            subject_type=payment.subject_type,
            subject_id=payment.subject_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            reason=payment.failure_code or "card_declined",
            anchor_at=now,
            token_hash=token_hash,
            token_enc=token_enc,
            client_name=buyer.name,
            client_email=buyer.email,
            client_is_business=buyer.is_business,
            locale=_client_locale(session, payment, freelancer),
            failed_payment_id=payment.id,
            customer_id=customer.id,
            payment_method_id=payment.payment_method_id,
            original_purpose=payment.purpose,
            hard_decline=payment.hard_decline,
        ),
    )
    if not created:
        engine.record(
            session,
            case,
            "dunning_charge_failed_again",
            actor=events.SYSTEM,
            data={"payment_id": payment.id, "failure_code": payment.failure_code},
        )
        return case
    ensure_invoice(session, case, buyer, now=now)
    _tell_opened(session, case)
    # J+0 at once, in this same transaction: the e-mail leaves only if it commits.
    engine.sweep_case(session, case.id, now, Steps())
    return case


def open_for_overdue_invoice(session: Session, invoice: Invoice, *, now: datetime) -> DunningCase:
    """Open the case of an invoice (bank transfer) past its due date; J+0 is the day after."""
    _, token_hash, token_enc = _new_token()
    buyer = invoice.buyer or {}
    case, created = engine.open_case(
        session,
        engine.NewCase(
            freelancer_id=invoice.freelancer_id,
            source_key=f"invoice:{invoice.id}",
            subject_type=invoice.source_type,
            subject_id=invoice.source_id,
            amount_minor=invoicing.balance_due(invoice),
            currency=invoice.currency,
            reason="overdue",
            anchor_at=datetime.combine(invoice.due_date + timedelta(days=1), time(), tzinfo=UTC),
            token_hash=token_hash,
            token_enc=token_enc,
            client_name=buyer.get("name", ""),
            client_email=buyer.get("email", ""),
            client_is_business=bool(buyer.get("is_business")),
            locale=invoice.locale,
            invoice_id=invoice.id,
        ),
    )
    if created:
        _tell_opened(session, case)
        engine.sweep_case(session, case.id, now, Steps())
    return case


def _client_locale(session: Session, payment: Payment, freelancer: Freelancer) -> str:
    # The case's e-mails and letters are in the language of the client who failed to pay.
    from webapp.notifications.parties import client_of_payment

    client = client_of_payment(session, payment)
    return (client.locale if client else None) or freelancer.locale or "fr"


def _tell_opened(session: Session, case: DunningCase) -> None:
    from webapp.notifications.service import to_freelancer

    to_freelancer(
        session,
        case.freelancer_id,
        "dunning_opened",
        client=f"{case.client_name} <{case.client_email}>",
        amount_minor=case.amount_minor,
        currency=case.currency,
        note=case.reason,
    )
