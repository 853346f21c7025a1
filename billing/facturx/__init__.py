"""Factur-X e-invoices (issue 12): the CII XML of every issued document, its checks
against the EN 16931 and French rules, the PDF/A-3 it is embedded in, and the
invoices suppliers send. Framework-free like the rest of `billing`."""
