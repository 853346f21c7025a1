"""Notifications: who is told what happened to their money, in their language.

`notices.NOTICES` is the one event → (recipient, template, subject) table;
`service.to_freelancer` / `service.to_client` send one, enqueued in the
caller's transaction; `receipts` hears the ledger (a receipt with the invoice
for every charge); `reminders` is the session reminders' due kind; `catch_up`
sends, once, the cancellation and fix-card notices that follow a status change
committed earlier (and the due kind `booking-notices` for a crash between); `routes`
is the freelancer's settings page choosing the notices they get.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask


def local_date(value: datetime | None) -> str:
    """A date as the current locale writes it ("3 déc. 2026" / "Dec 3, 2026")."""
    from babel.dates import format_date
    from flask_babel import get_locale

    if not isinstance(value, date):
        return ""
    return format_date(value, "medium", locale=str(get_locale() or "fr"))


def register(app: Flask) -> None:
    """The settings page and the e-mail templates' time filters."""
    from webapp.notifications.routes import bp
    from webapp.notifications.service import local_time

    app.register_blueprint(bp)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_date"] = local_date
