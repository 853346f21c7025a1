"""The registered letter (lettre recommandée avec AR) as the freelancer records it.

Nothing in Acompte posts a letter: the freelancer prints the mise en demeure,
sends it, and records here its number, the day it was sent and, once back,
the day the acknowledgement of receipt was signed — or that it was not sent
by post. The letter and the recourse pack state only what is recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from billing.db import utcnow
from billing.dunning import service as engine
from billing.dunning.models import DunningCase
from webapp.validation import N_, BoundedDate


class RegisteredLetterSchema(Schema):
    """`POST /dunning/cases/{id}/registered-letter`: `{number, sent_on, received_on?}`, or
    `{not_sent: true}`."""

    class Meta:
        unknown = RAISE

    number = fields.String(validate=validate.Length(min=1, max=40))
    sent_on = BoundedDate()
    received_on = BoundedDate(allow_none=True, load_default=None)
    not_sent = fields.Boolean(load_default=False)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("not_sent"):
            extra = [k for k in ("number", "sent_on", "received_on") if data.get(k)]
            if extra:
                raise ValidationError(
                    {k: [N_("Not with not_sent: the letter was not posted.")] for k in extra}
                )
            return
        errors: dict[str, list[str]] = {}
        for key in ("number", "sent_on"):
            if not data.get(key):
                errors[key] = [N_("Missing data for required field.")]
        sent, received = data.get("sent_on"), data.get("received_on")
        if sent and received and received < sent:
            errors["received_on"] = [N_("The receipt cannot be before the letter was sent.")]
        today = utcnow().date()
        for key in ("sent_on", "received_on"):
            value = data.get(key)
            if isinstance(value, date) and value > today:
                errors[key] = [N_("This date is in the future.")]
        if errors:
            raise ValidationError(errors)


def record(session: Session, case: DunningCase, data: dict[str, Any], *, actor: str) -> None:
    """Keep what the freelancer says of the registered letter, with an event; flushed."""
    if data.get("not_sent"):
        value: dict[str, Any] = {"not_sent": True}
    else:
        value = {
            "number": data["number"].strip(),
            "sent_on": data["sent_on"].isoformat(),
            "received_on": data["received_on"].isoformat() if data.get("received_on") else None,
        }
    case.registered_letter = value
    engine.record(session, case, "dunning_registered_letter_recorded", actor=actor, data=value)
    session.flush()


def from_form(form: dict[str, str]) -> dict[str, Any]:
    """The page's fields in the API's shape."""
    if form.get("not_sent") == "on":
        return {"not_sent": True}
    out: dict[str, Any] = {"number": form.get("number", ""), "sent_on": form.get("sent_on", "")}
    if form.get("received_on"):
        out["received_on"] = form["received_on"]
    return out
