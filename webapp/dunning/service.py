"""Dunning in the app: opening cases on failed charges and overdue invoices, and doing
the steps (e-mails, card retries, letters, penalty invoices) the engine schedules.

The engine is `billing.dunning` (no Flask); this module supplies what needs the
app: the freelancer's profile, invoices, e-mails, the encrypted link token.
Operations flush; the caller commits.
"""

from __future__ import annotations

import base64
import logging
import string
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.db import utcnow
from billing.dunning import letters, penalties, rates
from billing.dunning import service as engine
from billing.dunning.models import DunningCase, DunningRate
from billing.dunning.schedule import (
    ACCOUNTS_DEPARTMENT,
    CALL,
    FORMAL_NOTICE,
    NOTICE,
    RECOURSE,
    RETRY_PREFIX,
    DunningConfig,
    PlannedStep,
)
from billing.errors import AlreadyDone, NotAllowed
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.models import Payment, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import Freelancer, hash_token, new_token

log = logging.getLogger(__name__)

RETRY_PURPOSE = "dunning_retry"
LINK_PURPOSE = "dunning_link"
PENALTY_SOURCE = "penalty"
UNPAID = (invoicing.ISSUED, invoicing.PARTIALLY_PAID)


# --- reading --------------------------------------------------------------------


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


def rate_table(session: Session) -> rates.RateTable:
    """The editable rate table from the database (the seed when empty)."""
    rows = list(session.scalars(select(DunningRate)))
    if not rows:
        return rates.DEFAULT_TABLE
    return rates.RateTable(rates.Rate(r.kind, r.valid_from, r.rate_bp, r.source) for r in rows)


def penalties_for(
    session: Session, case: DunningCase, as_of: date, *, formal_notice_date: date | None = None
) -> tuple[penalties.Penalties, int]:
    """The case's penalties as of a day, and the annual rate applied (basis points)."""
    invoice = invoice_of(session, case)
    table = rate_table(session)
    if invoice is None:
        due, amount, business, contractual = (
            case.anchor_at.date(),
            case.amount_minor,
            case.client_is_business,
            None,
        )
    else:
        due, amount = invoice.due_date, invoicing.balance_due(invoice)
        business, contractual = bool(invoice.buyer.get("is_business")), invoice.penalty_rate_bp
    if formal_notice_date is None:
        step = engine.steps_of(session, case.id).get(FORMAL_NOTICE)
        formal_notice_date = step.done_at.date() if step and step.outcome == "sent" else None
    result = penalties.compute(
        amount,
        case.currency,
        due_date=due,
        as_of=as_of,
        business=business,
        contractual_rate_bp=contractual,
        formal_notice_date=formal_notice_date,
        table=table,
    )
    if not business:
        rate = table.rate_on(rates.LEGAL, as_of)
    elif contractual is not None:
        rate = contractual
    else:
        rate = table.rate_on(rates.ECB, as_of) + rates.ECB_MARGIN_BP
    return result, rate


# --- opening --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who owes the money, as the invoice and the letters name them."""

    name: str
    email: str
    is_business: bool
    legal_name: str = ""
    siret: str = ""
    address: str = ""

    def party(self) -> invoicing.Party:
        """The invoice's buyer side."""
        return invoicing.Party(
            name=self.name,
            legal_name=self.legal_name,
            siret=self.siret,
            address=self.address,
            email=self.email,
            is_business=self.is_business,
        )


def _quote_of(session: Session, subject_type: str, subject_id: str) -> Any | None:
    # Read from the quotes tables when they exist (a milestone's debt comes from a quote).
    if subject_type != "milestone" or not subject_id.isdigit():
        return None
    try:
        from webapp.quotes.models import Milestone, Quote
    except ImportError:  # pragma: no cover - quotes not installed
        return None
    milestone = session.get(Milestone, int(subject_id))
    return session.get(Quote, milestone.quote_id) if milestone else None


