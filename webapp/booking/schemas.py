"""Validation of offerings, availability and booking requests (API and pages alike)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from webapp import checkout_fields
from webapp.accounts.schemas import ALL_TIMEZONES, CURRENCIES, Percent, bp_to_rate, rate_to_bp
from webapp.booking.models import POLICIES, Offering
from webapp.clients import ClientSchema as SharedClientSchema
from webapp.validation import BoundedDate, BoundedDateTime, Id

HHMM_RE = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_INTERVALS = 50
MAX_EXCEPTIONS = 400


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class OfferingSchema(Schema):
    """`POST/PATCH /offerings`; `buffer_minutes` sets both buffers."""

    class Meta:
        unknown = RAISE

    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=5000))
    # Where the session happens: an address, a phone number or a video link.
    location = fields.String(validate=validate.Length(max=500))
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(5, 720))
    amount_minor = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, 100_000_000)
    )
    currency = fields.String(required=True)
    payment_policy = fields.String(required=True, validate=validate.OneOf(POLICIES))
    deposit_percent = Percent()
    free_cancel_hours = fields.Integer(strict=True, validate=validate.Range(0, 24 * 60))
    late_cancel_fee_percent = Percent()
    no_show_fee_percent = Percent()
    buffer_minutes = fields.Integer(strict=True, validate=validate.Range(0, 240))
    buffer_before_minutes = fields.Integer(strict=True, validate=validate.Range(0, 240))
    buffer_after_minutes = fields.Integer(strict=True, validate=validate.Range(0, 240))
    min_notice_minutes = fields.Integer(strict=True, validate=validate.Range(0, 60 * 24 * 30))
    horizon_days = fields.Integer(strict=True, validate=validate.Range(1, 366))
    hold_lead_hours = fields.Integer(strict=True, validate=validate.Range(2, 24 * 6))
    secure_deadline_hours = fields.Integer(strict=True, validate=validate.Range(1, 24 * 6))
    active = fields.Boolean()

    @validates("currency")
    def _currency(self, value: str, **_: Any) -> None:
        if value.lower() not in CURRENCIES:
            raise ValidationError("Unknown currency; use an ISO 4217 code such as eur.")

    @validates_schema
    def _coherent(self, data: dict[str, Any], **_: Any) -> None:
        current: Offering | None = self.current
        policy = data.get("payment_policy", current.payment_policy if current else None)
        deposit = data.get("deposit_percent")
        if deposit is None and current is not None:
            deposit = current.deposit_bp / 100
        if policy == "deposit" and not deposit:
            raise ValidationError({"deposit_percent": ["A deposit above 0 % is required."]})
        lead = data.get("hold_lead_hours", current.hold_lead_hours if current else 72)
        deadline = data.get(
            "secure_deadline_hours", current.secure_deadline_hours if current else 24
        )
        if deadline >= lead:
            raise ValidationError(
                {"secure_deadline_hours": ["Must be shorter than the hold lead time."]}
            )

    @post_load
    def _to_model(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        out = dict(data)
        if "currency" in out:
            out["currency"] = out["currency"].lower()
        if "buffer_minutes" in out:
            both = out.pop("buffer_minutes")
            out.setdefault("buffer_before_minutes", both)
            out.setdefault("buffer_after_minutes", both)
        for name, column in (
            ("deposit_percent", "deposit_bp"),
            ("late_cancel_fee_percent", "late_cancel_fee_bp"),
            ("no_show_fee_percent", "no_show_fee_bp"),
        ):
            if name in out:
                out[column] = rate_to_bp(out.pop(name))
        return out

    def __init__(self, *args: Any, current: Offering | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.current = current


def dump_offering(offering: Offering) -> dict[str, Any]:
    """The offering as the freelancer's API shows it."""
    return {
        "id": offering.id,
        "title": offering.title,
        "description": offering.description,
        "location": offering.location,
        "duration_minutes": offering.duration_minutes,
        "amount_minor": offering.amount_minor,
        "currency": offering.currency,
        "payment_policy": offering.payment_policy,
        "deposit_percent": bp_to_rate(offering.deposit_bp),
        "free_cancel_hours": offering.free_cancel_hours,
        "late_cancel_fee_percent": bp_to_rate(offering.late_cancel_fee_bp),
        "no_show_fee_percent": bp_to_rate(offering.no_show_fee_bp),
        "buffer_minutes": max(offering.buffer_before_minutes, offering.buffer_after_minutes),
        "buffer_before_minutes": offering.buffer_before_minutes,
        "buffer_after_minutes": offering.buffer_after_minutes,
        "min_notice_minutes": offering.min_notice_minutes,
        "horizon_days": offering.horizon_days,
        "hold_lead_hours": offering.hold_lead_hours,
        "secure_deadline_hours": offering.secure_deadline_hours,
        "active": offering.active,
    }


class IntervalSchema(Schema):
    class Meta:
        unknown = RAISE

    start = fields.String(required=True, validate=validate.Regexp(HHMM_RE, error="Use HH:MM."))
    end = fields.String(required=True, validate=validate.Regexp(HHMM_RE, error="Use HH:MM."))

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        if "start" in data and "end" in data and _minutes(data["end"]) <= _minutes(data["start"]):
            raise ValidationError({"end": ["Must be after the start."]})


