"""Quote and milestone operations. They flush, never commit: the route (or the due runner)
commits. No money moves here: the client's deposit is the use case
`webapp.quotes.checkout.confirm` (which commits, through `billing.checkout`), and an
off-session milestone charge is the due runner's (`prepare_charge` → commit → execute).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import events, outcomes, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, NotAllowed
from billing.locking import lock
from billing.models import CardSetup, Payment, PaymentCustomer
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import VAT_STANDARD, Freelancer, hash_token, new_token
from webapp.quotes import content as qc
from webapp.quotes import transitions as t
from webapp.quotes.models import Milestone, Quote, QuoteAcceptance, QuoteVersion

DEFAULT_VALIDITY = timedelta(days=30)
RECOVERY_INDEMNITY_EUR = 40  # Code de commerce L441-10: business clients only


class QuoteError(Exception):
    """A client or freelancer request that cannot be honoured; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


# --- lookups, always scoped --------------------------------------------------


def quote_for(session: Session, freelancer_id: int, quote_id: int) -> Quote | None:
    """One of this freelancer's quotes, or None."""
    return session.scalar(
        select(Quote).where(Quote.id == quote_id, Quote.freelancer_id == freelancer_id)
    )


def quotes_of(session: Session, freelancer_id: int) -> list[Quote]:
    """The freelancer's quotes, newest first."""
    return list(
        session.scalars(
            select(Quote).where(Quote.freelancer_id == freelancer_id).order_by(Quote.id.desc())
        )
    )


def quote_by_token(session: Session, token: str) -> Quote | None:
    """The quote a client link opens."""
    return session.scalar(select(Quote).where(Quote.public_token_hash == hash_token(token)))


def milestone_for(session: Session, freelancer_id: int, milestone_id: int) -> Milestone | None:
    """One of this freelancer's milestones, or None."""
    return session.scalar(
        select(Milestone).where(
            Milestone.id == milestone_id, Milestone.freelancer_id == freelancer_id
        )
    )


def milestones_of(session: Session, quote: Quote) -> list[Milestone]:
    """The quote's milestones in order."""
    return list(
        session.scalars(
            select(Milestone)
            .where(Milestone.quote_id == quote.id, Milestone.freelancer_id == quote.freelancer_id)
            .order_by(Milestone.position)
        )
    )


def version_of(session: Session, quote: Quote, number: int | None = None) -> QuoteVersion:
    """A version of the quote (the current one by default)."""
    version = session.scalar(
        select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id,
            QuoteVersion.number == (number or quote.current_version),
        )
    )
    assert version is not None
    return version


def versions_of(session: Session, quote: Quote) -> list[QuoteVersion]:
    """Every version, oldest first."""
    return list(
        session.scalars(
            select(QuoteVersion)
            .where(QuoteVersion.quote_id == quote.id)
            .order_by(QuoteVersion.number)
        )
    )


def acceptance_of(session: Session, quote: Quote) -> QuoteAcceptance | None:
    """The accepted signature, once there is one."""
    if quote.acceptance_id is None:
        return None
    return session.get(QuoteAcceptance, quote.acceptance_id)


def public_token(quote: Quote) -> str:
    """The client link's token, decrypted for the freelancer to copy or resend."""
    from webapp.stripe_connect import secret_box

    return secret_box().decrypt(quote.public_token_enc)


def quote_url(quote: Quote) -> str:
    """The client's page."""
    return f"{current_app.config['BASE_URL']}/q/{public_token(quote)}"


def deadline_of(quote: Quote, freelancer: Freelancer) -> datetime:
    """The quote is valid through the whole of `valid_until`, in the freelancer's time zone."""
    zone = ZoneInfo(freelancer.timezone or "Europe/Paris")
    return datetime.combine(quote.valid_until + timedelta(days=1), time(), tzinfo=zone)


# --- writing the content -----------------------------------------------------


