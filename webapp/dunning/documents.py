"""The PDFs of a case: gathering what the letters state, from the case, its invoices,
the quote it comes from and the event timeline."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events
from billing.dunning import letters
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from billing.invoicing import service as invoicing
from billing.models import Event, Payment
from webapp.dunning.cases import invoice_of, quote_of
from webapp.dunning.steps import letter_for
from webapp.quotes.numbers import display_number

# Timeline wording (the pack is a legal exhibit: plain, in the letter's language).
_ACTIONS = {
    "fr": {
        "dunning_opened": "Ouverture du dossier de relance",
        "dunning_step_notice": "Courriel : premier avis de paiement, lien de paiement sécurisé",
        "dunning_step_friendly": "Courriel : relance amiable",
        "dunning_step_formal": "Courriel : relance formelle avec pénalités",
        "dunning_step_formal_notice": "Mise en demeure adressée par courriel",
        "dunning_registered_letter_recorded": "Lettre recommandée enregistrée par le créancier",
        "dunning_step_call_done": "Appel du client",
        "credit_note_issued": "Avoir émis",
        "deposit_issued": "Facture d’acompte émise",
        "final_issued": "Facture de solde émise",
        "debit_note_issued": "Note de débit (pénalités) émise",
        "invoice_payment_recorded": "Paiement enregistré sur la facture",
        "dunning_penalty_invoice_failed": "Note de débit non émise",
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
        "dunning_step_notice": "E-mail: first payment notice, secure payment link",
        "dunning_step_friendly": "E-mail: friendly reminder",
        "dunning_step_formal": "E-mail: formal reminder with penalties",
        "dunning_step_formal_notice": "Formal notice sent by e-mail",
        "dunning_registered_letter_recorded": "Registered letter recorded by the creditor",
        "dunning_step_call_done": "Client called",
        "credit_note_issued": "Credit note issued",
        "deposit_issued": "Deposit invoice issued",
        "final_issued": "Final invoice issued",
        "debit_note_issued": "Debit note (penalties) issued",
        "invoice_payment_recorded": "Payment recorded on the invoice",
        "dunning_penalty_invoice_failed": "Debit note not issued",
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


# Step outcomes and decline codes in words (the pack is read by a judge, not a developer).
_OUTCOMES = {
    "fr": {
        "sent": "envoyé",
        "task_open": "à faire",
        "ready": "prêt",
        "skipped": "sans objet",
        "charging": "prélèvement en cours",
        "failed": "échec",
    },
    "en": {
        "sent": "sent",
        "task_open": "to do",
        "ready": "ready",
        "skipped": "not needed",
        "charging": "charging",
        "failed": "failed",
    },
}
_DECLINES = {
    "fr": {
        "insufficient_funds": "provision insuffisante",
        "expired_card": "carte expirée",
        "authentication_required": "authentification 3-D Secure demandée",
        "card_declined": "carte refusée",
        "generic_decline": "refus de la banque",
        "overdue": "échéance dépassée",
    },
    "en": {
        "insufficient_funds": "insufficient funds",
        "expired_card": "expired card",
        "authentication_required": "3-D Secure authentication requested",
        "card_declined": "card declined",
        "generic_decline": "declined by the bank",
        "overdue": "past due",
    },
}


def _words(lang: str, value: object) -> str:
    text = str(value)
    known = {**_OUTCOMES[lang], **_DECLINES[lang]}
    return known.get(text, _DECLINES[lang]["generic_decline"] if "decline" in text else text)


def _actor(lang: str, actor: str) -> str:
    labels = letters.LABELS[lang]
    if actor.startswith("freelancer"):
        return labels["actor_freelancer"]
    if actor.startswith("client") or actor == "public":
        return labels["actor_client"]
    return labels["actor_system"]


def formal_notice(session: Session, case: DunningCase, *, now: datetime) -> bytes:
    """The mise en demeure PDF (dated the day it was sent, or today if not sent yet)."""
    config = engine.config_for(session, case.freelancer_id)
    today = now.astimezone(ZoneInfo(_timezone(session, case))).date()
    return letters.formal_notice_pdf(letter_for(session, case, as_of=today, config=config))


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
    lang = case.locale if case.locale in _ACTIONS else "fr"
    words = _ACTIONS[lang]
    out = []
    for event in rows:
        if event.action in ("payment_created", "dunning_invoice_linked") or (
            event.action not in words and not event.action.startswith("dunning_step_retry")
        ):
            continue  # internal bookkeeping, not a fact of the debt
        what = words.get(event.action, words["dunning_step_retry_1"])
        detail = (
            event.data.get("outcome") or event.data.get("failure_code") or event.data.get("reason")
        )
        if detail and event.action != "dunning_step_recourse":
            what = f"{what} ({_words(lang, detail)})"
        out.append(letters.TimelineEntry(event.occurred_at, what, _actor(lang, event.actor)))
    return out


def reminders(session: Session, case: DunningCase) -> list[letters.Reminder]:
    """Copies of every reminder e-mail sent for the case, oldest first."""
    from webapp.mail.models import OutboundEmail

    out = []
    for step in sorted(engine.steps_of(session, case.id).values(), key=lambda s: s.id):
        email_id = (step.data or {}).get("email_id")
        email = session.get(OutboundEmail, email_id) if email_id else None
        if email is None or email.freelancer_id != case.freelancer_id:
            continue
        out.append(
            letters.Reminder(
                email.sent_at or email.created_at, email.to_addr, email.subject, email.body_text
            )
        )
    return out


def issued_documents(session: Session, case: DunningCase) -> list[letters.IssuedDocument]:
    """The invoices of the debt, their credit notes and the penalty debit note, as issued:
    for a milestone, every invoice of its quote (deposits included)."""
    from billing.invoicing.documents import document_of
    from billing.invoicing.pdf_labels import LABELS as INVOICE_LABELS

    invoices = []
    invoice = invoice_of(session, case)
    quote = quote_of(session, case.subject_type, case.subject_id)
    if quote is not None and quote.freelancer_id == case.freelancer_id:
        from webapp.quotes.invoicing import SOURCE
        from webapp.quotes.lookups import milestones_of

        for milestone in milestones_of(session, quote):
            found = invoicing.find_by_source(session, case.freelancer_id, SOURCE, milestone.id)
            if found is not None:
                invoices.append(found)
    if invoice is not None and invoice not in invoices:
        invoices.append(invoice)
    if case.penalty_invoice_id:
        penalty = invoicing.get_invoice(session, case.freelancer_id, case.penalty_invoice_id)
        if penalty is not None:
            invoices.append(penalty)
    for one in list(invoices):
        invoices += [c for c in one.credit_notes if c not in invoices]
    labels = INVOICE_LABELS.get(case.locale, INVOICE_LABELS["fr"])
    out = []
    for one in invoices:
        document = document_of(session, one)
        out.append(
            letters.IssuedDocument(one.number, labels[one.kind], document.pdf, document.sha256)
        )
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
        number=display_number(quote),
        date=(version.created_at if version else quote.created_at)
        .astimezone(ZoneInfo(_timezone(session, case)))
        .date()
        .isoformat(),
    )


def _timezone(session: Session, case: DunningCase) -> str:
    from webapp.accounts.models import Freelancer

    freelancer = session.get(Freelancer, case.freelancer_id)
    return freelancer.timezone if freelancer else "Europe/Paris"


def recourse_pack(session: Session, case: DunningCase, *, now: datetime) -> bytes:
    """ONE PDF: guide, parties and claim, signed quote and evidence, timeline, reminders,
    the letter's proof of sending, the mise en demeure, the invoices as issued."""
    config = engine.config_for(session, case.freelancer_id)
    today = now.astimezone(ZoneInfo(_timezone(session, case))).date()
    letter = letter_for(session, case, as_of=today, config=config)
    return letters.recourse_pack_pdf(
        letter,
        timeline=timeline(session, case),
        quote=quote_evidence(session, case),
        reminders=reminders(session, case),
        documents=issued_documents(session, case),
    )
