"""Dunning (relances): recovering money after a failed charge or an overdue invoice.

Framework-free: the case lifecycle, the escalation schedule, penalties and the
letters. `webapp.dunning` plugs it into e-mails, invoices and pages.
"""