def _build_content(
    quote_id: int, number: int, freelancer: Freelancer, data: dict[str, Any], currency: str
) -> dict[str, Any]:
    vat_rate_bp = freelancer.vat_rate_bp if freelancer.vat_regime == VAT_STANDARD else 0
    lines = qc.line_amounts(data["lines"])
    if lines:
        totals = qc.totals_from_lines(lines, vat_rate_bp)
        amounts = qc.milestone_amounts(data["milestones"], totals.total_minor)
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
        raise qc.ContentError({"lines": ["The quote's total must be above zero."]})
    client = data["client"]
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
        },
        "client": {
            "name": client["name"],
            "email": client["email"],
            "company": client.get("company", ""),
            "siret": client.get("siret", ""),
            "address": client.get("address", ""),
            "is_business": bool(client.get("is_business")),
        },
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
    )
    _apply_fields(quote, data)
    session.add(quote)
    session.flush()
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


def send_quote(session: Session, freelancer: Freelancer, quote: Quote) -> None:
    """E-mail the client the link to the current version (again, if already sent)."""
    from webapp.mail.service import send_email

    quote = lock(session, Quote, quote.id) or quote
    actor = events.freelancer_actor(freelancer.id)
    if quote.status == t.DRAFT:
        t.move_quote(session, quote, t.SENT, actor=actor, data={"version": quote.current_version})
    elif quote.status in t.OPEN_FOR_CLIENT:
        events.record(
            session,
            subject_type="quote",
            subject_id=quote.id,
            action="quote_resent",
            actor=actor,
            freelancer_id=freelancer.id,
            data={"version": quote.current_version},
        )
    else:
        raise QuoteError(409, f"A quote that is {quote.status} cannot be sent.")
    send_email(
        session,
        to=quote.client_email,
        subject=_l("Quote from %(name)s: %(title)s", name=_seller(freelancer), title=quote.title),
        template="quote_sent",
        context={
            "quote": quote,
            "freelancer": freelancer,
            "seller": _seller(freelancer),
            "url": quote_url(quote),
            "total": Money(quote.total_minor, quote.currency).format(),
        },
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def _seller(freelancer: Freelancer) -> str:
    return freelancer.legal_name or freelancer.display_name


# --- the client --------------------------------------------------------------


def mark_viewed(session: Session, quote: Quote) -> None:
    """The client opened the link: `sent` → `viewed` (once per version)."""
    if quote.status == t.SENT:
        t.move_quote(
            session, quote, t.VIEWED, actor=events.CLIENT, data={"version": quote.current_version}
        )


def check_open(session: Session, quote: Quote, now: datetime) -> Freelancer:
    """The quote's freelancer, if the client may still sign it; else `QuoteError` 409."""
    freelancer = session.get(Freelancer, quote.freelancer_id)
    assert freelancer is not None
    if quote.status == t.ACCEPTED:
        raise QuoteError(409, "This quote is already accepted.", code="already_accepted")
    if quote.status == t.EXPIRED or (
        quote.status in t.OPEN_FOR_CLIENT and now >= deadline_of(quote, freelancer)
    ):
        raise QuoteError(409, "This quote has expired; ask for a new one.", code="expired")
    if quote.status not in t.OPEN_FOR_CLIENT:
        raise QuoteError(409, f"This quote is {quote.status}.", code="not_open")
    return freelancer


def saved_card(session: Session, quote: Quote) -> tuple[PaymentCustomer, str]:
    """The accepted quote's Stripe customer and saved card; `NotAllowed` without one."""
    setup = session.get(CardSetup, quote.card_setup_id) if quote.card_setup_id else None
    if setup is None or not setup.payment_method_id:
        raise NotAllowed(f"quote {quote.id} has no saved card")
    customer = session.get(PaymentCustomer, setup.customer_id)
    assert customer is not None
    return customer, setup.payment_method_id


def milestone_subject(milestone: Milestone) -> Subject:
    """The ledger subject of a milestone's payments."""
    return Subject("milestone", milestone.id)


def prepare_charge(
    session: Session, quote: Quote, milestone: Milestone, *, off_session: bool, actor: str
) -> Payment:
    """Move the milestone to `charging` and write its payment row (not yet sent to Stripe).

    For the due runner's off-session charges; the client-present deposit goes
    through `webapp.quotes.checkout`.
    """
    customer, payment_method_id = saved_card(session, quote)
    t.move_milestone(session, milestone, t.CHARGING, actor=actor)
    return payments.prepare_payment(
        session,
        customer=customer,
        subject=milestone_subject(milestone),
        purpose="deposit" if milestone.trigger == t.ON_ACCEPTANCE else "milestone",
        amount=Money(milestone.amount_minor, milestone.currency),
        payment_method_id=payment_method_id,
        capture_method="automatic",
        off_session=off_session,
        actor=actor,
    )


def latest_payment(session: Session, milestone: Milestone) -> Payment | None:
    """The milestone's newest payment attempt."""
    return session.scalar(
        select(Payment)
        .where(
            Payment.subject_type == "milestone",
            Payment.subject_id == str(milestone.id),
            Payment.freelancer_id == milestone.freelancer_id,
        )
        .order_by(Payment.id.desc())
    )


def decline_quote(session: Session, quote: Quote, reason: str, now: datetime | None = None) -> None:
    """The client says no."""
    from webapp.mail.service import send_email

    quote = lock(session, Quote, quote.id) or quote
    freelancer = check_open(session, quote, now or utcnow())
    quote.decline_reason = reason
    t.move_quote(session, quote, t.DECLINED, actor=events.CLIENT, data={"reason": reason})
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Quote declined: %(title)s", title=quote.title),
        template="quote_declined",
        context={"quote": quote, "reason": reason},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


# --- milestones --------------------------------------------------------------


def _accepted_quote(session: Session, milestone: Milestone) -> Quote:
    quote = session.get(Quote, milestone.quote_id)
    assert quote is not None
    if quote.status != t.ACCEPTED:
        raise QuoteError(409, "The quote is not accepted yet.")
    return quote


def _run(fn: Any, *args: Any, **kwargs: Any) -> None:
    # Transition errors become the API's 409, "already done" included: the
    # client learns the state did not change because of this request.
    try:
        fn(*args, **kwargs)
    except AlreadyDone as exc:
        raise QuoteError(409, str(exc), code="already_done") from None
    except NotAllowed as exc:
        raise QuoteError(409, str(exc), code="not_allowed") from None


def deliver_milestone(
    session: Session,
    freelancer: Freelancer,
    milestone: Milestone,
    note: str,
    now: datetime | None = None,
) -> str:
    """Mark delivered; the client has `auto_approve_days` to approve or object.

    Returns the client's milestone token (e-mailed with the auto-approval date).
    """
    from webapp.mail.service import send_email

    now = now or utcnow()
    milestone = lock(session, Milestone, milestone.id) or milestone
    quote = _accepted_quote(session, milestone)
    if milestone.trigger != t.ON_APPROVAL:
        raise QuoteError(409, "Only on_approval milestones are delivered for approval.")
    token = new_token("m")
    milestone.delivery_note = note
    milestone.delivered_at = now
    milestone.auto_approve_at = now + timedelta(days=quote.auto_approve_days)
    milestone.reminder_sent_at = None
    milestone.objection_reason = (
        milestone.objection_reason if milestone.status == t.OBJECTED else ""
    )
    milestone.client_token_hash = hash_token(token)
    _run(
        t.move_milestone,
        session,
        milestone,
        t.DELIVERED,
        actor=events.freelancer_actor(freelancer.id),
        data={"note": note, "auto_approve_at": milestone.auto_approve_at.isoformat()},
    )
    send_email(
        session,
        to=quote.client_email,
        subject=_l("Delivered: %(title)s", title=milestone.title),
        template="milestone_delivered",
        context=_milestone_context(quote, milestone, freelancer, token),
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )
    return token


def _milestone_context(
    quote: Quote, milestone: Milestone, freelancer: Freelancer, token: str | None
) -> dict[str, Any]:
    base = current_app.config["BASE_URL"]
    zone = ZoneInfo(freelancer.timezone or "Europe/Paris")
    return {
        "quote": quote,
        "milestone": milestone,
        "seller": _seller(freelancer),
        "amount": Money(milestone.amount_minor, milestone.currency).format(),
        "auto_approve_at": (
            milestone.auto_approve_at.astimezone(zone) if milestone.auto_approve_at else None
        ),
        "url": f"{base}/milestones/{token}" if token else quote_url(quote),
        "freelancer_url": f"{base}/quotes/{quote.id}",
    }


def milestone_by_client_token(session: Session, milestone_id: int, token: str) -> Milestone | None:
    """The milestone if `token` is its own link's token or its quote's link token."""
    milestone = session.get(Milestone, milestone_id)
    if milestone is None:
        return None
    digest = hash_token(token)
    if milestone.client_token_hash == digest:
        return milestone
    quote = session.get(Quote, milestone.quote_id)
    if quote is not None and quote.public_token_hash == digest:
        return milestone
    return None


def approve_milestone(
    session: Session, milestone: Milestone, *, by: str = "client", now: datetime | None = None
) -> None:
    """The client approves the delivery (or nobody objected in time: `by="auto"`)."""
    now = now or utcnow()
    milestone = lock(session, Milestone, milestone.id) or milestone
    _accepted_quote(session, milestone)
    milestone.approved_at = now
    milestone.approved_by = by
    _run(
        t.move_milestone,
        session,
        milestone,
        t.APPROVED,
        actor=events.CLIENT if by == "client" else events.SYSTEM,
        action="milestone_auto_approved" if by == "auto" else None,
        data={"approved_by": by},
    )


def object_to_milestone(
    session: Session, milestone: Milestone, reason: str, now: datetime | None = None
) -> None:
    """The client objects: the charge is paused and the freelancer told."""
    from webapp.mail.service import send_email

    milestone = lock(session, Milestone, milestone.id) or milestone
    quote = _accepted_quote(session, milestone)
    if not reason.strip():
        raise QuoteError(422, "Say what is wrong so the freelancer can fix it.", code="reason")
    milestone.objection_reason = reason.strip()
    _run(
        t.move_milestone,
        session,
        milestone,
        t.OBJECTED,
        actor=events.CLIENT,
        data={"reason": milestone.objection_reason},
    )
    freelancer = session.get(Freelancer, quote.freelancer_id)
    assert freelancer is not None
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Objection on %(title)s", title=milestone.title),
        template="milestone_objected",
        context=_milestone_context(quote, milestone, freelancer, None),
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def resolve_objection(
    session: Session, freelancer: Freelancer, milestone: Milestone, action: str, note: str
) -> None:
    """After an objection: `revise` (deliver again), `charge` (agreed with the client), `cancel`."""
    if milestone.status != t.OBJECTED:
        raise QuoteError(409, f"Milestone {milestone.id} is {milestone.status}, not objected.")
    if action == "revise":
        deliver_milestone(session, freelancer, milestone, note)
    elif action == "charge":
        milestone = lock(session, Milestone, milestone.id) or milestone
        milestone.approved_at = utcnow()
        milestone.approved_by = "freelancer"
        _run(
            t.move_milestone,
            session,
            milestone,
            t.APPROVED,
            actor=events.freelancer_actor(freelancer.id),
            action="milestone_approved_after_agreement",
            data={"note": note},
        )
    else:
        cancel_milestone(session, freelancer, milestone, note)


def cancel_milestone(
    session: Session, freelancer: Freelancer, milestone: Milestone, note: str = ""
) -> None:
    """The freelancer drops a milestone: it will never be charged."""
    milestone = lock(session, Milestone, milestone.id) or milestone
    _run(
        t.move_milestone,
        session,
        milestone,
        t.CANCELLED,
        actor=events.freelancer_actor(freelancer.id),
        data={"note": note},
    )


def record_manual_payment(
    session: Session, freelancer: Freelancer, milestone: Milestone, reference: str, paid_on: date
) -> None:
    """The client paid by bank transfer: the milestone is paid, no card is charged."""
    milestone = lock(session, Milestone, milestone.id) or milestone
    _accepted_quote(session, milestone)
    milestone.paid_by = "bank_transfer"
    milestone.paid_at = datetime.combine(paid_on, time(12), tzinfo=ZoneInfo("UTC"))
    _run(
        t.move_milestone,
        session,
        milestone,
        t.PAID,
        actor=events.freelancer_actor(freelancer.id),
        action="milestone_paid_by_transfer",
        data={
            "reference": reference,
            "paid_on": paid_on.isoformat(),
            "amount_minor": milestone.amount_minor,
            "currency": milestone.currency,
        },
    )
    issue_invoice(session, milestone, payment=None)


# --- what the ledger tells us ------------------------------------------------


def _lock_milestone(session: Session, subject_id: str) -> None:
    lock(session, Milestone, int(subject_id))


# The milestone before its payments: the engine's one lock order.
outcomes.register_subject_lock("milestone", _lock_milestone)


@outcomes.subscribe("milestone")
def on_payment_change(session: Session, payment: Payment, old: str, new: str) -> None:
    """Follow the milestone's payment: succeeded → paid; failed → payment_failed.

    Dunning (a separate module) subscribes to the same outcomes, or watches the
    `milestone_payment_failed` event, to chase the client.
    """
    milestone = session.scalar(
        select(Milestone).where(
            Milestone.id == int(payment.subject_id),
            Milestone.freelancer_id == payment.freelancer_id,
        )
    )
    if milestone is None:
        return
    data = {"payment_id": payment.id, "amount_minor": payment.amount_minor}
    if new == payments.SUCCEEDED and milestone.status in (t.CHARGING, t.PAYMENT_FAILED):
        milestone.paid_at = utcnow()
        milestone.paid_by = "card"
        t.move_milestone(session, milestone, t.PAID, actor=events.STRIPE, data=data)
        issue_invoice(session, milestone, payment=payment)
    elif milestone.status == t.CHARGING and (
        new in (payments.FAILED, payments.CANCELED)
        # Off session nobody is there to pass 3-D Secure: the client must come back.
        or (new == payments.REQUIRES_ACTION and payment.off_session)
    ):
        data.update(
            failure_code=payment.failure_code or new, failure_message=payment.failure_message
        )
        t.move_milestone(
            session,
            milestone,
            t.PAYMENT_FAILED,
            actor=events.STRIPE,
            action="milestone_payment_failed",
            data=data,
        )


def issue_invoice(session: Session, milestone: Milestone, payment: Payment | None) -> None:
    """Every milestone payment is backed by an invoice (the invoices feature issues it).

    By card: issued for the succeeded payment. By bank transfer: issued, then
    the transfer recorded on it.
    """
    from webapp.quotes.invoicing import issue_milestone_invoice

    try:
        # A savepoint: an invoice that cannot be issued (e.g. the profile lacks
        # the legal name) must never undo the record of money already taken.
        with session.begin_nested():
            invoice = issue_milestone_invoice(session, milestone, payment)
    except (NotAllowed, ValueError) as exc:
        events.record(
            session,
            subject_type="milestone",
            subject_id=milestone.id,
            action="milestone_invoice_not_issued",
            freelancer_id=milestone.freelancer_id,
            data={"error": str(exc), "payment_id": payment.id if payment else None},
        )
        return
    events.record(
        session,
        subject_type="milestone",
        subject_id=milestone.id,
        action="milestone_invoiced",
        freelancer_id=milestone.freelancer_id,
        data={"invoice_id": invoice.id, "number": getattr(invoice, "number", None)},
    )