def _buyer(session: Session, payment: Payment, customer: PaymentCustomer) -> Buyer:
    quote = _quote_of(session, payment.subject_type, payment.subject_id)
    if quote is not None and quote.freelancer_id == payment.freelancer_id:
        return Buyer(
            name=quote.client_name,
            email=quote.client_email,
            is_business=quote.client_is_business,
            legal_name=quote.client_company,
            siret=quote.client_siret,
            address=quote.client_address,
        )
    return Buyer(name=customer.name, email=customer.email, is_business=False)


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
    from webapp.invoices.issue import priced_line

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    buyer = buyer or Buyer(case.client_name, case.client_email, case.client_is_business)
    with force_locale(case.locale):
        description = _describe(session, case.subject_type, case.subject_id)
    try:
        with session.begin_nested():
            invoice = _issue_due_now(
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
            )
    except NotAllowed as exc:
        engine.record(
            session, case, "dunning_invoice_missing", actor=events.SYSTEM, data={"error": str(exc)}
        )
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
            locale=freelancer.locale or "fr",
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
        engine.sweep_case(session, case.id, now, Steps())
    return case


# --- stopping: paid ---------------------------------------------------------------


def mark_paid(
    session: Session,
    case: DunningCase,
    *,
    now: datetime,
    payment: Payment | None = None,
    actor: str = events.SYSTEM,
) -> None:
    """Close the case as paid (once), recording a card payment on its invoice."""
    if case.status in engine.CLOSED:
        return
    invoice = invoice_of(session, case)
    if payment is not None and invoice is not None:
        with suppress(AlreadyDone), session.begin_nested():
            invoicing.record_payment(
                session,
                invoice.id,
                amount_minor=min(
                    payment.amount_captured_minor or payment.amount_minor,
                    invoicing.balance_due(invoice),
                ),
                method="card",
                paid_at=now,
                payment_id=payment.id,
                reference=payment.stripe_payment_intent_id or "",
                actor=actor,
            )
    if case.status in engine.CLOSED:
        # The invoice turning paid already closed it (`on_invoice_status`).
        return
    engine.close(
        session,
        case,
        engine.PAID,
        actor=actor,
        now=now,
        data={
            "payment_id": payment.id if payment else None,
            "purpose": payment.purpose if payment else None,
        },
    )


def on_invoice_status(session: Session, invoice: Invoice, old: str, new: str) -> None:
    """Invoices tell us when an invoice is paid (e.g. a transfer recorded): stop at once."""
    if new != invoicing.PAID and new != invoicing.CREDITED:
        return
    case = session.scalar(
        select(DunningCase).where(
            DunningCase.invoice_id == invoice.id, DunningCase.freelancer_id == invoice.freelancer_id
        )
    )
    if case is None or case.status in engine.CLOSED:
        return
    if new == invoicing.PAID:
        engine.close(
            session,
            case,
            engine.PAID,
            actor=events.SYSTEM,
            now=utcnow(),
            data={"invoice": invoice.number},
        )
    else:
        engine.close(
            session,
            case,
            engine.RESOLVED,
            actor=events.SYSTEM,
            now=utcnow(),
            data={"credited": invoice.number},
        )


def on_payment(session: Session, payment: Payment, old: str, new: str) -> None:
    """Every payment status change: open a case on a failed off-session charge, close on success."""
    if payment.subject_type == engine.SUBJECT:
        return
    key = f"payment:{payment.subject_type}:{payment.subject_id}"
    if new == payments.SUCCEEDED:
        case = engine.find_case(session, payment.freelancer_id, key)
        if case is not None and case.status not in engine.CLOSED:
            _step_outcome(session, case, payment, "charged")
            mark_paid(session, case, now=utcnow(), payment=payment)
        return
    if new != payments.FAILED:
        return
    case = engine.find_case(session, payment.freelancer_id, key)
    if payment.purpose in (RETRY_PURPOSE, LINK_PURPOSE):
        if case is not None:
            _step_outcome(session, case, payment, "failed")
            if payment.hard_decline and not case.hard_decline:
                # Card networks fine merchants who retry a lost or stolen card.
                case.hard_decline = True
                engine.record(
                    session,
                    case,
                    "dunning_retries_stopped",
                    data={"failure_code": payment.failure_code},
                    actor=events.SYSTEM,
                )
        return
    if not payment.off_session or payment.capture_method == "manual":
        # Dunning recovers money owed. A failed pre-authorisation is not owed
        # yet: the booking asks the client for another card, then cancels.
        return
    if not has_app_context():
        # Opening needs the app (invoices, e-mail, keys); the due sweep catches up.
        return
    open_for_failed_payment(session, payment, now=utcnow())


