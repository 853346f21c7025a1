"""The one invoice subscriber: a succeeded payment is invoiced once, as its feature
registered; a refused invoice leaves the feature's event and never undoes the money;
a refund gets its credit note."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import cards, outcomes, payments
from billing.events import timeline
from billing.gateway.memory import InMemoryGateway
from billing.invoicing.models import Invoice
from billing.invoicing.service import Party
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import Freelancer
from webapp.extensions import make_engine
from webapp.invoices import ledger
from webapp.invoices.issue import priced_line
from webapp.models import Base

SUBJECT = "ledger_test"
BUYER = Party("Marie Curie", "", "", "3 rue C, Lille", "m@example.fr", False)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.fixture
def freelancer(session):
    f = Freelancer(
        email="camille@example.test",
        password_hash="x",
        display_name="Camille Martin",
        slug="camille",
        legal_name="Camille Martin EI",
        siret="73282932000074",
        legal_form="ei",
        address="1 rue A\n75001 Paris",
    )
    session.add(f)
    session.commit()
    return f


@pytest.fixture
def registered(session, freelancer):
    """A feature of the test's own: invoices every payment of its subject, says what it heard."""
    heard: list[tuple[int, int]] = []

    def describe(session, payment):
        if payment.subject_id == "0":
            return None  # "not invoiced here"
        return ledger.ToInvoice(
            lines=[priced_line(freelancer, "Session", payment.amount_captured_minor)],
            buyer=BUYER,
            service_date=date(2026, 3, 5),
            source_type=SUBJECT,
            source_id=payment.subject_id,
        )

    ledger.subscribe_to_ledger()
    ledger.register(
        SUBJECT,
        describe,
        not_issued="test_invoice_not_issued",
        issued=lambda session, payment, invoice: heard.append((payment.id, invoice.id)),
        credit_not_issued="test_credit_note_not_issued",
    )
    yield heard
    ledger.unregister(SUBJECT)


@pytest.fixture
def pay(session, freelancer):
    """A factory: a card payment of the test subject, charged (succeeded)."""
    gateway = InMemoryGateway()
    customer = cards.ensure_customer(
        session, gateway, freelancer_id=freelancer.id, email="m@example.fr", name="Marie"
    )

    def make(subject_id: int = 1, amount_minor: int = 12_000):
        payment = payments.prepare_payment(
            session,
            customer=customer,
            subject=Subject(SUBJECT, subject_id),
            purpose="prepay",
            amount=Money(amount_minor, "eur"),
            payment_method_id="pm_card_visa",
            capture_method="automatic",
            off_session=True,
        )
        session.commit()
        payments.execute_payment(session, gateway, payment.id)
        session.commit()
        assert payment.status == payments.SUCCEEDED
        return payment

    return make


def test_a_succeeded_payment_is_invoiced_once_and_its_feature_hears_of_it(session, registered, pay):
    # when a payment of the subject succeeds
    payment = pay()
    # then one paid invoice backs it, and the feature heard of it
    [invoice] = session.scalars(select(Invoice)).all()
    assert (invoice.status, invoice.total_incl_vat_minor) == ("paid", 12_000)
    assert [p.payment_id for p in invoice.payments] == [payment.id]
    assert registered == [(payment.id, invoice.id)]
    # when the ledger tells the same outcome again (a duplicate webhook, the sweep)
    outcomes.notify(session, payment, payments.SUCCEEDED, payments.SUCCEEDED)
    # then nothing more happens
    assert len(session.scalars(select(Invoice)).all()) == 1
    assert registered == [(payment.id, invoice.id)]


def test_a_payment_its_feature_does_not_invoice_gets_no_invoice(session, registered, pay):
    pay(subject_id=0)
    assert session.scalars(select(Invoice)).all() == []
    assert registered == []


def test_a_refused_invoice_leaves_the_features_event_and_keeps_the_money(
    session, freelancer, registered, pay
):
    # given a business profile without its legal name (an invoice needs it)
    freelancer.legal_name = ""
    session.commit()
    # when a payment succeeds
    payment = pay()
    # then the money's record stands, no invoice, and the subject's timeline says why
    session.expire_all()
    assert session.get(type(payment), payment.id).status == payments.SUCCEEDED
    assert session.scalars(select(Invoice)).all() == []
    [event] = [
        e for e in timeline(session, SUBJECT, payment.subject_id) if e.action.startswith("test_")
    ]
    assert event.action == "test_invoice_not_issued"
    assert event.data["payment_id"] == payment.id
    assert "legal name" in event.data["error"]
    assert registered == []


def test_a_refund_gets_a_credit_note_on_the_payments_invoice(session, registered, pay):
    # given an invoiced payment
    payment = pay()
    # when Stripe confirms a partial refund of it
    ledger.on_refund(session, payment, SimpleNamespace(amount_minor=2_000, reason=""))
    # then a credit note of that amount credits its invoice
    kinds = sorted((i.kind, i.total_incl_vat_minor) for i in session.scalars(select(Invoice)).all())
    assert kinds == [("credit_note", 2_000), ("invoice", 12_000)]


def test_the_features_register_and_invoices_come_before_dunning(app):
    # given the app factory's registrations
    registry = ledger.registered()
    # then each feature registered its subject with the event names pages and tests read
    assert registry["booking"].not_issued == "booking_invoice_not_issued"
    assert registry["booking"].credit_not_issued == "booking_credit_note_not_issued"
    assert registry["milestone"].not_issued == "milestone_invoice_not_issued"
    assert registry["message"].not_issued == "message_invoice_failed"
    # and the invoice subscriber hears every payment before dunning does (a payment
    # recorded on a case's unpaid invoice closes the case before dunning hears it)
    from webapp.dunning.subscriber import on_payment as dunning_hears

    every = outcomes._subscribers[outcomes.ANY_SUBJECT]
    assert every.index(ledger.on_payment) < every.index(dunning_hears)
