"""Fixtures for the real localstripe server (filled in by the gateway work)."""
