"""Invoice numbers under concurrency on PostgreSQL: 20 issues at once, numbers 1..20."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing import service
from billing.invoicing.models import Invoice
from billing.invoicing.service import AlreadyInvoiced, Line, Party
from webapp.accounts.models import Freelancer
from webapp.extensions import make_engine

pytestmark = pytest.mark.postgres

SELLER = Party("C", "Camille Martin EI", "73282932000074", "Paris", "c@x.fr", True)
BUYER = Party("J", "ACME SAS", "55203253400646", "Lyon", "j@acme.fr", True)


def _issue(engine, freelancer_id: int, source_id: int, barrier, results, errors, fail=False):
    try:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait(timeout=30)
            invoice = service.issue_invoice(
                session,
                freelancer_id=freelancer_id,
                seller=SELLER,
                buyer=BUYER,
                lines=[Line("Work", 1, 1000 + source_id, 0)],
                currency="eur",
                issue_date=date(2026, 3, 5),
                service_date=date(2026, 3, 5),
                due_date=date(2026, 4, 4),
                vat_regime="franchise",
                penalty_rate_bp=None,
                iban="",
                bic="",
                source_type="concurrency",
                source_id=source_id,
            )
            if fail:
                session.rollback()  # a failed caller: its number must come back
                return
            session.commit()
            results.append(invoice.number)
    except Exception as exc:  # pragma: no cover - reported by the assertion below
        errors.append(exc)


@pytest.fixture
def engine(pg_database_url):
    engine = make_engine(pg_database_url, pool_size=25, max_overflow=5)
    yield engine
    engine.dispose()


@pytest.fixture
def freelancer_id(engine) -> int:
    with Session(engine) as session:
        f = Freelancer(email="c@x.fr", password_hash="x", display_name="C", slug="camille")
        session.add(f)
        session.commit()
        return f.id


def test_twenty_concurrent_issues_are_numbered_1_to_20(engine, freelancer_id):
    # given 20 workers, 5 of which roll back after taking a number
    n = 25
    barrier = threading.Barrier(n)
    results: list[str] = []
    errors: list[Exception] = []
    threads = [
        threading.Thread(
            target=_issue,
            args=(engine, freelancer_id, i, barrier, results, errors),
            kwargs={"fail": i % 5 == 0},
        )
        for i in range(n)
    ]
    # when they all issue at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then the 20 committed invoices hold 1..20, no gap, no duplicate
    assert errors == []
    assert sorted(results) == [f"F2026-{k:04d}" for k in range(1, 21)]
    with Session(engine) as session:
        stored = session.scalars(select(Invoice.number).order_by(Invoice.number)).all()
    assert stored == [f"F2026-{k:04d}" for k in range(1, 21)]


def test_concurrent_issues_of_one_source_give_one_invoice(engine, freelancer_id):
    n = 8
    barrier = threading.Barrier(n)
    found: list[int] = []
    errors: list[Exception] = []

    def issue_same():
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait(timeout=30)
                try:
                    invoice = service.issue_invoice(
                        session,
                        freelancer_id=freelancer_id,
                        seller=SELLER,
                        buyer=BUYER,
                        lines=[Line("Work", 1, 1000, 0)],
                        currency="eur",
                        issue_date=date(2026, 3, 5),
                        service_date=date(2026, 3, 5),
                        due_date=date(2026, 3, 5),
                        vat_regime="franchise",
                        penalty_rate_bp=None,
                        iban="",
                        bic="",
                        source_type="booking",
                        source_id=1,
                    )
                except AlreadyInvoiced as exc:
                    invoice = exc.invoice
                session.commit()
                found.append(invoice.id)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=issue_same) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(set(found)) == 1 and len(found) == n
    with Session(engine) as session:
        assert session.scalars(select(Invoice.number)).all() == ["F2026-0001"]
    # the next invoice follows without a gap: the losers gave their numbers back
    with Session(engine) as session:
        nxt = service.issue_invoice(
            session,
            freelancer_id=freelancer_id,
            seller=SELLER,
            buyer=BUYER,
            lines=[Line("Work", 1, 1000, 0)],
            currency="eur",
            issue_date=date(2026, 3, 5),
            service_date=date(2026, 3, 5),
            due_date=date(2026, 3, 5),
            vat_regime="franchise",
            penalty_rate_bp=None,
            iban="",
            bic="",
            source_type="booking",
            source_id=2,
        )
        assert nxt.number == "F2026-0002"