def _step_outcome(session: Session, case: DunningCase, payment: Payment, outcome: str) -> None:
    for step in engine.steps_of(session, case.id).values():
        if step.payment_id == payment.id and step.outcome != outcome:
            step.outcome = outcome
            engine.record(
                session,
                case,
                f"dunning_retry_{outcome}",
                actor=events.SYSTEM,
                data={
                    "step": step.step,
                    "payment_id": payment.id,
                    "failure_code": payment.failure_code,
                },
            )
    session.flush()


def subscribe() -> None:
    """Listen to every payment and every invoice status change (idempotent)."""
    outcomes.subscribe(outcomes.ANY_SUBJECT)(on_payment)
    invoicing.on_status_change(on_invoice_status)


# --- the steps ----------------------------------------------------------------------


def signature(freelancer: Freelancer, config: DunningConfig) -> str:
    """Who signs reminders: the freelancer, or a neutral accounts department."""
    business = freelancer.legal_name or freelancer.display_name
    if config.signature == ACCOUNTS_DEPARTMENT:
        department = config.accounts_department_name or _("Accounts department")
        return f"{department} — {business}"
    return (
        f"{freelancer.display_name} — {business}"
        if freelancer.legal_name
        else freelancer.display_name
    )


def letter_for(
    session: Session, case: DunningCase, *, as_of: date, config: DunningConfig
) -> letters.Letter:
    """The mise en demeure's content as of a day (from the case, its invoice, the profile)."""
    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    invoice = invoice_of(session, case)
    step = engine.steps_of(session, case.id).get(FORMAL_NOTICE)
    letter_date = step.done_at.date() if step and step.outcome == "sent" else as_of
    result, rate = penalties_for(session, case, letter_date, formal_notice_date=letter_date)
    buyer = (
        invoice.buyer
        if invoice
        else {
            "name": case.client_name,
            "email": case.client_email,
            "is_business": case.client_is_business,
        }
    )
    with force_locale(case.locale):
        signed = signature(freelancer, config)
    return letters.Letter(
        locale=case.locale,
        currency=case.currency,
        creditor={
            "name": freelancer.display_name,
            "legal_name": freelancer.legal_name,
            "siret": freelancer.siret,
            "address": freelancer.address,
            "email": freelancer.email,
            "iban": freelancer.iban,
            "bic": freelancer.bic,
        },
        debtor={
            "name": buyer.get("name", ""),
            "legal_name": buyer.get("legal_name", ""),
            "address": buyer.get("address", ""),
            "email": buyer.get("email", ""),
            "is_business": bool(buyer.get("is_business")),
        },
        invoice_number=invoice.number if invoice else "—",
        issue_date=invoice.issue_date if invoice else case.anchor_at.date(),
        due_date=invoice.due_date if invoice else case.anchor_at.date(),
        amount_minor=invoice.total_incl_vat_minor if invoice else case.amount_minor,
        paid_minor=invoicing.paid_minor(invoice) if invoice else 0,
        penalties=result,
        rate_bp=rate,
        letter_date=letter_date,
        deadline=letter_date + timedelta(days=config.final_deadline_days),
        pay_link=pay_link(case),
        signature=signed,
    )


def _custom_text(
    config: DunningConfig, step: str, locale: str, values: dict[str, str]
) -> dict[str, str]:
    # The freelancer's own wording: `$placeholders` only (string.Template), never a
    # template language that could run code.
    text = config.templates.get(step, {}).get(locale) or {}
    return {k: string.Template(v).safe_substitute(values) for k, v in text.items() if v}


SUBJECTS = {
    NOTICE: _l("Your payment did not go through — invoice %(number)s"),
    "friendly": _l("Friendly reminder: invoice %(number)s"),
    "formal": _l("Reminder: invoice %(number)s is overdue"),
    FORMAL_NOTICE: _l("Formal notice (mise en demeure): invoice %(number)s"),
}


