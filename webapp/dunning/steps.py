"""What each planned step does (`Steps`, the engine's `StepRunner`): the client's e-mails
in their language, the formal notice letter, the card retries, the penalty invoice.

Steps flush; the sweep (`billing.dunning.service.sweep_case`) records each one
and its time in the caller's transaction.
"""

from __future__ import annotations

import base64
import string
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import payments
from billing.db import utcnow
from billing.dunning import letters, penalties, rates
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
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
from billing.invoicing import service as invoicing
from billing.invoicing.models import Invoice
from billing.models import PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import Freelancer
from webapp.dunning.case_invoice import ensure_invoice
from webapp.dunning.cases import RETRY_PURPOSE, amount_due, invoice_of, pay_link
from webapp.dunning.late_payment import bill_penalties, penalties_for


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
    # The letter's date is a local date where the freelancer works (never UTC's).
    letter_date = (
        step.done_at.astimezone(ZoneInfo(freelancer.timezone)).date()
        if step and step.outcome == "sent"
        else as_of
    )
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
            "legal_form": freelancer.legal_form,
            "vat_number": freelancer.vat_number,
        },
        debtor={
            "name": buyer.get("name", ""),
            "legal_name": buyer.get("legal_name", ""),
            "address": buyer.get("address", ""),
            "email": buyer.get("email", ""),
            "is_business": bool(buyer.get("is_business")),
            "siren": buyer.get("siren") or (buyer.get("siret") or "")[:9],
            "vat_number": buyer.get("vat_number") or "",
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
        registered_letter=case.registered_letter,
        timezone=freelancer.timezone,
        creditor_identity=tuple(creditor_identity(freelancer, case.locale, case.currency)),
    )


def creditor_identity(freelancer: Freelancer, locale: str, currency: str) -> list[str]:
    """The creditor's legal identity lines, worded as on its invoices."""
    from billing.invoicing.pdf import identity_lines
    from billing.invoicing.pdf_labels import LABELS as INVOICE_LABELS
    from webapp.invoices.identity import seller_party

    lang = locale if locale in INVOICE_LABELS else "fr"
    seller = asdict(seller_party(freelancer))
    return identity_lines(seller, INVOICE_LABELS[lang], letters.Formatter(lang, currency))


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
    if step in (NOTICE, "friendly"):
        # These e-mails state no penalty: a rate table not yet updated must not stop them.
        try:
            result, rate = penalties_for(session, case, now.date())
        except rates.MissingRate:
            result, rate = (
                penalties.compute(
                    0, case.currency, due_date=now.date(), as_of=now.date(), business=False
                ),
                0,
            )
    else:
        # MissingRate: the step fails, its message (the command to run) on the timeline.
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
    sent = send_email(
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
    from webapp.notifications.service import to_freelancer

    to_freelancer(
        session,
        case.freelancer_id,
        "dunning_step_sent",
        client=f"{case.client_name} <{case.client_email}>",
        amount_minor=due,
        currency=case.currency,
        invoice_number=number,
        title=subject,
    )
    data: dict[str, Any] = {
        # The recourse pack copies the reminders from their e-mails.
        "email_id": sent.id,
        "to": case.client_email,
        "amount_due_minor": due,
        "penalties_minor": result.total_minor,
    }
    if letter is not None:
        data.update(deadline=letter.deadline.isoformat(), total_minor=letter.total_minor)
    return data


class Steps:
    """The `StepRunner` of the app: what each planned step does."""

    def is_paid(self, session: Session, case: DunningCase) -> bool:
        """Polled before every step: the invoice paid by any means stops the case."""
        if case.invoice_id is None:
            ensure_invoice(session, case, now=utcnow())
        invoice = invoice_of(session, case)
        if invoice is None:
            return False
        # The committed status, never the identity map's copy: a transfer recorded
        # since (webapp.books.settle, under this case's lock) must stop the step.
        status = session.scalar(select(Invoice.status).where(Invoice.id == invoice.id))
        return status == invoicing.PAID

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
