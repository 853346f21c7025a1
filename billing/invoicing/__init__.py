"""Invoicing: gapless numbering, invoices and credit notes, payments received, PDF.

`service` is the front door: it gathers the operations kept in `validation`,
`amounts`, `queries`, `issuing`, `status`, `receipts` and `credit_notes`;
`numbering` hands out the numbers; `pdf` renders a document; `models` the
tables. Framework-free, like all of billing.
"""
