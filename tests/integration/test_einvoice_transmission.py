"""The approved-platform port and e-reporting (issue 12).

Invoices to businesses in France leave through the platform (the folder adapter
by default: XML, PDF and a manifest per invoice); invoices to consumers and to
businesses abroad are e-reported per period instead. A platform that is down is
retried with backoff, one that refuses is recorded, and a repeat never makes a
second flow. Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from billing.facturx import rules
from billing.facturx.models import EInvoice
from billing.facturx.platform import (
    FolderPlatform,
    OutgoingFlow,
    PlatformRefused,
    PlatformUnavailable,
)
from billing.invoicing.credit_notes import issue_credit_note
from billing.invoicing.service import Line, Party
from billing.models import Event
from tests.conftest import base_config
from tests.integration.test_facturx_refusal_reception import GOOD_BUYER, PROFILE
from webapp.accounts.models import Freelancer
from webapp.due import run_due
from webapp.extensions import db
from webapp.invoices.issue import issue_unpaid

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
CONSUMER = Party("Léa Martin", "", "", "", "lea@example.test", False)
GERMAN_FIRM = Party(
    "Jonas",
    "Muster GmbH",
    "",
    "",
    "j@muster.de",
    True,
    vat_number="DE123456789",
    postal_address={
        "line1": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
    },
)


class Flaky:
    """A platform that is down `down` times, then takes flows (or always refuses)."""

    name = "flaky"

    def __init__(self, down: int = 0, refuse: bool = False) -> None:
        self.down, self.refuse, self.flows = down, refuse, []

    def transmit(self, flow: OutgoingFlow) -> str:
        if self.refuse:
            raise PlatformRefused("SIREN du destinataire inconnu de l'annuaire")
        if self.down > 0:
            self.down -= 1
            raise PlatformUnavailable("platform answered 503")
        self.flows.append(flow)
        return f"pa-{flow.number}"


@pytest.fixture(scope="module", autouse=True)
def _compiled_schematrons():
    rules.warm_up()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_config(request, database_url, tmp_path):
    if request.param == "postgres":
        database_url = request.getfixturevalue("pg_database_url")
    return base_config(database_url, tmp_path)


@pytest.fixture
def seller(client, make_freelancer):
    made = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=made["headers"]).status_code == 200
    return made


def _issue(app, freelancer_id: int, buyer: Party, source_id: str, amount: int = 50_000):
    with app.app_context():
        invoice = issue_unpaid(
            db.session,
            freelancer=db.session.get(Freelancer, freelancer_id),
            lines=[Line("Atelier", 1, amount, 0)],
            buyer=buyer,
            service_date=date(2026, 3, 4),
            source_type="test",
            source_id=source_id,
            now=NOW - timedelta(days=1),
        )
        db.session.commit()
        return invoice.id, invoice.number


def _row(app, invoice_id: int) -> EInvoice:
    with app.app_context():
        db.session.expire_all()
        return db.session.scalars(select(EInvoice).filter_by(invoice_id=invoice_id)).one()


def _run(app, when: datetime = NOW) -> list[str]:
    with app.app_context():
        return run_due(when)


def test_b2b_invoices_leave_through_the_folder_the_others_are_e_reported(
    app, client, seller, tmp_path
):
    b2b, number = _issue(app, seller["id"], GOOD_BUYER, "1")
    b2c, _ = _issue(app, seller["id"], CONSUMER, "2")
    abroad, _ = _issue(app, seller["id"], GERMAN_FIRM, "3")
    lines = _run(app)
    assert f"einvoice-transmit: invoice {number}: transmitted" in lines

    folder = Path(app.config["EINVOICE_OUTBOX"]) / "732829320"
    files = sorted(p.name for p in folder.iterdir())
    stem = number.replace("/", "-")
    assert files == [f"{stem}.json", f"{stem}.pdf", f"{stem}.xml"]
    xml = client.get(f"/api/v1/invoices/{b2b}/facturx.xml", headers=seller["headers"]).data
    pdf = client.get(f"/api/v1/invoices/{b2b}.pdf", headers=seller["headers"]).data
    assert (folder / f"{stem}.xml").read_bytes() == xml
    assert (folder / f"{stem}.pdf").read_bytes() == pdf
    manifest = json.loads((folder / f"{stem}.json").read_text())
    assert manifest["xml_sha256"] == hashlib.sha256(xml).hexdigest()
    assert manifest["buyer_siren"] == "552100554"

    sent = _row(app, b2b)
    assert sent.transmission == "sent" and sent.transmission_ref == f"folder:732829320/{stem}"
    assert _row(app, b2c).transmission == "e-reporting"
    assert _row(app, abroad).transmission == "e-reporting"
    # Run again: nothing more to do, nothing rewritten.
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert not any(line.startswith("einvoice-transmit") for line in _run(app))
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_a_platform_down_is_retried_with_backoff_then_sent_once(app, seller):
    platform = Flaky(down=2)
    app.config["EINVOICE_PLATFORM_FACTORY"] = lambda: platform
    invoice_id, number = _issue(app, seller["id"], GOOD_BUYER, "1")
    assert f"einvoice-transmit: invoice {number}: retry (platform answered 503)" in _run(app)
    row = _row(app, invoice_id)
    assert row.transmission == "retry" and row.retry_at == NOW + timedelta(minutes=1)
    # Not before its time; then the second failure waits twice as long.
    assert not any("einvoice" in line for line in _run(app, NOW + timedelta(seconds=30)))
    _run(app, NOW + timedelta(minutes=1))
    assert _row(app, invoice_id).retry_at == NOW + timedelta(minutes=3)
    assert f"einvoice-transmit: invoice {number}: transmitted" in _run(
        app, NOW + timedelta(minutes=3)
    )
    row = _row(app, invoice_id)
    assert (row.transmission, row.transmission_ref, row.transmission_attempts) == (
        "sent",
        f"flaky:pa-{number}",
        3,
    )
    assert [f.number for f in platform.flows] == [number]
    with app.app_context():
        actions = db.session.scalars(
            select(Event.action).where(
                Event.subject_type == "invoice", Event.subject_id == str(invoice_id)
            )
        ).all()
    assert actions.count("einvoice_transmission_failed") == 2
    assert actions.count("einvoice_transmitted") == 1


def test_a_refusal_is_kept_with_its_reason_and_not_retried(app, seller):
    app.config["EINVOICE_PLATFORM_FACTORY"] = lambda: Flaky(refuse=True)
    invoice_id, _ = _issue(app, seller["id"], GOOD_BUYER, "1")
    _run(app)
    row = _row(app, invoice_id)
    assert row.transmission == "refused"
    assert "annuaire" in row.transmission_error
    assert not any("einvoice" in line for line in _run(app, NOW + timedelta(days=1)))


def test_the_folder_takes_a_repeat_but_never_another_content_under_one_number(tmp_path):
    platform = FolderPlatform(tmp_path / "pa")
    flow = OutgoingFlow(
        1, "F2026-0001", "invoice", date(2026, 3, 9), "732829320", "", b"<a/>", b"%PDF"
    )
    first = platform.transmit(flow)
    assert platform.transmit(flow) == first  # a repeat after a crash: the same flow
    changed = OutgoingFlow(
        1, "F2026-0001", "invoice", date(2026, 3, 9), "732829320", "", b"<b/>", b"%PDF"
    )
    with pytest.raises(PlatformRefused):
        platform.transmit(changed)
    assert (tmp_path / "pa" / "732829320" / "F2026-0001.xml").read_bytes() == b"<a/>"
    assert not [p for p in (tmp_path / "pa" / "732829320").iterdir() if p.name.startswith(".")]


def test_an_unwritable_folder_is_a_retry_not_a_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    flow = OutgoingFlow(1, "F1", "invoice", date(2026, 3, 9), "732829320", "", b"<a/>", b"%PDF")
    with pytest.raises(PlatformUnavailable):
        FolderPlatform(blocker).transmit(flow)


def test_e_reporting_lists_b2c_and_foreign_sales_with_totals(app, client, seller):
    _issue(app, seller["id"], GOOD_BUYER, "1")  # e-invoiced: not reported
    b2c, b2c_number = _issue(app, seller["id"], CONSUMER, "2", amount=12_000)
    _issue(app, seller["id"], GERMAN_FIRM, "3", amount=30_000)
    with app.app_context():
        issue_credit_note(
            db.session, b2c, amount_minor=2_000, reason="Geste", issue_date=date(2026, 3, 9)
        )
        db.session.commit()
    period = {"from": "2026-03-01", "to": "2026-03-31"}
    answer = client.get(
        "/api/v1/invoices/e-reporting", query_string=period, headers=seller["headers"]
    )
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()
    kinds = sorted((line["category"], line["kind"], line["base_minor"]) for line in data["lines"])
    assert kinds == [
        ("B2BINT", "invoice", 30_000),
        ("B2C", "credit_note", -2_000),
        ("B2C", "invoice", 12_000),
    ]
    b2c_total = sum(t["base_minor"] for t in data["totals"] if t["category"] == "B2C")
    assert b2c_total == 10_000
    assert b2c_number in {line["number"] for line in data["lines"]}

    as_csv = client.get(
        "/api/v1/invoices/e-reporting.csv", query_string=period, headers=seller["headers"]
    )
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert sorted(int(r["base_minor"]) for r in rows) == [-2_000, 12_000, 30_000]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-03-31", "to": "2026-03-01"},
        {"from": "2026-01-01", "to": "2027-06-01"},
        {"from": "nope", "to": "2026-03-01"},
        {"to": "2026-03-01"},
    ],
)
def test_a_bad_period_is_422(client, seller, query):
    answer = client.get(
        "/api/v1/invoices/e-reporting", query_string=query, headers=seller["headers"]
    )
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "validation_error"


def test_e_reporting_is_the_callers_own(app, client, seller, make_freelancer):
    _issue(app, seller["id"], CONSUMER, "1")
    other = make_freelancer()
    answer = client.get(
        "/api/v1/invoices/e-reporting",
        query_string={"from": "2026-03-01", "to": "2026-03-31"},
        headers=other["headers"],
    )
    assert answer.get_json()["lines"] == []