class WeeklySchema(IntervalSchema):
    weekday = fields.Integer(required=True, strict=True, validate=validate.Range(0, 6))


class ExceptionSchema(Schema):
    class Meta:
        unknown = RAISE

    date = BoundedDate(required=True)
    closed = fields.Boolean(load_default=False)
    intervals = fields.List(
        fields.Nested(IntervalSchema), load_default=list, validate=validate.Length(max=20)
    )

    @validates_schema
    def _closed_or_hours(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("closed") and data.get("intervals"):
            raise ValidationError({"intervals": ["A closed day has no hours."]})
        if not data.get("closed") and not data.get("intervals"):
            raise ValidationError({"intervals": ["Give the special hours, or closed: true."]})
        _no_overlap(data.get("intervals", []), "intervals")


def _no_overlap(intervals: list[dict[str, Any]], field: str) -> None:
    ordered = sorted(intervals, key=lambda i: _minutes(i["start"]))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if _minutes(after["start"]) < _minutes(before["end"]):
            raise ValidationError({field: ["Intervals of one day must not overlap."]})


class AvailabilitySchema(Schema):
    """`PUT /availability`: the whole set, replaced at once."""

    class Meta:
        unknown = RAISE

    timezone = fields.String(required=True)
    weekly = fields.List(
        fields.Nested(WeeklySchema), required=True, validate=validate.Length(max=MAX_INTERVALS)
    )
    exceptions = fields.List(
        fields.Nested(ExceptionSchema),
        load_default=list,
        validate=validate.Length(max=MAX_EXCEPTIONS),
    )

    @validates("timezone")
    def _timezone(self, value: str, **_: Any) -> None:
        if value not in ALL_TIMEZONES:
            raise ValidationError("Unknown time zone; use an IANA name such as Europe/Paris.")

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        for weekday in range(7):
            _no_overlap([i for i in data.get("weekly", []) if i["weekday"] == weekday], "weekly")
        dates = [e["date"] for e in data.get("exceptions", [])]
        if len(dates) != len(set(dates)):
            raise ValidationError({"exceptions": ["One exception per date."]})

    @post_load
    def _to_json(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        exceptions = []
        for entry in sorted(data.get("exceptions", []), key=lambda e: e["date"]):
            item: dict[str, Any] = {"date": entry["date"].isoformat()}
            if entry["closed"]:
                item["closed"] = True
            else:
                item["intervals"] = sorted(entry["intervals"], key=lambda i: i["start"])
            exceptions.append(item)
        weekly = sorted(data["weekly"], key=lambda i: (i["weekday"], i["start"]))
        return {"timezone": data["timezone"], "weekly": weekly, "exceptions": exceptions}


class AwareDateTime(BoundedDateTime):
    """An ISO 8601 time that must carry an offset (its day between 1900 and 2199)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            raise ValidationError("Give an offset, e.g. 2026-11-22T10:00:00+01:00.")
        return result


class ClientSchema(SharedClientSchema):
    """The shared client identity (webapp.clients: consumer, French or EU business) plus
    the booking's own extras."""

    timezone = fields.String(load_default="UTC")
    # The client's language for e-mails and documents; default: the page's.
    locale = fields.String(load_default=None, validate=validate.OneOf(["fr", "en"]))

    @validates("timezone")
    def _timezone(self, value: str, **_: Any) -> None:
        if value not in ALL_TIMEZONES:
            raise ValidationError("Unknown time zone.")


class BookingRequestSchema(Schema):
    """`POST /public/freelancers/{slug}/bookings`."""

    class Meta:
        unknown = RAISE

    offering_id = Id(required=True)
    start = AwareDateTime(required=True)
    client = fields.Nested(ClientSchema, required=True)

    @post_load
    def _clean(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["client"]["name"] = " ".join(data["client"]["name"].split())
        data["client"]["email"] = data["client"]["email"].strip().lower()
        return data


class ManageTokenSchema(Schema):
    class Meta:
        unknown = RAISE

    manage_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ConfirmSchema(ManageTokenSchema):
    """`confirm`: the manage token, and the card the page made when money moves at once."""

    payment_method_id = checkout_fields.payment_method_id()


class RescheduleSchema(ManageTokenSchema):
    start = AwareDateTime(required=True)


class SlotsQuerySchema(Schema):
    """`?from=DATE&to=DATE&tz=ZONE` of the slots endpoint."""

    class Meta:
        unknown = RAISE

    from_ = BoundedDate(required=True, data_key="from")
    to = BoundedDate(required=True)
    tz = fields.String(load_default="UTC")

    @validates("tz")
    def _tz(self, value: str, **_: Any) -> None:
        if value not in ALL_TIMEZONES:
            raise ValidationError("Unknown time zone; use an IANA name such as Europe/Paris.")

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        first: date | None = data.get("from_")
        last: date | None = data.get("to")
        if first and last:
            if last < first:
                raise ValidationError({"to": ["Must not be before 'from'."]})
            if (last - first).days > 62:
                raise ValidationError({"to": ["At most 62 days at once."]})
