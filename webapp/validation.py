"""Validation messages, translated where people read them.

Schemas produce English messages (the JSON API answers in English, a stable
vocabulary for scripts). Pages show them through the `tr` template filter,
which looks each message up in the catalog. `N_` marks a string for
extraction without translating it at definition time; marshmallow's own
default messages are listed here so that they are extracted too.
"""

from __future__ import annotations

from flask_babel import gettext


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark `message` for the catalog; returns it unchanged."""
    return message


def translate_message(message: object) -> str:
    """A validation message in the page's language (unknown messages pass through)."""
    text = str(message)
    # gettext without variables does no %-formatting, so a message with "%" is safe.
    return gettext(text) if text else text


MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Unknown field."),
    N_("Invalid input type."),
    N_("Invalid value."),
    N_("Invalid type."),
    N_("Not a valid email address."),
    N_("Not a valid number."),
    N_("Not a valid integer."),
    N_("Not a valid string."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid mapping type."),
    N_("Not a valid list."),
    N_("Not a valid URL."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Number too large."),
)
