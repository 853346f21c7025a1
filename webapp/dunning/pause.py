"""The client paused the reminders (a dispute, a promise to pay): the freelancer is told."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.dunning.models import DunningCase
from webapp.accounts.models import Freelancer
from webapp.dunning.cases import invoice_of


def notify_freelancer_of_pause(session: Session, case: DunningCase) -> None:
    """Tell the freelancer the client disputed or promised to pay (reminders are paused)."""
    from webapp.mail.service import send_email

    freelancer = session.get(Freelancer, case.freelancer_id)
    assert freelancer is not None
    invoice = invoice_of(session, case)
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Dunning paused by your client"),
        template="dunning_paused",
        context={
            "case": case,
            "invoice": invoice,
            "base": current_app.config["BASE_URL"].rstrip("/"),
        },
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )
