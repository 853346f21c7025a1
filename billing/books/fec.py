"""The FEC (LPF art. A47 A-1): the 18 columns in their order, dates YYYYMMDD, amounts
with a decimal comma, tab separated, every EcritureNum balanced.

Two journals: VT (sales: clients / services or goods / VAT collected) and BQ
(receipts and the Stripe account's movements). A transfer: bank / clients. A card
payment goes through Stripe as a transit account: Stripe / clients when cashed,
fees / Stripe for Stripe's fee, bank / Stripe when the payout reaches the bank, and
clients / Stripe for a refund — so the bank account holds what the statement shows
and the Stripe account's balance is what Stripe still holds. The numbers are the
freelancer's (`billing.books.accounts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.books.accounts import Account, accounts_for
from billing.books.models import StripeBalanceTxn, StripePayout
from billing.books.payouts import card_refunds
from billing.invoicing.models import KIND_CREDIT_NOTE, Invoice
from billing.money import minor_exponent

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)
JOURNALS = {"VT": "Ventes", "BQ": "Banque"}


@dataclass(frozen=True, slots=True)
class Leg:
    """One line of an entry: an account, its auxiliary (a client), debit and credit."""

    account: Account
    aux: str
    debit: int
    credit: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One balanced EcritureNum."""

    day: date
    journal: str
    piece: str
    label: str
    legs: tuple[Leg, ...]
    client: str = ""  # CompAuxLib when it is not the label itself


def decimal_comma(amount_minor: int, currency: str = "eur") -> str:
    """1234,50 — the French accounting notation, no thousands separator."""
    exp = minor_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, part = divmod(abs(amount_minor), 10**exp)
    return f"{sign}{whole},{part:0{exp}d}" if exp else f"{sign}{whole}"


def clean(text: str) -> str:
    """One line of text: a tab or a line break inside a field would break the columns."""
    return " ".join((text or "").split())


def _client(invoice: Invoice) -> str:
    buyer = invoice.buyer or {}
    return clean(buyer.get("legal_name") or buyer.get("name") or "")


def _sales(inv: Invoice, acc: dict[str, Account]) -> Entry:
    sign = -1 if inv.kind == KIND_CREDIT_NOTE else 1
    aux = f"C{inv.id:06d}"
    sales = acc["goods"] if (inv.mentions or {}).get("category") == "goods" else acc["services"]
    legs = [
        Leg(acc["clients"], aux, inv.total_incl_vat_minor * sign, 0),
        Leg(sales, "", 0, inv.total_excl_vat_minor * sign),
    ]
    if inv.total_vat_minor:
        legs.append(Leg(acc["vat_collected"], "", 0, inv.total_vat_minor * sign))
    return Entry(inv.issue_date, "VT", inv.number, _client(inv), tuple(legs))


def entries(session: Session, freelancer_id: int, year: int, tz: str) -> list[Entry]:
    """Every entry of the calendar year, in date order (sales before receipts on a day)."""
    zone = ZoneInfo(tz)
    acc = accounts_for(session, freelancer_id)
    out: list[Entry] = []
    invoices = session.scalars(
        select(Invoice)
        .where(Invoice.freelancer_id == freelancer_id)
        .order_by(Invoice.issue_date, Invoice.id)
    ).all()
    by_payment: dict[int, Invoice] = {}
    for inv in invoices:
        if inv.issue_date.year == year:
            out.append(_sales(inv, acc))
        aux = f"C{inv.id:06d}"
        for p in inv.payments:
            if p.payment_id is not None:
                by_payment[p.payment_id] = inv
            day = p.paid_at.astimezone(zone).date()
            if day.year != year:
                continue
            cash = acc["stripe"] if p.method == "card" else acc["bank"]
            legs = (Leg(cash, "", p.amount_minor, 0), Leg(acc["clients"], aux, 0, p.amount_minor))
            out.append(Entry(day, "BQ", inv.number, _client(inv), legs))
    for refund, payment in card_refunds(session, freelancer_id):
        day = refund.created_at.astimezone(zone).date()
        inv = by_payment.get(payment.id)
        if day.year != year or inv is None:
            continue
        legs = (
            Leg(acc["clients"], f"C{inv.id:06d}", refund.amount_minor, 0),
            Leg(acc["stripe"], "", 0, refund.amount_minor),
        )
        label = f"Remboursement {_client(inv)}"
        out.append(Entry(day, "BQ", inv.number, label, legs, client=_client(inv)))
    out.extend(_stripe_entries(session, freelancer_id, year, zone, acc))
    out.sort(key=lambda e: (e.day, e.journal != "VT"))
    return out


def _stripe_entries(
    session: Session, freelancer_id: int, year: int, zone: ZoneInfo, acc: dict[str, Account]
) -> list[Entry]:
    out = []
    for txn in session.scalars(
        select(StripeBalanceTxn)
        .where(StripeBalanceTxn.freelancer_id == freelancer_id, StripeBalanceTxn.fee_minor != 0)
        .order_by(StripeBalanceTxn.created_at, StripeBalanceTxn.id)
    ):
        day = txn.created_at.astimezone(zone).date()
        if day.year == year:
            legs = (
                Leg(acc["fees"], "", txn.fee_minor, 0),
                Leg(acc["stripe"], "", 0, txn.fee_minor),
            )
            out.append(Entry(day, "BQ", txn.stripe_txn_id[:40], "Frais Stripe", legs))
    for payout in session.scalars(
        select(StripePayout)
        .where(StripePayout.freelancer_id == freelancer_id, StripePayout.status == "paid")
        .order_by(StripePayout.arrival_on, StripePayout.id)
    ):
        if payout.arrival_on.year == year:
            amount = payout.amount_minor
            legs = (Leg(acc["bank"], "", amount, 0), Leg(acc["stripe"], "", 0, amount))
            label = f"Virement Stripe {payout.stripe_payout_id}"
            out.append(Entry(payout.arrival_on, "BQ", payout.stripe_payout_id[:40], label, legs))
    return out


def fec_rows(
    session: Session, freelancer_id: int, year: int, tz: str = "Europe/Paris"
) -> list[list[str]]:
    """The FEC's lines for a calendar year, header first."""
    lines = [list(FEC_COLUMNS)]
    for n, entry in enumerate(entries(session, freelancer_id, year, tz), start=1):
        stamp = entry.day.strftime("%Y%m%d")
        for leg in entry.legs:
            debit, credit = leg.debit, leg.credit
            # A negative amount (a credit note, a reversal) goes to the other side.
            if debit < 0 or credit < 0:
                debit, credit = -credit, -debit
            lines.append(
                [
                    entry.journal,
                    JOURNALS[entry.journal],
                    f"{entry.journal}{n:06d}",
                    stamp,
                    leg.account.number,
                    clean(leg.account.label),
                    leg.aux,
                    (entry.client or entry.label) if leg.aux else "",
                    entry.piece,
                    stamp,
                    clean(f"{entry.piece} {entry.label}")[:200],
                    decimal_comma(debit),
                    decimal_comma(credit),
                    "",
                    "",
                    stamp,
                    "",
                    "",
                ]
            )
    return lines


def fec_text(rows: list[list[str]]) -> str:
    """The FEC file: tab separated, CRLF line ends."""
    return "".join("\t".join(r) + "\r\n" for r in rows)


def fec_filename(siren: str, year: int) -> str:
    """`<SIREN>FEC<closing date>.txt`, as A47 A-1 names it."""
    return f"{siren or '000000000'}FEC{year}1231.txt"
