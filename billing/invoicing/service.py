"""Invoicing's one front door: issuing invoices and credit notes, recording
payments, reading totals. Plain functions that take a session, flush, and
leave the commit to the caller.

The operations live in their own modules and are gathered here, so callers
import one name space (`from billing.invoicing import service`):

- `validation`: `Party`, `Line`, VAT regimes, the mandatory-mention checks;
- `amounts`: line arithmetic (rounded half up once per line), the VAT
  breakdown, and the derived totals (`paid_minor`, `balance_due`, …);
- `queries`: finding invoices (by id, by billed source, by ledger payment);
- `issuing`: `issue_invoice` — number, compute, freeze, hash;
- `status`: the status machine, its event rows and `on_status_change`;
- `receipts`: `record_payment`, `reverse_payment`;
- `credit_notes`: `issue_credit_note`.

None of them imports this module.
"""

from __future__ import annotations

from billing.invoicing.amounts import (
    balance_due,
    credited_minor,
    line_amounts,
    paid_minor,
    quantity_milli,
    refund_due,
    vat_summary,
)
from billing.invoicing.credit_notes import issue_credit_note
from billing.invoicing.issuing import AlreadyInvoiced, issue_invoice
from billing.invoicing.issuing import content_hash as _content_hash
from billing.invoicing.models import (
    CREDITED,
    ISSUED,
    KIND_CREDIT_NOTE,
    KIND_INVOICE,
    METHODS,
    PAID,
    PARTIALLY_PAID,
)
from billing.invoicing.queries import find_by_payment, find_by_source, get_invoice, list_invoices
from billing.invoicing.receipts import record_payment, reverse_payment
from billing.invoicing.status import (
    MACHINE,
    TRANSITIONS,
    StatusSubscriber,
    on_status_change,
    remove_subscriber,
)
from billing.invoicing.validation import LOCALES, VAT_FRANCHISE, VAT_STANDARD, Line, Party

__all__ = [
    "CREDITED",
    "ISSUED",
    "KIND_CREDIT_NOTE",
    "KIND_INVOICE",
    "LOCALES",
    "MACHINE",
    "METHODS",
    "PAID",
    "PARTIALLY_PAID",
    "TRANSITIONS",
    "VAT_FRANCHISE",
    "VAT_STANDARD",
    "AlreadyInvoiced",
    "Line",
    "Party",
    "StatusSubscriber",
    "_content_hash",
    "balance_due",
    "credited_minor",
    "find_by_payment",
    "find_by_source",
    "get_invoice",
    "issue_credit_note",
    "issue_invoice",
    "line_amounts",
    "list_invoices",
    "on_status_change",
    "paid_minor",
    "quantity_milli",
    "record_payment",
    "refund_due",
    "remove_subscriber",
    "reverse_payment",
    "vat_summary",
]
