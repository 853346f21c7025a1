"""Which invoices a bank line pays: by the invoice number in its remittance
information, else by the exact amount and the client's name within a date window.

Pure functions over plain values; `webapp.books.service` applies the result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

# "F2026-0001", "F 2026-0001", "FACT 2026/1", "fact-2026-0001", "F-2026-12", "f2026 0003":
# an optional prefix, a year, a separator or none, a sequence number.
_NUMBER = re.compile(
    r"(?<![0-9A-Z])(?:FACTURE|FACT|FA|F|INV|N[O°])?[\s\-/_.:#]*(20\d{2})[\s\-/_.]*(\d{1,6})(?![0-9])"
)
# A transfer arrives at the earliest a few days before the invoice (a client paying on
# the quote) and usually within months of it.
WINDOW_BEFORE = timedelta(days=7)
WINDOW_AFTER = timedelta(days=180)


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """What matching needs of an invoice still owed."""

    id: int
    number: str
    balance_minor: int
    currency: str
    issue_date: date
    names: tuple[str, ...]


def plain(text: str) -> str:
    """Upper case, no accents: what bank systems keep of a name or a reference."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def numbers_in(remittance: str) -> list[str]:
    """Invoice numbers the remittance information names, canonical (`F2026-0001`), in order."""
    found: list[str] = []
    for year, seq in _NUMBER.findall(plain(remittance)):
        number = f"F{year}-{int(seq):04d}"
        if int(seq) > 0 and number not in found:
            found.append(number)
    return found


def _names_match(names: tuple[str, ...], text: str) -> bool:
    words = set(re.findall(r"[A-Z0-9]+", plain(text)))
    for name in names:
        tokens = [t for t in re.findall(r"[A-Z0-9]+", plain(name)) if len(t) > 2]
        tokens = [t for t in tokens if t not in {"SAS", "SARL", "SASU", "EURL", "SA", "EI"}]
        if tokens and all(t in words for t in tokens):
            return True
    return False


def allocate(
    amount_minor: int,
    currency: str,
    booked_on: date,
    text: str,
    counterparty: str,
    invoices: list[OpenInvoice],
) -> tuple[str, list[tuple[int, int]]]:
    """How a credit of `amount_minor` settles open invoices: `(how, [(invoice_id, amount)])`.

    By number: the named invoices in the order named, each up to its balance (one
    transfer paying several; a partial payment leaves a balance). Else by amount and
    name: exactly one open invoice of that balance whose client is named, within the
    window. Nothing sure: `("", [])`, the line waits for review.
    """
    owed = [i for i in invoices if i.currency == currency and i.balance_minor > 0]
    by_number = {i.number: i for i in owed}
    named = [by_number[n] for n in numbers_in(text) if n in by_number]
    if named:
        out: list[tuple[int, int]] = []
        left = amount_minor
        for invoice in named:
            part = min(left, invoice.balance_minor)
            if part > 0:
                out.append((invoice.id, part))
                left -= part
        return "number", out
    candidates = [
        i
        for i in owed
        if i.balance_minor == amount_minor
        and i.issue_date - WINDOW_BEFORE <= booked_on <= i.issue_date + WINDOW_AFTER
        and _names_match(i.names, f"{counterparty} {text}")
    ]
    if len(candidates) == 1:
        return "amount_name", [(candidates[0].id, amount_minor)]
    return "", []


# A payout reaches the bank a day or two after Stripe's arrival date at worst, and
# some banks book it the day before (value date); its label names Stripe.
PAYOUT_BEFORE = timedelta(days=1)
PAYOUT_AFTER = timedelta(days=5)


@dataclass(frozen=True, slots=True)
class OpenPayout:
    """What recognising a payout on a bank line needs."""

    id: int
    stripe_id: str
    amount_minor: int
    currency: str
    arrival_on: date
    descriptor: str = ""


def payout_for(
    amount_minor: int,
    currency: str,
    booked_on: date,
    text: str,
    payouts: list[OpenPayout],
) -> OpenPayout | None:
    """The Stripe payout a bank credit carries: same amount and currency, booked near
    its arrival date, the label naming Stripe (or the payout); `None` unless exactly one."""
    words = plain(text)
    named = "STRIPE" in words
    found = [
        p
        for p in payouts
        if p.amount_minor == amount_minor
        and p.currency == currency
        and p.arrival_on - PAYOUT_BEFORE <= booked_on <= p.arrival_on + PAYOUT_AFTER
        and (
            named or plain(p.stripe_id) in words or (p.descriptor and plain(p.descriptor) in words)
        )
    ]
    return found[0] if len(found) == 1 else None
