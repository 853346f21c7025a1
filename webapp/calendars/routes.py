"""The calendars page: add, list and remove connections; choose what blocks and receives."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.calendars import service
from webapp.calendars.schemas import ConnectionSchema
from webapp.errors import flatten_messages
from webapp.extensions import db

bp = Blueprint("calendars", __name__)


@bp.route("/settings/calendars", methods=["GET", "POST"])
@login_required
def settings():
    errors: dict[str, list[str]] = {}
    form = {key: request.form.get(key, "") for key in ("kind", "url", "username")}
    if request.method == "POST":
        try:
            data = ConnectionSchema().load(
                {
                    "kind": request.form.get("kind", ""),
                    "url": request.form.get("url", ""),
                    "username": request.form.get("username") or None,
                    "password": request.form.get("password") or None,
                }
            )
            service.connect(db.session, current_user.id, data)
        except ValidationError as exc:
            db.session.rollback()
            errors = flatten_messages(exc.messages)
        except service.Refused as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Calendar connected. Its busy times will block your slots within a minute."))
            return redirect(url_for("calendars.settings"))
    rows = [
        service.describe(db.session, c) for c in service.connections(db.session, current_user.id)
    ]
    page = render_template("calendars/settings.html", connections=rows, form=form, errors=errors)
    return page, (422 if errors else 200)


@bp.post("/settings/calendars/<int:connection_id>/choices")
@login_required
def choose(connection_id: int):
    connection = _own(connection_id)
    receives = request.form.get("receives", type=int)
    choices = [
        {
            "id": calendar.id,
            "blocks": f"blocks-{calendar.id}" in request.form,
            "receives_bookings": calendar.id == receives,
        }
        for calendar in service.calendars_of(db.session, connection.id)
    ]
    try:
        service.choose(db.session, connection, choices)
    except service.Refused as exc:
        db.session.rollback()
        flash(" ".join(m for ms in exc.fields.values() for m in ms))
    else:
        db.session.commit()
        flash(_("Calendar choices saved."))
    return redirect(url_for("calendars.settings"))


@bp.post("/settings/calendars/<int:connection_id>/remove")
@login_required
def remove(connection_id: int):
    service.remove(db.session, _own(connection_id))
    db.session.commit()
    flash(_("Calendar removed."))
    return redirect(url_for("calendars.settings"))


def _own(connection_id: int):
    try:
        return service.get_connection(db.session, current_user.id, connection_id)
    except service.NotFound:
        abort(404)
