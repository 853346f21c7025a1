"""The freelancer's page choosing which notices they receive (clients are always told)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.notifications import service
from webapp.notifications.notices import freelancer_notices

bp = Blueprint("notifications", __name__)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings():
    """Tick a notice to receive it; every notice is on until switched off."""
    notices = freelancer_notices()
    if request.method == "POST":
        known = {n.event for n in notices}
        enabled = {event for event in request.form.getlist("notice") if event in known}
        service.set_choices(db.session, current_user.id, enabled)
        db.session.commit()
        flash(_("Your notification choices are saved."), "success")
        return redirect(url_for("notifications.settings"))
    off = service.opted_out(db.session, current_user.id)
    return render_template("notifications/settings.html", notices=notices, off=off)
