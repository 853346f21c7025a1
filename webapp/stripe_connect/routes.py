"""The Stripe connection page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.stripe_connect import service

bp = Blueprint("stripe_connect", __name__)


@bp.route("/settings/stripe", methods=["GET", "POST"])
@login_required
def settings():
    errors: dict[str, list[str]] = {}
    in_flight: str | None = None
    form = {"publishable_key": request.form.get("publishable_key", "")}
    checked = None
    if request.method == "POST":
        if request.form.get("action") == "test":
            from webapp.stripe_connect.check import check_connection

            checked = check_connection(current_user.id)
        elif request.form.get("action") == "disconnect":
            try:
                service.disconnect(current_user.id)
            except service.MoneyInFlight as exc:
                db.session.rollback()
                in_flight = exc.describe(_, ngettext)
            else:
                db.session.commit()
                flash(_("Disconnected: payments use this installation's Stripe account again."))
                return redirect(url_for("stripe_connect.settings"))
        else:
            try:
                service.connect(
                    current_user.id,
                    request.form.get("secret_key", ""),
                    request.form.get("publishable_key", ""),
                    request.form.get("webhook_secret", ""),
                )
            except service.ConnectionRefused as exc:
                db.session.rollback()
                errors = exc.fields
            except service.MoneyInFlight as exc:
                db.session.rollback()
                in_flight = exc.describe(_, ngettext)
            else:
                db.session.commit()
                flash(_("Stripe connected."))
                return redirect(url_for("stripe_connect.settings"))
    from billing.webhooks import registry

    status = service.connection_status(current_user.id)
    page = render_template(
        "stripe_connect/settings.html",
        status=status,
        events=sorted(registry.types()),
        form=form,
        errors=errors,
        in_flight=in_flight,
        checked=checked,
    )
    return page, (409 if in_flight else 422 if errors else 200)