def send_step_email(
    session: Session, case: DunningCase, step: str, *, now: datetime, config: DunningConfig
) -> dict[str, Any]:
    """The client's e-mail of one step, in the case's language; returns details for the timeline."""
    from webapp.mail.service import send_email

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    invoice = invoice_of(session, case)
    fmt = letters.Formatter(case.locale, case.currency)
    due = amount_due(session, case)
    result, rate = penalties_for(session, case, now.date())
    link = pay_link(case)
    number = invoice.number if invoice else "—"
    attachments = []
    letter = None
    if step == FORMAL_NOTICE:
        letter = letter_for(session, case, as_of=now.date(), config=config)
        pdf = letters.formal_notice_pdf(letter)
        attachments.append(
            {
                "filename": f"mise-en-demeure-{number}.pdf",
                "content_type": "application/pdf",
                "data_b64": base64.b64encode(pdf).decode(),
            }
        )
    from webapp.dunning.reasons import reason_text

    with force_locale(case.locale):
        signed = signature(freelancer, config)
        subject = SUBJECTS[step] % {"number": number}
        reason = reason_text(case.reason)
    values = {
        "client": case.client_name,
        "amount": fmt.money(due),
        "invoice": number,
        "due_date": fmt.date(invoice.due_date) if invoice else "",
        "link": link,
        "penalties": fmt.money(result.total_minor),
        "signature": signed,
    }
    custom = _custom_text(config, step, case.locale, values)
    send_email(
        session,
        to=case.client_email,
        subject=custom.get("subject") or subject,
        template=f"dunning_{step}",
        context={
            "case": case,
            "invoice": invoice,
            "amount": fmt.money(due),
            "due_date": fmt.date(invoice.due_date) if invoice else "",
            "link": link,
            "reason": reason,
            "penalties": result,
            "letter_total": fmt.money(letter.total_minor) if letter else "",
            "penalty_total": fmt.money(result.total_minor),
            "interest": fmt.money(result.interest_minor),
            "indemnity": fmt.money(result.indemnity_minor),
            "rate": fmt.rate(rate),
            "letter": letter,
            "deadline": fmt.date(letter.deadline) if letter else "",
            "signature": signed,
            "custom_body": custom.get("body"),
            "freelancer": freelancer,
        },
        locale=case.locale,
        freelancer_id=case.freelancer_id,
        attachments=attachments,
    )
    data: dict[str, Any] = {
        "to": case.client_email,
        "amount_due_minor": due,
        "penalties_minor": result.total_minor,
    }
    if letter is not None:
        data.update(deadline=letter.deadline.isoformat(), total_minor=letter.total_minor)
    return data


def bill_penalties(session: Session, case: DunningCase, *, now: datetime) -> Invoice | None:
    """The separate penalty invoice (never an edit of the issued one), once per case."""
    if case.penalty_invoice_id is not None:
        return invoicing.get_invoice(session, case.freelancer_id, case.penalty_invoice_id)
    invoice = invoice_of(session, case)
    if invoice is None:
        return None
    result, _rate = penalties_for(session, case, now.date(), formal_notice_date=now.date())
    if result.total_minor <= 0:
        return None
    from webapp.invoices.issue import issue_unpaid

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    lines = []
    with force_locale(case.locale):
        # Penalties and the indemnity are not subject to VAT (not the price of a service).
        if result.interest_minor:
            lines.append(
                invoicing.Line(
                    _(
                        "Late-payment interest, invoice %(number)s (%(days)s days)",
                        number=invoice.number,
                        days=result.days_late,
                    ),
                    1,
                    result.interest_minor,
                    0,
                )
            )
        if result.indemnity_minor:
            lines.append(
                invoicing.Line(
                    _(
                        "Fixed recovery indemnity (Code de commerce D441-5), invoice %(number)s",
                        number=invoice.number,
                    ),
                    1,
                    result.indemnity_minor,
                    0,
                )
            )
    buyer = invoice.buyer
    try:
        with session.begin_nested():
            penalty = issue_unpaid(
                session,
                freelancer=freelancer,
                lines=lines,
                buyer=invoicing.Party(
                    **{
                        k: buyer.get(k)
                        for k in (
                            "name",
                            "legal_name",
                            "siret",
                            "address",
                            "email",
                            "is_business",
                            "vat_number",
                        )
                    }
                ),
                service_date=now.date(),
                source_type=PENALTY_SOURCE,
                source_id=invoice.id,
                locale=case.locale,
                currency=case.currency,
                now=now,
            )
    except NotAllowed as exc:
        engine.record(
            session,
            case,
            "dunning_penalty_invoice_failed",
            data={"error": str(exc)},
            actor=events.SYSTEM,
        )
        return None
    case.penalty_invoice_id = penalty.id
    session.flush()
    return penalty


