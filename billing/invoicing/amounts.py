"""Invoice arithmetic: line amounts, the VAT breakdown, and what an invoice
still asks for once payments and credit notes are counted.

Amounts are integers in minor units. Each line is rounded once, half up; the
invoice totals are the sums of the lines, so the PDF always adds up. Totals
are derived from the payment and credit-note rows, never stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from billing.errors import NotAllowed
from billing.invoicing.models import DEBIT_KINDS, Invoice
from billing.invoicing.validation import Line


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def quantity_milli(quantity: int | Decimal | str) -> int:
    """The quantity in thousandths; `NotAllowed` for floats, bools, or finer than 0.001."""
    if isinstance(quantity, bool | float):
        raise NotAllowed("quantity must be an int or an exact decimal, never a float")
    try:
        milli = Decimal(str(quantity)) * 1000
    except InvalidOperation:
        raise NotAllowed(f"quantity {quantity!r} is not a number") from None
    if milli != milli.to_integral_value():
        raise NotAllowed("quantity has at most three decimals")
    if milli <= 0:
        raise NotAllowed("quantity must be positive")
    return int(milli)


def line_amounts(line: Line) -> tuple[int, int, int, int]:
    """(quantity_milli, excl. VAT, VAT, incl. VAT) of one line, each rounded half up once."""
    milli = quantity_milli(line.quantity)
    rate = line.vat_rate_bp
    amount = _div_half_up(milli * line.unit_amount_minor, 1000)
    if line.unit_includes_vat:
        excl = _div_half_up(amount * 10000, 10000 + rate)
        return milli, excl, amount - excl, amount
    vat = _div_half_up(amount * rate, 10000)
    return milli, amount, vat, amount + vat


def vat_summary(invoice: Invoice) -> list[dict[str, int]]:
    """Per VAT rate: base and VAT (the mandatory breakdown), rates in ascending order."""
    by_rate: dict[int, dict[str, int]] = {}
    for line in invoice.lines:
        row = by_rate.setdefault(
            line.vat_rate_bp, {"rate_bp": line.vat_rate_bp, "base_minor": 0, "vat_minor": 0}
        )
        row["base_minor"] += line.total_excl_vat_minor
        row["vat_minor"] += line.vat_minor
    return [by_rate[k] for k in sorted(by_rate)]


def paid_minor(invoice: Invoice) -> int:
    """What was received against the invoice."""
    return sum(p.amount_minor for p in invoice.payments)


def credited_minor(invoice: Invoice) -> int:
    """What credit notes took off the invoice."""
    return sum(c.total_incl_vat_minor for c in invoice.credit_notes)


def balance_due(invoice: Invoice) -> int:
    """What the buyer still owes (0 for a credit note, never negative)."""
    if invoice.kind not in DEBIT_KINDS:
        return 0
    return max(0, invoice.total_incl_vat_minor - credited_minor(invoice) - paid_minor(invoice))


def refund_due(invoice: Invoice) -> int:
    """Money received beyond what the invoice asks for after its credit notes."""
    if invoice.kind not in DEBIT_KINDS:
        return 0
    return max(0, paid_minor(invoice) + credited_minor(invoice) - invoice.total_incl_vat_minor)
