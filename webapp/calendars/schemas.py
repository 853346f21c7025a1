"""What the calendars API and page accept."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from webapp.calendars.models import CALDAV, KINDS
from webapp.validation import N_


class ConnectionSchema(Schema):
    """`{kind: caldav|ics, url, username?, password?}`; CalDAV needs a user name."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    username = fields.String(load_default=None, validate=validate.Length(max=320))
    password = fields.String(load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _caldav_account(self, data: dict, **_: object) -> None:
        if data["kind"] == CALDAV and not data.get("username"):
            raise ValidationError(N_("A CalDAV account needs a user name."), "username")


class CalendarChoiceSchema(Schema):
    """One calendar's choices."""

    class Meta:
        unknown = RAISE

    id = fields.Integer(required=True, strict=True)
    blocks = fields.Boolean()
    receives_bookings = fields.Boolean()


class ChoicesSchema(Schema):
    """`PATCH /calendars/{id}`: `{calendars: [{id, blocks?, receives_bookings?}]}`."""

    class Meta:
        unknown = RAISE

    calendars = fields.List(
        fields.Nested(CalendarChoiceSchema), required=True, validate=validate.Length(max=100)
    )