class Steps:
    """The `StepRunner` of the app: what each planned step does."""

    def is_paid(self, session: Session, case: DunningCase) -> bool:
        """Polled before every step: the invoice paid by any means stops the case."""
        if case.invoice_id is None:
            ensure_invoice(session, case, now=utcnow())
        invoice = invoice_of(session, case)
        return invoice is not None and invoice.status == invoicing.PAID

    def run(
        self, session: Session, case: DunningCase, step: PlannedStep, now: datetime
    ) -> engine.StepResult:
        """Do one step (flush only)."""
        config = engine.config_for(session, case.freelancer_id)
        if step.name.startswith(RETRY_PREFIX):
            return self._retry(session, case)
        if step.name == CALL:
            return engine.StepResult("task_open", {"amount_due_minor": amount_due(session, case)})
        if step.name == RECOURSE:
            return engine.StepResult("ready", {"amount_due_minor": amount_due(session, case)})
        data = send_step_email(session, case, step.name, now=now, config=config)
        if step.name == FORMAL_NOTICE and config.bill_penalties:
            penalty = bill_penalties(session, case, now=now)
            if penalty is not None:
                data["penalty_invoice"] = penalty.number
        return engine.StepResult("sent", data)

    def _retry(self, session: Session, case: DunningCase) -> engine.StepResult:
        due = amount_due(session, case)
        customer = session.get(PaymentCustomer, case.customer_id) if case.customer_id else None
        if case.hard_decline or not case.payment_method_id or customer is None or due <= 0:
            return engine.StepResult("skipped", {"why": "no card to retry"})
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject(case.subject_type, case.subject_id),
            purpose=RETRY_PURPOSE,
            amount=Money(due, case.currency),
            payment_method_id=case.payment_method_id,
            capture_method="automatic",
            off_session=True,
        )
        return engine.StepResult(
            "charging", {"payment_id": payment.id, "amount_minor": due}, payment.id
        )


def notify_freelancer_of_pause(session: Session, case: DunningCase) -> None:
    """Tell the freelancer the client disputed or promised to pay (reminders are paused)."""
    from webapp.mail.service import send_email

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    invoice = invoice_of(session, case)
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Dunning paused by your client"),
        template="dunning_paused",
        context={
            "case": case,
            "invoice": invoice,
            "base": current_app.config["BASE_URL"].rstrip("/"),
        },
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def save_settings(session: Session, freelancer_id: int, changes: dict[str, Any]) -> Any:
    """Merge validated changes into the freelancer's escalation settings; flushes.

    Raises `InvalidConfig` (with field messages) when the whole no longer holds
    together, e.g. a formal reminder scheduled before the friendly one.
    """
    from billing.dunning.models import DunningSettings
    from billing.dunning.schedule import config_from

    row = session.scalar(
        select(DunningSettings).where(DunningSettings.freelancer_id == freelancer_id)
    )
    stored = {**(row.config if row else {}), **changes}
    config = config_from(stored)
    if row is None:
        session.add(DunningSettings(freelancer_id=freelancer_id, config=stored))
    else:
        row.config = stored
    session.flush()
    events.record(
        session,
        subject_type="dunning_settings",
        subject_id=freelancer_id,
        action="dunning_settings_saved",
        actor=events.freelancer_actor(freelancer_id),
        freelancer_id=freelancer_id,
        data={"fields": sorted(changes)},
    )
    return config
