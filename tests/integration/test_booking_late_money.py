"""Money that arrives as a booking gives up on it: kept with the booking, or given back.

The choice (docs/design.md, "Late money on a closed booking"): a 3-D Secure
payment that succeeded before the expiry could cancel it confirms the booking
(its slot was still held); money that arrives after the booking closed is
refunded in full, with its credit note, by the `booking-settle` due kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from billing import events
from billing.invoicing.models import Invoice
from billing.models import Payment
from tests.integration.test_booking_api import (  # noqa: F401 (fixtures)
    app_config,
    book,
    save_card,
    slot_in,
)
from tests.integration.test_booking_api import gateway as gateway  # noqa: F401
from tests.integration.test_booking_api import seller as seller  # noqa: F401
from tests.integration.test_booking_stripe import _complete_profile
from webapp.booking.lifecycle import lock_booking, transition
from webapp.booking.models import Booking

THREE_D_SECURE = "pm_card_threeDSecure2Required"


def started_with_3ds(client, db_session, gateway, seller):
    # a complete business profile, so that every payment is invoiced
    _complete_profile(client, seller)
    offering = seller["offering"]()
    body = book(client, seller, offering, slot_in(3)).get_json()
    save_card(db_session, gateway, body["booking_id"], THREE_D_SECURE)
    confirmed = client.post(
        f"/api/v1/public/bookings/{body['booking_id']}/confirm",
        json={"manage_token": body["manage_token"]},
    )
    assert confirmed.get_json()["status"] == "requires_action", confirmed.get_json()
    payment = db_session.scalar(
        select(Payment).where(Payment.subject_id == str(body["booking_id"]))
    )
    return body["booking_id"], payment.stripe_payment_intent_id


def invoice_kinds(db_session, booking_id: int) -> list[str]:
    """The invoices and credit notes of the booking's freelancer (who has only this booking)."""
    booking = db_session.get(Booking, booking_id)
    rows = db_session.scalars(select(Invoice).where(Invoice.freelancer_id == booking.freelancer_id))
    return sorted(row.kind for row in rows)


def run_due(app, at):
    from webapp.due import run_due as run

    with app.app_context():
        return run(at)


def test_3ds_completed_just_before_the_expiry_confirms_the_booking(
    app, client, db_session, gateway, seller
):
    # given a prepay booking waiting for 3-D Secure, no webhook configured
    booking_id, intent = started_with_3ds(client, db_session, gateway, seller)
    # when the client completes 3-D Secure, and only then the expiry runs
    gateway.complete_authentication(intent, True)
    lines = run_due(app, datetime.now(UTC) + timedelta(minutes=16))
    # then Stripe refused the cancel, the payment is recorded succeeded, the booking stands
    db_session.expire_all()
    booking = db_session.get(Booking, booking_id)
    assert booking.status == "confirmed", lines
    assert booking.payment_state == "captured"
    assert gateway.payment_intents[intent].status == "succeeded"
    assert gateway.refunded_minor(intent) == 0
    assert invoice_kinds(db_session, booking_id) == ["invoice"]
    assert not any("GatewayRejected" in line for line in lines), lines


def test_money_arriving_after_the_booking_closed_is_refunded_in_full(
    app, client, db_session, gateway, seller
):
    # given a booking that expired on our side while its 3-D Secure was open
    booking_id, intent = started_with_3ds(client, db_session, gateway, seller)
    booking = lock_booking(db_session, booking_id)
    transition(db_session, booking, "expired", actor=events.SYSTEM, target_minor=0)
    db_session.commit()
    # when the payment succeeds at Stripe afterwards, its webhook lost
    gateway.complete_authentication(intent, True)
    first = run_due(app, datetime.now(UTC) + timedelta(minutes=10))
    again = run_due(app, datetime.now(UTC) + timedelta(minutes=20))
    # then the sweep learnt it, and the settle kind gave it all back, once
    db_session.expire_all()
    booking = db_session.get(Booking, booking_id)
    assert booking.status == "expired", first
    assert not booking.settle_due
    assert gateway.refunded_minor(intent) == 10_000, first
    assert any("booking-settle" in line for line in first), first
    assert not any("booking-settle" in line for line in again), again
    payment = db_session.scalar(select(Payment).where(Payment.subject_id == str(booking_id)))
    assert (payment.amount_captured_minor, payment.amount_refunded_minor) == (10_000, 10_000)
    assert invoice_kinds(db_session, booking_id) == ["credit_note", "invoice"]
    # and the client is told, once, how much went back to their card
    from webapp.mail.models import OutboundEmail

    told = db_session.scalars(
        select(OutboundEmail).where(OutboundEmail.to_addr == booking.client_email)
    ).all()
    returned = [e for e in told if "returned" in e.subject or "rendu" in e.subject]
    assert len(returned) == 1, [e.subject for e in told]
    assert "100" in returned[0].body_text


def test_late_money_given_back_is_told_once_even_if_we_die_before_the_notice(
    app, client, db_session, gateway, seller, monkeypatch
):
    from webapp.booking import emails
    from webapp.mail.models import OutboundEmail

    # given late money on an expired booking, and a process that dies right after the refund
    booking_id, intent = started_with_3ds(client, db_session, gateway, seller)
    booking = lock_booking(db_session, booking_id)
    transition(db_session, booking, "expired", actor=events.SYSTEM, target_minor=0)
    db_session.commit()
    gateway.complete_authentication(intent, True)
    real, calls = emails.send_late_money_returned, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("killed before the notice committed")
        return real(*args, **kwargs)

    monkeypatch.setattr(emails, "send_late_money_returned", dying)
    at = datetime.now(UTC) + timedelta(minutes=10)
    first = run_due(app, at)
    # then the money went back, and nobody was told yet
    assert gateway.refunded_minor(intent) == 10_000, first
    client_email = db_session.get(Booking, booking_id).client_email

    def returned() -> list[str]:
        db_session.expire_all()
        told = db_session.scalars(
            select(OutboundEmail).where(OutboundEmail.to_addr == client_email)
        ).all()
        return [e.body_text for e in told if "returned" in e.subject or "rendu" in e.subject]

    assert returned() == [] and len(calls) == 1, first
    # when the due work runs again, twice, a few minutes later
    second = run_due(app, at + timedelta(minutes=5))
    third = run_due(app, at + timedelta(minutes=10))
    # then the client is told once, with what went back, and nothing is refunded twice
    assert any("late-money notice sent" in line for line in second), second
    assert not any("late-money" in line for line in third), third
    bodies = returned()
    assert len(bodies) == 1 and "100" in bodies[0], bodies
    assert gateway.refunded_minor(intent) == 10_000
