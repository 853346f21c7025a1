"""Development-only pages: the outbox of every e-mail the app stored.

Shown only when `SHOW_OUTBOX` is on (the default unless `BASE_URL` is https):
it exposes every e-mail of every freelancer, so it must never be public.
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, current_app, render_template
from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.models import OutboundEmail

bp = Blueprint("dev", __name__, url_prefix="/dev")

OUTBOX_PAGE_SIZE = 200
# The stored HTML is shown as the recipient would see it, but must not run
# scripts, load anything or reach the app: no sources at all, inline styles only,
# and a sandbox (no scripts, no forms, an opaque origin).
E_MAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


@bp.before_request
def outbox_enabled() -> None:
    if not current_app.config.get("SHOW_OUTBOX"):
        abort(404)


@bp.get("/outbox")
def outbox() -> str:
    """Stored e-mails, newest first."""
    emails = db.session.scalars(
        select(OutboundEmail)
        .order_by(OutboundEmail.created_at.desc(), OutboundEmail.id.desc())
        .limit(OUTBOX_PAGE_SIZE)
    ).all()
    return render_template("dev/outbox.html", emails=emails)


@bp.get("/outbox/<int:email_id>")
def outbox_email(email_id: int) -> str:
    """One e-mail: headers, text part, HTML part in a sandboxed frame, attachments."""
    return render_template("dev/outbox_email.html", email=_email_or_404(email_id))


@bp.get("/outbox/<int:email_id>/html")
def outbox_email_html(email_id: int) -> Response:
    """The HTML part alone, for the frame, under a CSP that forbids everything active."""
    response = Response(_email_or_404(email_id).body_html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = E_MAIL_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/outbox/<int:email_id>/attachments/<int:index>")
def outbox_attachment(email_id: int, index: int) -> Response:
    """Download one attachment (always as a download, never rendered in the app's origin)."""
    attachments = _email_or_404(email_id).attachments or []
    if index >= len(attachments):
        abort(404)
    attachment = attachments[index]
    response = Response(
        base64.b64decode(attachment["data_b64"]), mimetype="application/octet-stream"
    )
    response.headers.set("Content-Disposition", "attachment", filename=attachment["filename"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _email_or_404(email_id: int) -> OutboundEmail:
    email = db.session.get(OutboundEmail, email_id)
    if email is None:
        abort(404)
    return email
