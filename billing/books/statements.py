"""Reading bank statement files: ISO 20022 CAMT.053 / CAMT.054 (lxml), OFX 1.x SGML
and 2.x XML (ofxtools), and CSV exports with a column mapping.

Every reader returns the same `Statement`: booked lines with a bank reference that
stays the same when the file is exported again (the import's duplicate guard),
an amount in signed minor units (credits positive), the counterparty and the
remittance information. Dates are the bank's calendar days (Europe/Paris), never
UTC's. Anything unreadable raises `Unreadable` with a message
for people; never a parser's own exception.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from lxml import etree

from billing.money import minor_exponent

# French banks book in Paris time; the statements' dates are theirs.
BANK_ZONE = ZoneInfo("Europe/Paris")


class Unreadable(ValueError):
    """The file is not a statement we can read (the message says why)."""


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booked entry (one transaction of a batched entry)."""

    reference: str
    booked_on: date
    amount_minor: int
    currency: str
    counterparty: str = ""
    remittance: str = ""


@dataclass(slots=True)
class Statement:
    """What a file holds: its format, the account, the lines."""

    format: str
    account: str = ""
    lines: list[StatementLine] = field(default_factory=list)


def to_minor(amount: Decimal, currency: str) -> int:
    """An exact decimal amount in minor units; `Unreadable` when finer than the currency."""
    scaled = amount.scaleb(minor_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise Unreadable(f"the amount {amount} has more decimals than {currency.upper()}")
    return int(scaled)


def read(data: bytes, filename: str = "", mapping: dict[str, str] | None = None) -> Statement:
    """Recognise the file's format and read it."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:2000]
    if not head:
        raise Unreadable("the file is empty")
    if b"OFXHEADER" in head or b"<OFX>" in head.upper():
        return read_ofx(data)
    if head.startswith(b"<"):
        return read_camt(data)
    return read_csv(data, mapping or {})


# --- CAMT.053 / CAMT.054 --------------------------------------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _x(node: etree._Element, path: str) -> list[etree._Element]:
    # Namespace-agnostic: every bank ships a different camt version (.001.02 … .001.08).
    steps = "/".join(f"*[local-name()='{p}']" for p in path.split("/"))
    return node.xpath(steps)


def _text(node: etree._Element, *paths: str) -> str:
    for path in paths:
        found = _x(node, path)
        if found and (found[0].text or "").strip():
            return " ".join(found[0].text.split())
    return ""


def bank_day(moment: datetime) -> date:
    """The bank's calendar day of a moment: a time with an offset (UTC in OFX) is read
    in the bank's zone, so a transfer booked at 00:30 in Paris is not the day before."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(BANK_ZONE).date()


def _camt_date(entry: etree._Element) -> date:
    raw = _text(entry, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
    try:
        if len(raw) > 10:  # DtTm: ISO 8601, with an offset or "Z", or local without one
            return bank_day(datetime.fromisoformat(raw.replace("Z", "+00:00")))
        return date.fromisoformat(raw)
    except ValueError:
        raise Unreadable(f"an entry has no readable booking date ({raw!r})") from None


def _camt_amount(node: etree._Element, path: str) -> tuple[Decimal, str] | None:
    found = _x(node, path)
    if not found:
        return None
    try:
        return Decimal((found[0].text or "").strip()), (found[0].get("Ccy") or "").lower()
    except InvalidOperation:
        raise Unreadable(f"an amount is not a number ({found[0].text!r})") from None


def _remittance(tx: etree._Element) -> str:
    parts = [" ".join((n.text or "").split()) for n in _x(tx, "RmtInf/Ustrd")]
    for strd in _x(tx, "RmtInf/Strd"):
        parts += [_text(strd, "CdtrRefInf/Ref"), _text(strd, "RfrdDocInf/Nb")]
        parts += [" ".join((n.text or "").split()) for n in _x(strd, "AddtlRmtInf")]
    parts.append(_text(tx, "Refs/EndToEndId"))
    return " ".join(p for p in parts if p and p != "NOTPROVIDED")


def _party(tx: etree._Element, credit: bool) -> str:
    who = "Dbtr" if credit else "Cdtr"
    return _text(tx, f"RltdPties/{who}/Nm", f"RltdPties/{who}/Pty/Nm")


def read_camt(data: bytes) -> Statement:
    """CAMT.053 (statement) or CAMT.054 (notification): one line per transaction detail,
    so a batched entry (several transfers booked as one) gives one line each."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"not well-formed XML: {exc}") from None
    kind = "camt053" if _x(root, "BkToCstmrStmt") else ""
    kind = kind or ("camt054" if _x(root, "BkToCstmrDbtCdtNtfctn") else "")
    if not kind:
        raise Unreadable("an XML file that is neither CAMT.053 nor CAMT.054")
    reports = _x(root, "BkToCstmrStmt/Stmt") or _x(root, "BkToCstmrDbtCdtNtfctn/Ntfctn")
    statement = Statement(kind)
    for report in reports:
        statement.account = statement.account or _text(report, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        for n, entry in enumerate(_x(report, "Ntry"), start=1):
            status = _text(entry, "Sts", "Sts/Cd")
            if status and status not in ("BOOK", "BOOKED"):
                continue  # pending or informational: not money on the account yet
            amount = _camt_amount(entry, "Amt")
            if amount is None:
                raise Unreadable("an entry has no amount")
            credit = _text(entry, "CdtDbtInd") != "DBIT"
            booked = _camt_date(entry)
            entry_ref = _text(entry, "AcctSvcrRef", "NtryRef") or (
                f"{_text(report, 'Id')}:{n}:{booked.isoformat()}:{amount[0]}"
            )
            details = _x(entry, "NtryDtls/TxDtls")
            for i, tx in enumerate(details or [entry], start=1):
                own = _camt_amount(tx, "AmtDtls/TxAmt/Amt") or _camt_amount(tx, "Amt")
                value, currency = own if (own and tx is not entry) else amount
                ref = _text(tx, "Refs/AcctSvcrRef") if tx is not entry else ""
                if not ref:
                    ref = entry_ref if len(details) <= 1 else f"{entry_ref}/{i}"
                minor = to_minor(value, currency or "eur")
                statement.lines.append(
                    StatementLine(
                        reference=ref,
                        booked_on=booked,
                        amount_minor=minor if credit else -minor,
                        currency=currency or "eur",
                        counterparty=_party(tx, credit)[:200],
                        remittance=_remittance(tx),
                    )
                )
    return statement


# --- OFX --------------------------------------------------------------------------


def read_ofx(data: bytes) -> Statement:
    """OFX 1.x (SGML) or 2.x (XML) bank statements, read by ofxtools."""
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises a dozen kinds; all mean "unreadable"
        raise Unreadable(f"not a readable OFX file: {exc}") from None
    statement = Statement("ofx")
    for stmt in ofx.statements:
        currency = (stmt.curdef or "EUR").lower()
        statement.account = statement.account or str(getattr(stmt.account, "acctid", "") or "")
        for tx in stmt.banktranlist or []:
            posted: datetime = tx.dtposted
            statement.lines.append(
                StatementLine(
                    reference=str(tx.fitid),
                    booked_on=bank_day(posted),
                    amount_minor=to_minor(Decimal(tx.trnamt), currency),
                    currency=currency,
                    counterparty=str(tx.name or "")[:200],
                    remittance=" ".join(str(p) for p in (tx.memo, tx.refnum, tx.checknum) if p),
                )
            )
    return statement


# --- CSV --------------------------------------------------------------------------

# The usual headers of French bank exports, lower-cased, accents kept.
DEFAULTS = {
    "date": ("date", "date opération", "date operation", "date de l'opération", "date comptable"),
    "label": ("libellé", "libelle", "label", "description", "libellé opération"),
    "amount": ("montant", "amount", "montant (eur)"),
    "credit": ("crédit", "credit"),
    "debit": ("débit", "debit"),
    "reference": ("référence", "reference", "ref"),
    "counterparty": ("tiers", "contrepartie", "émetteur", "bénéficiaire"),
}


def parse_decimal(text: str) -> Decimal:
    """ "1 234,56", "1.234,56", "-45,00", "1234.56" → Decimal; `Unreadable` otherwise."""
    raw = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    raw = raw.replace("€", "").replace("EUR", "")
    if "," in raw:
        raw = raw.replace(".", "").replace(",", ".")
    try:
        return Decimal(raw) if raw else Decimal(0)
    except InvalidOperation:
        raise Unreadable(f"the amount {text!r} is not a number") from None


def parse_day(text: str) -> date:
    """DD/MM/YYYY (French banks), DD-MM-YYYY, DD/MM/YY or ISO YYYY-MM-DD."""
    raw = text.strip()
    for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise Unreadable(f"the date {text!r} is not DD/MM/YYYY")


def _column(headers: list[str], mapping: dict[str, str], key: str) -> int | None:
    wanted = mapping.get(key)
    names = [h.strip().lower() for h in headers]
    if wanted:
        if wanted.strip().lower() not in names:
            raise Unreadable(f"the mapped column {wanted!r} is not in the file")
        return names.index(wanted.strip().lower())
    for candidate in DEFAULTS[key]:
        if candidate in names:
            return names.index(candidate)
    return None


def read_csv(data: bytes, mapping: dict[str, str], currency: str = "eur") -> Statement:
    """A CSV export: `;` or `,` separated, comma decimals, DD/MM/YYYY dates; the columns
    found by `mapping` ({date, label, amount | credit + debit, reference?, counterparty?})
    or by the usual French headers."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older bank exports
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = [r for r in reader if any(c.strip() for c in r)]
    if len(rows) < 1 or len(rows[0]) < 2:
        raise Unreadable("not a CSV statement (no header row with columns)")
    headers, body = rows[0], rows[1:]
    cols = {key: _column(headers, mapping, key) for key in DEFAULTS}
    if cols["date"] is None or (cols["amount"] is None and cols["credit"] is None):
        raise Unreadable("the CSV needs a date column and an amount (or credit) column")
    statement = Statement("csv")
    seen: dict[str, int] = {}
    for row in body:

        def cell(key: str, row: list[str] = row) -> str:
            i = cols[key]
            return row[i].strip() if i is not None and i < len(row) else ""

        booked = parse_day(cell("date"))
        if cols["amount"] is not None:
            value = parse_decimal(cell("amount"))
        else:
            value = parse_decimal(cell("credit")) - abs(parse_decimal(cell("debit")))
        minor = to_minor(value, currency)
        if minor == 0:
            continue
        label = cell("label")
        ref = cell("reference")
        if not ref:
            # No bank reference: a digest of the row, numbered when a day has twins, is
            # the same each time the bank exports the same history.
            digest = hashlib.sha256(f"{booked}|{minor}|{label}".encode()).hexdigest()[:24]
            seen[digest] = seen.get(digest, 0) + 1
            ref = f"csv:{digest}:{seen[digest]}"
        statement.lines.append(
            StatementLine(ref[:200], booked, minor, currency, cell("counterparty")[:200], label)
        )
    return statement
