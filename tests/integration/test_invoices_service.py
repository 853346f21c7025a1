"""The invoicing core on SQLite: gapless numbers, totals, payments, credit notes,
immutability, and the glue that backs a card payment with its invoice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing import cards, payments
from billing.errors import AlreadyDone, NotAllowed
from billing.events import timeline
from billing.gateway.memory import InMemoryGateway
from billing.invoicing import service
from billing.invoicing.models import Invoice, InvoiceImmutable, InvoiceLine, InvoiceSequence
from billing.invoicing.service import AlreadyInvoiced, Line, Party
from billing.money import Money
from billing.payments import Subject
from webapp.accounts.models import Freelancer
from webapp.extensions import make_engine
from webapp.invoices.issue import issue_for_payment, issue_unpaid, priced_line
from webapp.models import Base

SELLER = Party(
    "Camille Martin", "Camille Martin EI", "73282932000074", "1 rue A\n75001 Paris", "c@x.fr", True
)
COMPANY = Party("Jean Dupont", "ACME SAS", "73282932000074", "2 rue B, Lyon", "j@acme.fr", True)
PERSON = Party("Marie Curie", "", "", "3 rue C, Lille", "m@example.fr", False)
DAY = date(2026, 3, 5)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'invoices.sqlite'}")
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
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        payment_terms_days=30,
    )
    session.add(f)
    session.commit()
    return f


@pytest.fixture
def issue(session, freelancer):
    """A factory: issue an invoice with sensible defaults; returns the Invoice."""
    counter = iter(range(1, 10_000))

    def make(**overrides):
        kwargs = dict(
            freelancer_id=freelancer.id,
            seller=SELLER,
            buyer=COMPANY,
            lines=[Line("Workshop", 1, 50_000, 0)],
            currency="eur",
            issue_date=DAY,
            service_date=DAY,
            due_date=date(2026, 4, 4),
            vat_regime="franchise",
            penalty_rate_bp=None,
            iban="FR76 3000 6000 0112 3456 7890 189",
            bic="AGRIFRPP",
            source_type="test",
            source_id=next(counter),
        )
        kwargs.update(overrides)
        return service.issue_invoice(session, **kwargs)

    return make


# --- numbering ---------------------------------------------------------------


def test_numbers_are_sequential_per_freelancer_and_kind(session, issue, freelancer):
    # given three issued invoices
    numbers = [issue().number for _ in range(3)]
    session.commit()
    # then they follow each other without gap
    assert numbers == ["F2026-0001", "F2026-0002", "F2026-0003"]
    # and another freelancer starts their own series
    other = Freelancer(email="o@x.fr", password_hash="x", display_name="O", slug="other-one")
    session.add(other)
    session.flush()
    assert issue(freelancer_id=other.id).number == "F2026-0001"


def test_a_rolled_back_issue_never_burns_a_number(session, issue):
    assert issue().number == "F2026-0001"
    session.commit()
    # given an issue whose transaction is rolled back (e.g. the caller failed after it)
    assert issue().number == "F2026-0002"
    session.rollback()
    # when the next issue happens
    again = issue()
    session.commit()
    # then it takes the number the rolled-back one had
    assert again.number == "F2026-0002"
    assert session.scalars(select(Invoice.number).order_by(Invoice.id)).all() == [
        "F2026-0001",
        "F2026-0002",
    ]


def test_a_refused_issue_takes_no_number(session, issue):
    with pytest.raises(NotAllowed):
        issue(lines=[])
    with pytest.raises(NotAllowed):
        issue(due_date=date(2026, 3, 4))  # due the day before issue
    assert issue().number == "F2026-0001"


def test_numbers_restart_each_year_with_the_year_in_them(session, issue):
    assert issue(issue_date=date(2026, 12, 31), due_date=date(2026, 12, 31)).number == "F2026-0001"
    assert issue(issue_date=date(2027, 1, 1), due_date=date(2027, 1, 1)).number == "F2027-0001"


def test_numbering_stays_chronological(session, issue):
    issue(issue_date=date(2026, 3, 5))
    # the same day is fine, the day before is not
    assert issue(issue_date=date(2026, 3, 5)).number == "F2026-0002"
    with pytest.raises(NotAllowed, match="chronological"):
        issue(issue_date=date(2026, 3, 4))


def test_the_same_source_is_invoiced_once(session, issue):
    first = issue(source_type="booking", source_id=12)
    with pytest.raises(AlreadyInvoiced) as exc:
        issue(source_type="booking", source_id="12")
    assert exc.value.invoice.id == first.id
    assert session.scalar(select(InvoiceSequence.next_number)) == 2


# --- validation and totals -----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seller": Party("C", "", "73282932000074", "a", "e", True)}, "legal name"),
        ({"seller": Party("C", "C EI", "", "a", "e", True)}, "SIRET"),
        ({"seller": Party("C", "C EI", "1234", "a", "e", True)}, "SIRET"),
        ({"lines": []}, "at least one line"),
        ({"lines": [Line("x", 1, 10.5, 0)]}, "integer"),
        ({"lines": [Line("x", 1, 1000, 2000)]}, "franchise"),
        ({"lines": [Line("x", 1, -1, 0)]}, "negative"),
        ({"lines": [Line("x", 1, 0, 0)]}, "positive"),
        ({"currency": "EUR"}, "lower-case"),
        ({"vat_regime": "other"}, "VAT regime"),
        ({"due_date": date(2026, 3, 4)}, "due date"),
    ],
)
def test_invalid_invoices_are_refused_with_a_clear_message(issue, overrides, message):
    with pytest.raises(NotAllowed, match=message):
        issue(**overrides)


def test_totals_are_sums_of_rounded_lines_with_two_vat_rates(issue):
    invoice = issue(
        vat_regime="vat",
        lines=[Line("Design", 2, 45_000, 2000), Line("Book", "1.5", 1999, 550)],
    )
    # 900.00 + 180.00 VAT; 29.985 → 29.99, VAT 1.649… → 1.65
    assert (
        invoice.total_excl_vat_minor,
        invoice.total_vat_minor,
        invoice.total_incl_vat_minor,
    ) == (92_999, 18_165, 111_164)
    assert service.vat_summary(invoice) == [
        {"rate_bp": 550, "base_minor": 2_999, "vat_minor": 165},
        {"rate_bp": 2000, "base_minor": 90_000, "vat_minor": 18_000},
    ]


def test_recovery_indemnity_only_for_business_buyers(issue):
    assert issue(buyer=COMPANY).recovery_indemnity is True
    assert issue(buyer=PERSON).recovery_indemnity is False


def test_parties_are_frozen_at_issue(session, issue, freelancer):
    invoice = issue()
    session.commit()
    assert invoice.seller["legal_name"] == "Camille Martin EI"
    assert {k: v for k, v in invoice.buyer.items() if v not in ("", None)} == {
        "name": "Jean Dupont",
        "legal_name": "ACME SAS",
        "siret": "73282932000074",
        "address": "2 rue B, Lyon",
        "email": "j@acme.fr",
        "is_business": True,
    }
    assert invoice.iban == "FR7630006000011234567890189"
    assert len(invoice.content_hash) == 64


# --- immutability ----------------------------------------------------------------


def test_an_issued_invoice_cannot_be_edited_or_deleted(session, issue):
    invoice = issue()
    session.commit()
    before = (invoice.number, invoice.total_incl_vat_minor, invoice.lines[0].unit_amount_minor)
    invoice.total_incl_vat_minor = 1
    with pytest.raises(InvoiceImmutable):
        session.flush()
    session.rollback()
    invoice.lines[0].unit_amount_minor = 1
    with pytest.raises(InvoiceImmutable):
        session.flush()
    session.rollback()
    session.delete(invoice)
    with pytest.raises(InvoiceImmutable):
        session.flush()
    session.rollback()
    fresh = session.get(Invoice, invoice.id)
    session.refresh(fresh)
    assert (fresh.number, fresh.total_incl_vat_minor, fresh.lines[0].unit_amount_minor) == before


# --- payments --------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_record_payment_boundary_balance_plus_and_minus_one(session, issue):
    invoice = issue()  # 500.00
    # one cent more than the balance is refused, nothing recorded
    with pytest.raises(NotAllowed, match="balance"):
        service.record_payment(
            session, invoice.id, amount_minor=50_001, method="transfer", paid_at=NOW
        )
    assert service.paid_minor(invoice) == 0
    # one cent less leaves one cent to pay
    service.record_payment(session, invoice.id, amount_minor=49_999, method="transfer", paid_at=NOW)
    assert invoice.status == "partially_paid"
    assert service.balance_due(invoice) == 1
    # exactly the balance settles it
    service.record_payment(session, invoice.id, amount_minor=1, method="transfer", paid_at=NOW)
    assert invoice.status == "paid"
    assert service.balance_due(invoice) == 0
    with pytest.raises(NotAllowed, match="nothing left"):
        service.record_payment(session, invoice.id, amount_minor=1, method="transfer", paid_at=NOW)
    actions = [e.action for e in timeline(session, "invoice", invoice.id)]
    assert actions == [
        "invoice_issued",
        "invoice_payment_recorded",
        "invoice_partially_paid",
        "invoice_payment_recorded",
        "invoice_paid",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"amount_minor": 0}, "positive"),
        ({"amount_minor": -5}, "positive"),
        ({"amount_minor": 10.0}, "integer"),
        ({"method": "cash"}, "method"),
        ({"paid_at": datetime(2026, 3, 10)}, "timezone"),  # noqa: DTZ001
    ],
)
def test_record_payment_refuses_bad_input(session, issue, kwargs, message):
    invoice = issue()
    args = {"amount_minor": 100, "method": "transfer", "paid_at": NOW, **kwargs}
    with pytest.raises(NotAllowed, match=message):
        service.record_payment(session, invoice.id, **args)


# --- credit notes ----------------------------------------------------------------


def test_credit_notes_have_their_own_series_and_reverse_the_lines(session, issue):
    invoice = issue(
        vat_regime="vat", lines=[Line("Design", 2, 45_000, 2000), Line("Book", 1, 1000, 550)]
    )
    note = service.issue_credit_note(session, invoice.id, reason="Cancelled", issue_date=DAY)
    assert note.number == "AV2026-0001"
    assert note.kind == "credit_note"
    assert note.credited_invoice_id == invoice.id
    assert note.total_incl_vat_minor == invoice.total_incl_vat_minor
    assert [(li.description, li.vat_rate_bp) for li in note.lines] == [
        ("Design", 2000),
        ("Book", 550),
    ]
    assert invoice.status == "credited"
    assert service.balance_due(invoice) == 0
    # the invoice series is untouched
    assert issue().number == "F2026-0002"
    with pytest.raises(AlreadyDone):
        service.issue_credit_note(session, invoice.id, reason="again", issue_date=DAY)


def test_partial_credit_never_more_than_what_is_left(session, issue):
    invoice = issue(vat_regime="vat", lines=[Line("Coaching", 1, 10_000, 2000)])  # 120.00
    first = service.issue_credit_note(
        session, invoice.id, amount_minor=2_000, reason="discount", issue_date=DAY
    )
    assert (first.total_excl_vat_minor, first.total_vat_minor) == (1_667, 333)
    assert service.balance_due(invoice) == 10_000
    # boundary: what is left + 1 is refused, what is left is accepted
    with pytest.raises(NotAllowed, match="between 1 and 10000"):
        service.issue_credit_note(
            session, invoice.id, amount_minor=10_001, reason="x", issue_date=DAY
        )
    second = service.issue_credit_note(
        session, invoice.id, amount_minor=10_000, reason="rest", issue_date=DAY
    )
    assert second.number == "AV2026-0002"
    assert invoice.status == "credited"


def test_credit_after_payment_leaves_a_refund_due(session, issue):
    invoice = issue()
    service.record_payment(session, invoice.id, amount_minor=50_000, method="card", paid_at=NOW)
    service.issue_credit_note(
        session, invoice.id, amount_minor=5_000, reason="goodwill", issue_date=DAY
    )
    assert invoice.status == "paid"
    assert service.refund_due(invoice) == 5_000


def test_a_credit_note_cannot_be_credited_or_paid(session, issue):
    note = service.issue_credit_note(session, issue().id, reason="x", issue_date=DAY)
    with pytest.raises(NotAllowed):
        service.issue_credit_note(session, note.id, reason="y", issue_date=DAY)
    with pytest.raises(NotAllowed):
        service.record_payment(session, note.id, amount_minor=1, method="transfer", paid_at=NOW)


def test_multi_rate_partial_credit_is_refused(session, issue):
    invoice = issue(vat_regime="vat", lines=[Line("a", 1, 1000, 2000), Line("b", 1, 1000, 550)])
    with pytest.raises(NotAllowed, match="several VAT rates"):
        service.issue_credit_note(session, invoice.id, amount_minor=100, reason="x", issue_date=DAY)


# --- the glue for card payments ----------------------------------------------------


@pytest.fixture
def paid_payment(session, freelancer):
    gateway = InMemoryGateway()
    customer = cards.ensure_customer(
        session, gateway, freelancer_id=freelancer.id, email="j@acme.fr", name="Jean"
    )
    payment = payments.prepare_payment(
        session,
        customer=customer,
        subject=Subject("booking", 7),
        purpose="prepay",
        amount=Money(12_000, "eur"),
        payment_method_id="pm_card_visa",
        capture_method="automatic",
        off_session=True,
    )
    session.commit()
    payments.execute_payment(session, gateway, payment.id)
    session.commit()
    assert payment.status == "succeeded"
    return payment


def test_issue_for_payment_is_idempotent_per_payment(session, freelancer, paid_payment):
    freelancer.vat_regime, freelancer.vat_rate_bp = "vat", 2000
    freelancer.vat_number = "FR40303265045"
    line = priced_line(freelancer, "Call, 5 March", 12_000)
    first = issue_for_payment(
        session,
        paid_payment,
        lines=[line],
        buyer=COMPANY,
        service_date=DAY,
        source_type="booking",
        source_id=7,
        now=NOW,
    )
    session.commit()
    again = issue_for_payment(
        session,
        paid_payment,
        lines=[line],
        buyer=COMPANY,
        service_date=DAY,
        source_type="booking",
        source_id=7,
        now=NOW,
    )
    assert again.id == first.id
    assert first.status == "paid"
    assert first.due_date == first.issue_date == date(2026, 3, 10)
    assert (first.total_excl_vat_minor, first.total_vat_minor) == (10_000, 2_000)
    assert [p.payment_id for p in first.payments] == [paid_payment.id]
    assert session.scalar(select(InvoiceSequence.next_number)) == 2


def test_issue_for_payment_refuses_lines_that_do_not_match_the_charge(
    session, freelancer, paid_payment
):
    with pytest.raises(NotAllowed, match="captured 12000"):
        issue_for_payment(
            session,
            paid_payment,
            lines=[priced_line(freelancer, "Call", 11_999)],
            buyer=PERSON,
            service_date=DAY,
            source_type="booking",
            source_id=7,
        )
    assert session.scalar(select(Invoice.id)) is None


def test_unpaid_invoice_then_paid_by_card_records_on_the_same_invoice(
    session, freelancer, paid_payment
):
    # given an invoice issued unpaid (e.g. a failed charge handed to dunning)
    invoice = issue_unpaid(
        session,
        freelancer=freelancer,
        lines=[priced_line(freelancer, "Milestone 2", 12_000)],
        buyer=COMPANY,
        service_date=DAY,
        source_type="booking",
        source_id=7,
        now=NOW,
    )
    assert invoice.due_date == date(2026, 4, 9)  # + 30 days of payment terms
    assert invoice.status == "issued"
    # when the client pays by card through the "fix my payment" link
    paid = issue_for_payment(
        session,
        paid_payment,
        lines=[],
        buyer=COMPANY,
        service_date=DAY,
        source_type="booking",
        source_id=7,
        now=NOW,
    )
    # then the same invoice is paid, no second one issued
    assert paid.id == invoice.id
    assert invoice.status == "paid"
    assert session.scalars(select(Invoice.number)).all() == ["F2026-0001"]


def test_status_is_only_changed_through_the_service(session, issue):
    invoice = issue()
    session.commit()
    # a raw SQL edit is the one way around the ORM guard; the hash shows it
    session.execute(update(InvoiceLine).values(description="forged"))
    session.commit()
    session.refresh(invoice)
    session.refresh(invoice.lines[0])
    assert service._content_hash(invoice, invoice.lines) != invoice.content_hash
