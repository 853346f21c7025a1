"""The PDFs of a case: gathering what the letters state, from the case, its invoices,
the quote it comes from and the event timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.dunning import letters
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.invoicing import pdf as invoice_pdf
from billing.invoicing import service as invoicing
from billing.models import Event, Payment
from webapp.dunning.cases import invoice_of, quote_of
from webapp.dunning.steps import letter_for

# Timeline wording (the pack is a legal exhibit: plain, in the letter's language).
_ACTIONS = {
    "fr": {
        "dunning_opened": "Ouverture du dossier de relance",
        "dunning_step_notice": "Courriel : paiement refusé, lien de paiement sécurisé",
        "dunning_step_friendly": "Courriel : relance amiable",
        "dunning_step_formal": "Courriel : relance formelle avec pénalités",
        "dunning_step_formal_notice": "Mise en demeure (lettre recommandée + courriel)",
        "dunning_step_recourse": "Dossier de recouvrement constitué",
        "dunning_step_call": "Appel du client à faire",
        "dunning_paused": "Relances suspendues",
        "dunning_resumed": "Relances reprises",
        "payment_failed": "Paiement par carte refusé",
        "payment_succeeded": "Paiement par carte réussi",
        "invoice_issued": "Facture émise",
        "dunning_step_retry_1": "Nouvelle tentative de prélèvement sur la carte",
        "dunning_step_retry_2": "Nouvelle tentative de prélèvement sur la carte",
        "dunning_step_retry_3": "Nouvelle tentative de prélèvement sur la carte",
        "dunning_retry_failed": "Nouvelle tentative refusée",
        "dunning_paid": "Payé — dossier clos",
        "dunning_client_paying": "Le client paie par le lien sécurisé",
    },
    "en": {
        "dunning_opened": "Dunning case opened",
        "dunning_step_notice": "E-mail: payment declined, secure payment link",
        "dunning_step_friendly": "E-mail: friendly reminder",
        "dunning_step_formal": "E-mail: formal reminder with penalties",
        "dunning_step_formal_notice": "Formal notice (registered letter + e-mail)",
        "dunning_step_recourse": "Recourse pack prepared",
        "dunning_step_call": "Call the client",
        "dunning_paused": "Reminders paused",
        "dunning_resumed": "Reminders resumed",
        "payment_failed": "Card payment declined",
        "payment_succeeded": "Card payment succeeded",
        "invoice_issued": "Invoice issued",
        "dunning_step_retry_1": "Card charged again",
        "dunning_step_retry_2": "Card charged again",
        "dunning_step_retry_3": "Card charged again",
        "dunning_retry_failed": "Retry declined",
        "dunning_paid": "Paid — case closed",
        "dunning_client_paying": "The client pays through the secure link",
    },
}


def formal_notice(session: Session, case: DunningCase, *, now: datetime) -> bytes:
    """The mise en demeure PDF (dated the day it was sent, or today if not sent yet)."""
    config = engine.config_for(session, case.freelancer_id)
    return letters.formal_notice_pdf(letter_for(session, case, as_of=now.date(), config=config))


def timeline(session: Session, case: DunningCase) -> list[letters.TimelineEntry]:
    """Every dated event of the debt: the case, its invoice, the payments of its subject."""
    payment_ids = session.scalars(
        select(Payment.id).where(
            Payment.freelancer_id == case.freelancer_id,
            Payment.subject_type == case.subject_type,
            Payment.subject_id == case.subject_id,
        )
    ).all()
    subjects = [(engine.SUBJECT, str(case.id))]
    if case.invoice_id:
        subjects.append(("invoice", str(case.invoice_id)))
    subjects += [("payment", str(pid)) for pid in payment_ids]
    rows: list[Event] = []
    for subject_type, subject_id in subjects:
        rows += events.timeline(session, subject_type, subject_id)
    rows.sort(key=lambda e: (e.occurred_at, e.id))
    words = _ACTIONS.get(case.locale, _ACTIONS["fr"])
    out = []
    for event in rows:
        if event.action in ("payment_created", "dunning_invoice_linked"):
            continue
        what = words.get(event.action, event.action.replace("_", " "))
        detail = (
            event.data.get("outcome") or event.data.get("failure_code") or event.data.get("reason")
        )
        if detail and event.action != "dunning_step_recourse":
            what = f"{what} ({detail})"
        out.append(letters.TimelineEntry(event.occurred_at, what, event.actor))
    return out


def quote_evidence(session: Session, case: DunningCase) -> letters.QuoteEvidence | None:
    """The signed quote and its acceptance (quotes tables), when the debt is a milestone."""
    quote = quote_of(session, case.subject_type, case.subject_id)
    if quote is None or quote.freelancer_id != case.freelancer_id or quote.acceptance_id is None:
        return None
    from webapp.quotes.models import Milestone, QuoteAcceptance, QuoteVersion

    acceptance = session.get(QuoteAcceptance, quote.acceptance_id)
    if acceptance is None:
        return None
    version = session.scalar(
        select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id, QuoteVersion.number == acceptance.version_number
        )
    )
    milestones = session.scalars(
        select(Milestone).where(Milestone.quote_id == quote.id).order_by(Milestone.position)
    )
    return letters.QuoteEvidence(
        title=quote.title,
        content=(version.content if version else {}) | {"terms": quote.terms},
        version=acceptance.version_number,
        sha256=acceptance.content_sha256,
        signer_name=acceptance.signer_name,
        signed_at=acceptance.signed_at,
        ip=acceptance.ip,
        user_agent=acceptance.user_agent,
        milestones=[{"title": m.title, "amount_minor": m.amount_minor} for m in milestones],
    )


def recourse_pack(session: Session, case: DunningCase, *, now: datetime) -> bytes:
    """ONE PDF: claim, quote evidence, timeline, the mise en demeure, the invoices."""
    config = engine.config_for(session, case.freelancer_id)
    letter = letter_for(session, case, as_of=now.date(), config=config)
    invoices = [invoice_of(session, case)]
    if case.penalty_invoice_id:
        invoices.append(invoicing.get_invoice(session, case.freelancer_id, case.penalty_invoice_id))
    htmls = [invoice_pdf.render_html(i, locale=case.locale) for i in invoices if i is not None]
    return letters.recourse_pack_pdf(
        letter,
        timeline=timeline(session, case),
        quote=quote_evidence(session, case),
        invoice_htmls=htmls,
    )
