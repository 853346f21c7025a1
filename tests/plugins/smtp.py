"""Fixtures for a real SMTP server on loopback (filled in by the mail work)."""
