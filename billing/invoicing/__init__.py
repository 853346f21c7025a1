"""Invoicing: gapless numbering, invoices and credit notes, payments received, PDF.

`service` holds the operations (issue, record a payment, credit); `pdf`
renders a document; `models` the tables. Framework-free, like all of billing.
"""
