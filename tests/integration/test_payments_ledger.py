"""The payment ledger with the in-memory gateway: transitions, idempotency, crash recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from billing import cards, outcomes, payments
from billing.db import utcnow
from billing.errors import AlreadyDone, GatewayUnavailable, NotAllowed
from billing.events import timeline
from billing.gateway.memory import InMemoryGateway
from billing.models import Payment
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import Freelancer
from webapp.models import Base


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    @event.listens_for(engine, "connect")
    def _fk(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def gateway():
    return InMemoryGateway()


@pytest.fixture
def customer(session, gateway):
    freelancer = Freelancer(email="f@example.test", password_hash="x", display_name="F", slug="f-f")
    session.add(freelancer)
    session.flush()
    customer = cards.ensure_customer(
        session, gateway, freelancer_id=freelancer.id, email="Client@Example.test", name="Client"
    )
    session.commit()
    return customer


@pytest.fixture
def make_payment(session, gateway, customer):
    def make(
        pm="pm_card_visa",
        amount=12_000,
        capture_method="automatic",
        off_session=True,
        subject=None,
        purpose="prepay",
        execute=True,
    ):
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=subject or Subject("booking", 1),
            purpose=purpose,
            amount=Money(amount, "eur"),
            payment_method_id=pm,
            capture_method=capture_method,
            off_session=off_session,
        )
        session.commit()
        if execute:
            payments.execute_payment(session, gateway, payment.id)
            session.commit()
        return payment

    return make


def test_customer_is_created_once_per_email(session, gateway, customer):
    again = cards.ensure_customer(
        session,
        gateway,
        freelancer_id=customer.freelancer_id,
        email="client@example.test",
        name="Client",
    )
    assert again.id == customer.id
    assert len(gateway.customers) == 1


def test_charge_succeeds_and_records_the_timeline(session, make_payment):
    payment = make_payment()
    assert payment.status == payments.SUCCEEDED
    assert payment.amount_captured_minor == 12_000
    # A stored nonce, not the row id (a rolled-back id is reused by SQLite).
    assert payment.idempotency_key.startswith("acompte:payment:")
    actions = [e.action for e in timeline(session, "payment", payment.id)]
    assert actions == ["payment_created", "payment_succeeded"]


def test_hold_then_capture_partially(session, gateway, make_payment):
    payment = make_payment(capture_method="manual")
    assert payment.status == payments.AUTHORIZED
    assert payment.hold_expires_at is not None
    payments.capture(session, gateway, payment.id, amount_minor=3_000)
    session.commit()
    assert payment.status == payments.SUCCEEDED
    assert payment.amount_captured_minor == 3_000


@pytest.mark.parametrize(
    "off_session, window",
    [(True, payments.HOLD_WINDOW_OFF_SESSION), (False, payments.HOLD_WINDOW_ON_SESSION)],
)
def test_an_expired_hold_is_never_captured(session, gateway, make_payment, off_session, window):
    payment = make_payment(capture_method="manual", off_session=off_session)
    assert payment.hold_expires_at - payment.authorized_at == window
    # at the deadline the capture is refused; one second before it succeeds
    with pytest.raises(NotAllowed, match="expired"):
        payments.capture(session, gateway, payment.id, now=payment.hold_expires_at)
    session.rollback()
    payments.capture(
        session, gateway, payment.id, now=payment.hold_expires_at - timedelta(seconds=1)
    )
    assert payment.status == payments.SUCCEEDED


def test_release_a_hold(session, gateway, make_payment):
    payment = make_payment(capture_method="manual")
    payments.release(session, gateway, payment.id, reason="cancelled in time")
    session.commit()
    assert payment.status == payments.CANCELED
    with pytest.raises(AlreadyDone):
        payments.release(session, gateway, payment.id)


def test_declined_card_fails_with_its_reason(session, make_payment):
    payment = make_payment(pm="pm_card_chargeCustomerFail")
    assert payment.status == payments.FAILED
    assert payment.failure_code == "generic_decline"
    assert payment.hard_decline is False


def test_lost_card_is_a_hard_decline(session, make_payment):
    payment = make_payment(pm="pm_card_lost")
    assert payment.status == payments.FAILED
    assert payment.hard_decline is True


def test_three_d_secure_then_webhook_style_result(session, gateway, make_payment):
    payment = make_payment(pm="pm_card_threeDSecure2Required", off_session=False)
    assert payment.status == payments.REQUIRES_ACTION
    result = gateway.complete_authentication(payment.stripe_payment_intent_id, success=True)
    payments.apply_result(session, payment, result, now=utcnow(), actor="stripe")
    assert payment.status == payments.SUCCEEDED


def test_executing_twice_charges_once(session, gateway, make_payment):
    payment = make_payment()
    with pytest.raises(AlreadyDone):
        payments.execute_payment(session, gateway, payment.id)
    creates = [c for c in gateway.calls if c[0] == "create_payment_intent"]
    assert len(creates) == 1


def test_timeout_after_success_is_reconciled_without_a_second_charge(
    session, gateway, make_payment
):
    # given a Stripe that ignores idempotency keys (as localstripe does), which
    # charged the card but whose answer never arrived
    gateway.honour_idempotency = False
    payment = make_payment(execute=False)
    gateway.timeout_after_success("create_payment_intent")
    with pytest.raises(GatewayUnavailable):
        payments.execute_payment(session, gateway, payment.id)
    session.rollback()
    row = session.get(Payment, payment.id)
    assert (row.status, row.in_flight) == (payments.CREATED, "create")
    # when reconciliation runs
    payments.reconcile(session, gateway, payment.id)
    # then Stripe was looked up first and the original charge adopted
    assert row.status == payments.SUCCEEDED and row.in_flight is None
    assert len(gateway.payment_intents) == 1
    methods = [m for m, _ in gateway.calls if m.endswith("payment_intent")]
    assert methods == ["create_payment_intent", "find_payment_intent"]


def test_refunds_partial_then_full_never_more(session, gateway, make_payment):
    payment = make_payment(amount=10_000)
    first = payments.refund(session, gateway, payment.id, amount_minor=2_500, reason="goodwill")
    second = payments.refund(session, gateway, payment.id)
    session.commit()
    assert (first.amount_minor, second.amount_minor) == (2_500, 7_500)
    assert first.idempotency_key != second.idempotency_key
    assert (first.status, second.status) == ("succeeded", "succeeded")
    with pytest.raises(AlreadyDone):
        payments.refund(session, gateway, payment.id)
    assert gateway.refunded_minor(payment.stripe_payment_intent_id) == 10_000


@pytest.mark.parametrize("amount", [0, 10_001, -1])
def test_refund_outside_bounds_is_refused(session, gateway, make_payment, amount):
    payment = make_payment(amount=10_000)
    with pytest.raises(NotAllowed):
        payments.refund(session, gateway, payment.id, amount_minor=amount)


def test_capture_boundary_pair(session, gateway, make_payment):
    payment = make_payment(capture_method="manual", amount=5_000)
    with pytest.raises(NotAllowed):
        payments.capture(session, gateway, payment.id, amount_minor=5_001)
    payments.capture(session, gateway, payment.id, amount_minor=5_000)
    assert payment.amount_captured_minor == 5_000


def test_forbidden_transitions_are_named(session, make_payment):
    payment = make_payment()
    with pytest.raises(NotAllowed):
        payments.transition(session, payment, payments.AUTHORIZED, actor="system")


def test_a_retry_is_a_new_attempt_with_a_new_key(session, make_payment):
    first = make_payment(pm="pm_card_chargeCustomerFail", purpose="milestone")
    second = make_payment(pm="pm_card_visa", purpose="milestone")
    assert (first.attempt, second.attempt) == (1, 2)
    assert first.idempotency_key != second.idempotency_key
    assert second.status == payments.SUCCEEDED


def test_subjects_hear_about_outcomes(session, make_payment):
    heard = []

    def listener(session, payment, old, new):
        heard.append((payment.subject_id, old, new))

    outcomes.subscribe("quote_test")(listener)
    try:
        make_payment(subject=Subject("quote_test", 9))
    finally:
        outcomes.unsubscribe("quote_test", listener)
    assert heard == [("9", "created", "succeeded")]


def test_amounts_must_be_positive(session, customer):
    with pytest.raises(NotAllowed):
        payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject("booking", 1),
            purpose="prepay",
            amount=Money(0, "eur"),
            payment_method_id="pm_card_visa",
            capture_method="automatic",
            off_session=True,
        )


def test_card_setup_records_the_saved_card(session, gateway, customer):
    setup, secret = cards.start_card_setup(
        session, gateway, customer=customer, subject=Subject("booking", 3)
    )
    assert secret.startswith(setup.stripe_setup_intent_id)
    with pytest.raises(NotAllowed):
        cards.complete_card_setup(session, gateway, setup.id)
    gateway.confirm_setup_intent(setup.stripe_setup_intent_id, "pm_card_visa")
    cards.complete_card_setup(session, gateway, setup.id)
    assert (setup.payment_method_id, setup.card_last4) == ("pm_card_visa", "4242")
    assert session.scalar(select(Payment)) is None


def test_a_request_stripe_refuses_is_a_failed_attempt_not_an_unknown(
    session, gateway, make_payment
):
    from billing.errors import GatewayRejected

    payment = make_payment(execute=False)
    gateway.fail_next(
        "create_payment_intent",
        GatewayRejected(
            "Amount must be at least 0.50 eur", stripe_code="amount_too_small", http_status=400
        ),
    )
    payments.execute_payment(session, gateway, payment.id)
    session.commit()
    assert payment.status == payments.FAILED
    assert payment.failure_code == "amount_too_small"
    # reconciliation leaves a known failure alone
    payments.reconcile(session, gateway, payment.id)
    assert payment.status == payments.FAILED
