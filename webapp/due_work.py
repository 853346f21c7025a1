"""Imports every module that registers due work."""

from webapp.mail import due as _mail_due  # noqa: F401
