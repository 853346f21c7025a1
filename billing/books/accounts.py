"""The accountant's account numbers for the FEC, per freelancer, with the PCG defaults.

The plan comptable général gives the classes; the sub-accounts are each firm's
choice, so every number can be changed (`BooksSettings.accounts`, the books page
and `PUT /api/v1/books/accounts`). Stripe is a transit account: card receipts
go to it, its fees and payouts leave it, so that the bank account (512) holds
exactly what the bank statement shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from billing.books.models import BooksSettings


@dataclass(frozen=True, slots=True)
class Account:
    """One FEC account: `CompteNum` and `CompteLib`."""

    number: str
    label: str


DEFAULTS: dict[str, Account] = {
    "clients": Account("411000", "Clients"),
    "services": Account("706000", "Prestations de services"),
    "goods": Account("707000", "Ventes de marchandises"),
    "vat_collected": Account("445710", "TVA collectée"),
    "bank": Account("512000", "Banque"),
    "stripe": Account("467000", "Stripe (compte de transit)"),
    "fees": Account("627000", "Services bancaires et assimilés"),
}
# CompteNum: letters and digits (A47 A-1 sets no length; accountants use 3 to 20).
NUMBER = re.compile(r"^[0-9A-Z]{3,20}$")


def accounts_for(session: Session, freelancer_id: int) -> dict[str, Account]:
    """The freelancer's accounts: the defaults, overridden by what they set."""
    row = session.get(BooksSettings, freelancer_id)
    chosen = (row.accounts if row is not None else None) or {}
    out = dict(DEFAULTS)
    for key, value in chosen.items():
        if key in out and isinstance(value, dict):
            out[key] = Account(
                str(value.get("number") or out[key].number),
                str(value.get("label") or out[key].label),
            )
    return out


def set_accounts(
    session: Session, freelancer_id: int, changes: dict[str, dict[str, str]]
) -> dict[str, Account]:
    """Change some account numbers or labels; `ValueError` naming a bad one. Flushed."""
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise ValueError(f"{key}: not an account of the books")
        number = value.get("number")
        if number is not None and not NUMBER.match(number):
            raise ValueError(f"{key}: 3 to 20 capital letters or digits")
    row = session.get(BooksSettings, freelancer_id)
    if row is None:
        row = BooksSettings(freelancer_id=freelancer_id, accounts={})
        session.add(row)
    merged = {k: dict(v) for k, v in (row.accounts or {}).items()}
    for key, value in changes.items():
        merged.setdefault(key, {}).update({k: v for k, v in value.items() if v})
    row.accounts = merged
    session.flush()
    return accounts_for(session, freelancer_id)
