"""Bounded marshmallow fields: ids and dates as people may type them (`webapp.validation`
re-exports them; it keeps the guards and the messages, without marshmallow).
"""

from __future__ import annotations

from datetime import date, datetime

from marshmallow import ValidationError, fields, validate

from webapp.validation import MAX_DATE, MAX_ID, MIN_DATE, OUT_OF_RANGE_DATE, OUT_OF_RANGE_ID


def Id(**kwargs):  # noqa: ANN003, ANN201, N802 (a field factory, named like a field)
    """An integer id in a body: strict, 1 … 2^31-1, else 422 with a field message."""
    kwargs.setdefault("strict", True)
    kwargs.setdefault("validate", validate.Range(1, MAX_ID, error=OUT_OF_RANGE_ID))
    return fields.Integer(**kwargs)


def _check_date(value: date | datetime | None) -> None:
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(OUT_OF_RANGE_DATE)


class BoundedDate(fields.Date):
    """A date between 1900-01-01 and 2199-12-31."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_date(result)
        return result


class BoundedDateTime(fields.DateTime):
    """A date and time whose day lies between 1900-01-01 and 2199-12-31."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_date(result)
        return result


class BoundedAwareDateTime(fields.AwareDateTime):
    """`fields.AwareDateTime`, its day between 1900-01-01 and 2199-12-31."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_date(result)
        return result
