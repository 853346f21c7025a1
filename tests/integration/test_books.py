"""The books through the API: invoices by hand, statement import and matching, review,
assign and undo, the dunning stop, exports, bad files, tenant isolation, the receipt."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.books import exports
from billing.books.models import BankLine
from billing.dunning.models import DunningCase
from billing.invoicing.models import Invoice, InvoicePayment
from webapp.extensions import db

FIXTURES = Path(__file__).parent.parent / "fixtures" / "books"
PROFILE = {
    "legal_name": "Camille Martin EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue de la Paix, 75002 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
ACME = {
    "name": "Jean Dupont",
    "email": "jean@acme.example",
    "is_business": True,
    "company": "ACME SAS",
    "siren": "552032534",
    "postal_address": {
        "line1": "3 av. Foch",
        "postal_code": "69006",
        "city": "Lyon",
        "country": "FR",
    },
}


@pytest.fixture
def seller(client, make_freelancer):
    f = make_freelancer()
    assert client.patch("/api/v1/me", json=PROFILE, headers=f["headers"]).status_code == 200
    return f


def invoice(client, seller, amount: int, *, who=ACME, days: int = 30) -> dict:
    body = {
        "client": who,
        "lines": [{"description": "Atelier", "quantity": 1, "unit_amount_minor": amount}],
        "due_date": (date.today() + timedelta(days=days)).isoformat(),
        "currency": "eur",
    }
    answer = client.post("/api/v1/invoices", json=body, headers=seller["headers"])
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def upload(client, seller, data: bytes, name: str = "statement.xml", **form):
    return client.post(
        "/api/v1/bank-statements",
        data={"file": (io.BytesIO(data), name), **form},
        headers=seller["headers"],
        content_type="multipart/form-data",
    )


def camt(*entries: tuple[str, int, str, str], booked_on: date | None = None) -> bytes:
    """A small CAMT.053 with one entry per (reference, amount_minor, debtor, remittance),
    booked today unless `booked_on`."""
    day = (booked_on or date.today()).isoformat()
    body = "".join(
        f"<Ntry><Amt Ccy='EUR'>{amount / 100:.2f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{who}</Nm>"
        f"</Dbtr></RltdPties><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for ref, amount, who, text in entries
    )
    return (
        "<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
        f"<BkToCstmrStmt><Stmt><Id>S</Id>{body}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def detail(client, seller, invoice_id: int) -> dict:
    return client.get(f"/api/v1/invoices/{invoice_id}", headers=seller["headers"]).get_json()


def test_invoice_by_hand_is_numbered_with_its_pdf(client, seller):
    made = invoice(client, seller, 50_000)
    assert made["number"].startswith("F") and made["status"] == "issued"
    assert made["total_minor"] == 50_000 and made["pdf_sha256"]
    pdf = client.get(f"/api/v1/invoices/{made['id']}.pdf", headers=seller["headers"])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    "bad",
    [
        {"lines": []},
        {"lines": [{"description": "x", "unit_amount_minor": 1.5}]},
        {"due_date": "2001-01-01"},
        {"client": {"name": "ACME", "email": "a@b.example", "is_business": True}},
    ],
)
def test_invoice_by_hand_refuses_bad_input_with_422(client, seller, bad):
    body = {
        "client": ACME,
        "lines": [{"description": "Atelier", "unit_amount_minor": 100}],
        "due_date": date.today().isoformat(),
        **bad,
    }
    answer = client.post("/api/v1/invoices", json=body, headers=seller["headers"])
    assert answer.status_code == 422, answer.get_json()


def test_number_match_settles_and_reimport_is_harmless(client, seller, app):
    first = invoice(client, seller, 60_000)
    spaced = first["number"].replace("F", "fact ").replace("-", " ")  # "fact 2026 0001"
    data = camt(("R1", 60_000, "ACME SAS", f"VIR {spaced}"), ("R2", 999, "Nobody", "?"))
    answer = upload(client, seller, data)
    assert answer.status_code == 201
    assert answer.get_json() | {"id": 0} == {
        "id": 0,
        "format": "camt053",
        "account": "",
        "lines": 2,
        "matched": 1,
        "unmatched": 1,
    }
    assert detail(client, seller, first["id"])["status"] == "paid"
    # the same file again, then an overlapping one: nothing new
    assert upload(client, seller, data).status_code == 200
    again = upload(client, seller, data + b" ")
    assert again.status_code == 201 and again.get_json()["lines"] == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BankLine)) == 2
        assert db.session.scalar(select(func.count()).select_from(InvoicePayment)) == 1


def test_amount_and_name_partial_and_several(client, seller):
    a = invoice(client, seller, 10_000)
    b = invoice(client, seller, 20_000)
    c = invoice(client, seller, 33_300)
    data = camt(
        ("P1", 25_000, "X", f"{a['number']} {b['number']}"),  # a in full, b in part
        ("P2", 33_300, "ACME SAS", "virement"),  # amount + client name
    )
    body = upload(client, seller, data).get_json()
    assert (body["matched"], body["unmatched"]) == (2, 0)
    assert detail(client, seller, a["id"])["status"] == "paid"
    assert detail(client, seller, b["id"])["status"] == "partially_paid"
    assert detail(client, seller, c["id"])["status"] == "paid"


def test_unmatched_review_assign_undo(client, seller):
    made = invoice(client, seller, 15_050)
    data = camt(("M1", 15_050, "Marie Petit", "Merci pour l'atelier"))
    assert upload(client, seller, data).get_json()["unmatched"] == 1
    review = client.get("/api/v1/bank-lines", headers=seller["headers"]).get_json()["lines"]
    [petit] = [line for line in review if line["counterparty"] == "Marie Petit"]
    assigned = client.post(
        f"/api/v1/bank-lines/{petit['id']}/matches",
        json={"invoice_id": made["id"]},
        headers=seller["headers"],
    )
    assert assigned.status_code == 201 and assigned.get_json()["left_minor"] == 0
    assert detail(client, seller, made["id"])["status"] == "paid"
    [match] = assigned.get_json()["matches"]
    undone = client.post(f"/api/v1/bank-matches/{match['id']}/undo", headers=seller["headers"])
    assert undone.status_code == 200 and undone.get_json()["left_minor"] == 15_050
    assert detail(client, seller, made["id"])["status"] == "issued"
    again = client.post(f"/api/v1/bank-matches/{match['id']}/undo", headers=seller["headers"])
    assert again.status_code == 409


@pytest.mark.parametrize(
    "data", [b"", b"<x/>", b"OFXHEADER:100\n<OFX>", b"\xff\xfe\x00garbage", b"a;b\n1;2\n"]
)
def test_bad_files_are_422(client, seller, data):
    assert upload(client, seller, data, "bad.bin").status_code == 422


def test_another_freelancers_rows_are_404(client, seller, make_freelancer):
    made = invoice(client, seller, 999)
    sid = upload(client, seller, camt(("Z1", 5, "X", "?"))).get_json()["id"]
    other = make_freelancer()
    h = other["headers"]
    assert client.get(f"/api/v1/bank-statements/{sid}", headers=h).status_code == 404
    [line] = client.get(f"/api/v1/bank-statements/{sid}", headers=seller["headers"]).get_json()[
        "lines"
    ]
    url = f"/api/v1/bank-lines/{line['id']}/matches"
    assert client.post(url, json={"invoice_id": made["id"]}, headers=h).status_code == 404
    assert client.post("/api/v1/bank-matches/1/undo", headers=h).status_code == 404
    assert client.get("/api/v1/bank-lines", headers=h).get_json()["lines"] == []


def test_transfer_stops_the_dunning_case(client, seller, app):
    from webapp.dunning.due import open_for_overdue_invoice

    made = invoice(client, seller, 40_000, days=0)
    with app.app_context():
        inv = db.session.get(Invoice, made["id"])
        from billing.db import utcnow

        open_for_overdue_invoice(db.session, inv.id, utcnow() + timedelta(days=3))
        db.session.commit()
        assert db.session.scalars(select(DunningCase)).one().status == "open"
    upload(client, seller, camt(("D1", 40_000, "ACME", made["number"])))
    with app.app_context():
        case = db.session.scalars(select(DunningCase)).one()
        assert case.status == "paid" and case.closed_at is not None
    # undoing the match that paid it reopens the case, and says so
    [line] = detail_lines(client, seller)
    [match] = line["matches"]
    undone = client.post(f"/api/v1/bank-matches/{match['id']}/undo", headers=seller["headers"])
    assert undone.get_json()["dunning_case_reopened"] == case.id
    with app.app_context():
        case = db.session.scalars(select(DunningCase)).one()
        assert (case.status, case.closed_at) == ("open", None)
    assert detail(client, seller, made["id"])["status"] == "issued"


def test_undoing_a_match_without_a_dunning_case_reopens_nothing(client, seller):
    made = invoice(client, seller, 10_000)
    upload(client, seller, camt(("U1", 10_000, "ACME", made["number"])))
    [line] = detail_lines(client, seller)
    undone = client.post(
        f"/api/v1/bank-matches/{line['matches'][0]['id']}/undo", headers=seller["headers"]
    )
    assert undone.status_code == 200 and undone.get_json()["dunning_case_reopened"] is None


def detail_lines(client, seller) -> list[dict]:
    statements = client.get("/api/v1/bank-lines", headers=seller["headers"]).get_json()["lines"]
    assert statements == []  # matched lines are not in the review list
    from billing.books.models import BankStatement

    with client.application.app_context():
        ids = db.session.scalars(select(BankStatement.id)).all()
    out = []
    for sid in ids:
        got = client.get(f"/api/v1/bank-statements/{sid}", headers=seller["headers"])
        out += [line for line in got.get_json()["lines"] if line["matches"]]
    return out


def test_exports_structure_and_totals(client, seller, app):
    a = invoice(client, seller, 10_000)
    invoice(client, seller, 25_000)
    upload(client, seller, camt(("E1", 10_000, "X", a["number"])))
    today = date.today()
    csv_answer = client.get(
        f"/api/v1/books/receipts?from={today.replace(day=1)}&to={today}",
        headers=seller["headers"],
    )
    assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"
    rows = csv_answer.get_data(as_text=True).strip().split("\r\n")
    assert rows[0].startswith("Date;Client;Nature;Montant")
    with app.app_context():
        paid = db.session.scalar(select(func.sum(InvoicePayment.amount_minor)))
    total = sum(int(r.split(";")[3].replace(",", "")) for r in rows[1:])
    assert total == paid == 10_000 and "Virement" in rows[1]
    fec = client.get(f"/api/v1/books/fec?year={today.year}", headers=seller["headers"])
    assert fec.status_code == 200
    lines = [r.split("\t") for r in fec.get_data(as_text=True).split("\r\n") if r]
    assert tuple(lines[0]) == exports.FEC_COLUMNS and all(len(r) == 18 for r in lines)
    by_entry: dict[str, int] = {}
    for r in lines[1:]:
        assert len(r[3]) == 8 and r[3].isdigit()  # YYYYMMDD
        amount = int(r[11].replace(",", "")) - int(r[12].replace(",", ""))
        by_entry[r[2]] = by_entry.get(r[2], 0) + amount
    assert len(by_entry) == 3 and set(by_entry.values()) == {0}
    assert {r[0] for r in lines[1:]} == {"VT", "BQ"}
    assert client.get("/api/v1/books/fec?year=x", headers=seller["headers"]).status_code == 422
    bad = client.get("/api/v1/books/receipts?from=2026-13-01&to=x", headers=seller["headers"])
    assert bad.status_code == 422


@pytest.fixture
def no_csrf(app_config):
    app_config["WTF_CSRF_ENABLED"] = False


def test_books_page_upload_assign_and_invoice_by_hand(no_csrf, client, seller):
    client.post("/login", data={"email": seller["email"], "password": seller["password"]})
    page = client.get("/books")
    assert page.status_code == 200 and b"FEC" in page.data
    issued = client.post(
        "/books/invoices",
        data={
            "name": "Marie Petit",
            "email": "marie@example.test",
            "description": "Atelier",
            "quantity": "1",
            "unit_amount": "150,50",
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    assert issued.status_code == 302, issued.get_data(as_text=True)[:500]
    data = camt(("W1", 15_050, "Someone", "merci"))
    up = client.post(
        "/books/statements",
        data={"file": (io.BytesIO(data), "s.xml")},
        content_type="multipart/form-data",
    )
    assert up.status_code == 302
    page = client.get("/books").get_data(as_text=True)
    assert "Someone" in page
    bad = client.post(
        "/books/statements",
        data={"file": (io.BytesIO(b"nope"), "s.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert client.get("/books/fec.txt?year=2026").status_code == 200


class TestReceiptOverSmtp:
    @pytest.fixture
    def app_config(self, app_config, smtp_server):
        return {**app_config, "SMTP_URL": smtp_server.url}

    def test_the_client_is_thanked(self, app, client, seller, smtp_server):
        made = invoice(client, seller, 12_000)
        answer = upload(client, seller, camt(("T1", 12_000, "ACME", made["number"])))
        assert answer.get_json()["matched"] == 1
        from webapp.mail.models import OutboundEmail
        from webapp.mail.service import deliver_email

        with app.app_context():
            queued = db.session.scalars(
                select(OutboundEmail.id).where(OutboundEmail.to_addr == "jean@acme.example")
            ).all()
            assert len(queued) == 1
            deliver_email(queued[0])  # what the worker runs
        [mail] = [m for m in smtp_server.messages if m.rcpt_tos == ["jean@acme.example"]]
        text = mail.message.get_body(("plain",)).get_content()
        assert made["number"] in text and "120,00" in text
        assert "Paiement reçu par virement" in text and "Montant débité" not in text
        [pdf] = list(mail.message.iter_attachments())
        assert pdf.get_filename() == f"{made['number']}.pdf"
