"""Statement readers on files written by hand from the standards' examples, and the
tolerant invoice-number reading of remittance information."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from billing.books import matching, statements

FIXTURES = Path(__file__).parent.parent / "fixtures" / "books"


def _read(name: str) -> statements.Statement:
    return statements.read((FIXTURES / name).read_bytes(), name)


def test_camt053_batched_entry_gives_one_line_per_transfer() -> None:
    st = _read("camt053.xml")
    assert st.format == "camt053" and st.account == "FR7630006000011234567890189"
    refs = [line.reference for line in st.lines]
    # the pending entry is not money on the account: left out
    assert refs == ["BQ20261202-0001", "BQ20261202-0002-A", "BQ20261202-0002-B", "BQ20261203-0003"]
    single, batch_a, batch_b, debit = st.lines
    assert (single.amount_minor, single.counterparty) == (60_000, "ACME SAS")
    assert "FACT F 2026-0001" in single.remittance  # unstructured
    assert batch_a.amount_minor + batch_b.amount_minor == 35_050
    assert batch_a.remittance.startswith("F2026-0002")  # structured CdtrRefInf
    assert debit.amount_minor == -4_200 and debit.booked_on == date(2026, 12, 3)


def test_camt054_notification() -> None:
    [line] = _read("camt054.xml").lines
    assert (line.amount_minor, line.counterparty, line.booked_on) == (
        120_000,
        "Globex SARL",
        date(2026, 12, 4),
    )
    assert matching.numbers_in(line.remittance) == ["F2026-0003"]


@pytest.mark.parametrize("name", ["ofx1.ofx", "ofx2.ofx"])
def test_ofx_sgml_and_xml(name: str) -> None:
    st = _read(name)
    assert st.format == "ofx" and st.account == "12345678901"
    first = st.lines[0]
    assert first.reference.startswith("OFX-") and first.amount_minor > 0
    assert all(line.currency == "eur" for line in st.lines)


def test_ofx_sgml_debit_is_negative() -> None:
    assert [line.amount_minor for line in _read("ofx1.ofx").lines] == [60_000, -1_290]


def test_french_csv_comma_decimals_and_day_first_dates() -> None:
    st = _read("bank.csv")
    assert [(line.booked_on, line.amount_minor) for line in st.lines] == [
        (date(2026, 12, 2), 120_050),
        (date(2026, 12, 3), -4_200),
        (date(2026, 12, 4), 15_050),
        (date(2026, 12, 4), 15_050),
    ]
    # twins on the same day keep distinct, stable references
    refs = [line.reference for line in st.lines]
    assert len(set(refs)) == 4 and refs == [line.reference for line in _read("bank.csv").lines]


def test_csv_with_a_column_mapping() -> None:
    data = b'Jour,Texte,Somme\n2026-12-01,VIR F2026-0009,"12,30"\n'
    [line] = statements.read(
        data, "x.csv", {"date": "Jour", "label": "Texte", "amount": "Somme"}
    ).lines
    assert (line.amount_minor, line.remittance) == (1_230, "VIR F2026-0009")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><body>no</body></html>",
        b"<Document><BkToCstmrStmt>",
        b"OFXHEADER:100\n<OFX>x",
        b"a;b\nnot a date;1,00\n",
        b"\x00\x01\x02",
    ],
)
def test_unreadable_files_raise_unreadable(data: bytes) -> None:
    with pytest.raises(statements.Unreadable):
        statements.read(data, "bad")


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("VIR SEPA FACT F 2026-0001", ["F2026-0001"]),
        ("f2026 0003", ["F2026-0003"]),
        ("fact-2026-0001", ["F2026-0001"]),
        ("F-2026-12", ["F2026-0012"]),
        ("Facture n° 2026-0004 et F2026-0005", ["F2026-0004", "F2026-0005"]),
        ("Merci pour l'atelier", []),
    ],
)
def test_invoice_numbers_in_remittance(text: str, numbers: list[str]) -> None:
    assert matching.numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("posted", "day"),
    [
        ("20261201003000[+1:CET]", date(2026, 12, 1)),  # 23:30 UTC the day before
        ("20261130233000", date(2026, 12, 1)),  # OFX without a zone is GMT
        ("20261130223000", date(2026, 11, 30)),
        ("20260701", date(2026, 7, 1)),
    ],
)
def test_ofx_dates_are_the_banks_days_in_paris(posted: str, day: date) -> None:
    data = (
        (FIXTURES / "ofx1.ofx")
        .read_bytes()
        .replace(b"<DTPOSTED>20261203", b"<DTPOSTED>" + posted.encode())
    )
    assert statements.read(data, "x.ofx").lines[0].booked_on == day


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2026-11-30T23:30:00Z", date(2026, 12, 1)),
        ("2026-11-30T22:59:59+00:00", date(2026, 11, 30)),
        ("2026-12-01T00:30:00+01:00", date(2026, 12, 1)),
        ("2026-12-01T00:30:00", date(2026, 12, 1)),  # no offset: the bank's own time
    ],
)
def test_camt_booking_times_are_the_banks_days_in_paris(stamp: str, day: date) -> None:
    data = (
        "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt><Stmt>"
        "<Ntry><Amt Ccy='EUR'>10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><DtTm>{stamp}</DtTm></BookgDt><AcctSvcrRef>T1</AcctSvcrRef></Ntry>"
        "</Stmt></BkToCstmrStmt></Document>"
    ).encode()
    assert statements.read(data, "x.xml").lines[0].booked_on == day
