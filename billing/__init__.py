"""Acompte's payments engine.

Framework-free: nothing in this package imports flask. Operations are plain
functions that take an SQLAlchemy session, flush, and leave the commit to the
caller.
"""
