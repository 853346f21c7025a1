"""Validation messages, translated where people read them.

Schemas produce English messages (the JSON API answers in English, a stable
vocabulary for scripts). Pages show them through the `tr` template filter,
which looks each message up in the catalog. `N_` marks a string for
extraction without translating it at definition time; marshmallow's own
default messages are listed here so that they are extracted too.
"""

from __future__ import annotations

import re

from flask_babel import gettext


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark `message` for the catalog; returns it unchanged."""
    return message


def translate_message(message: object) -> str:
    """A validation message as a sentence in the page's language.

    marshmallow's own messages ("Missing data for required field.", "Length must
    be between 1 and 10000.") become a sentence a person reads ("This field is
    required.", "Fill in this field, in at most 10,000 characters."), numbers
    written as the page's language writes them; other messages are looked up in
    the catalog as they are (unknown ones pass through).
    """
    text = str(message)
    if not text:
        return text
    if text in SENTENCES:
        return gettext(SENTENCES[text])
    for pattern, sentence in PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            values = {k: _number(v) for k, v in found.groupdict().items()}
            return gettext(sentence, **values)
    # gettext without variables does no %-formatting, so a message with "%" is safe.
    return gettext(text)


def _number(text: str) -> str:
    from decimal import Decimal, InvalidOperation

    from flask_babel import format_decimal

    try:
        return format_decimal(Decimal(text))
    except InvalidOperation:
        return text


# marshmallow's default messages (fields and validators), as a sentence each.
SENTENCES = {
    "Missing data for required field.": N_("This field is required."),
    "Field may not be null.": N_("This field is required."),
    "Unknown field.": N_("This field is not expected here."),
    "Invalid input type.": N_("This value is not of the expected kind."),
    "Invalid value.": N_("This value is not accepted."),
    "Invalid type.": N_("This value is not of the expected kind."),
    "Not a valid email address.": N_("Enter a valid e-mail address, e.g. name@example.com."),
    "Not a valid number.": N_("Enter a number, e.g. 12.5."),
    "Not a valid integer.": N_("Enter a whole number, e.g. 30."),
    "Not a valid string.": N_("Enter some text."),
    "Not a valid boolean.": N_("Answer yes or no."),
    "Not a valid date.": N_("Enter a valid date."),
    "Not a valid datetime.": N_("Enter a valid date and time."),
    "Not a valid mapping type.": N_("This value is not of the expected kind."),
    "Not a valid list.": N_("This value is not of the expected kind."),
    "Not a valid URL.": N_("Enter a web address starting with https://."),
    "Special numeric values (nan or infinity) are not permitted.": N_("Enter a number."),
    "Number too large.": N_("This number is too large."),
    "String does not match expected pattern.": N_("This value is not in the expected format."),
}
_NUM = r"-?[\d.]+"  # a bound as marshmallow writes it
PATTERNS = [
    (
        re.compile(r"Length must be between 1 and (?P<max>\d+)\."),
        N_("Fill in this field, in at most %(max)s characters."),
    ),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        N_("Use between %(min)s and %(max)s characters."),
    ),
    (
        re.compile(r"Longer than maximum length (?P<max>\d+)\."),
        N_("Use at most %(max)s characters."),
    ),
    (
        re.compile(r"Shorter than minimum length (?P<min>\d+)\."),
        N_("Use at least %(min)s characters."),
    ),
    (re.compile(r"Length must be (?P<equal>\d+)\."), N_("Use exactly %(equal)s characters.")),
    (
        re.compile(
            rf"Must be greater than (?:or equal to )?(?P<min>{_NUM}) "
            rf"and less than (?:or equal to )?(?P<max>{_NUM})\."
        ),
        N_("Enter a number from %(min)s to %(max)s."),
    ),
    (
        re.compile(rf"Must be greater than or equal to (?P<min>{_NUM})\."),
        N_("Enter a number of at least %(min)s."),
    ),
    (
        re.compile(rf"Must be less than or equal to (?P<max>{_NUM})\."),
        N_("Enter a number of at most %(max)s."),
    ),
    (re.compile(rf"Must be greater than (?P<min>{_NUM})\."), N_("Enter a number above %(min)s.")),
    (re.compile(rf"Must be less than (?P<max>{_NUM})\."), N_("Enter a number below %(max)s.")),
    (re.compile(r"Must be one of: .*\."), N_("Choose one of the options offered.")),
]

# --- Bounded input: ids, dates, strings ------------------------------------------------

from datetime import date  # noqa: E402

from werkzeug.routing import IntegerConverter  # noqa: E402

# Every id column is a 32-bit INTEGER on PostgreSQL (a SQLite INTEGER holds 64 bits);
# an id outside this range names nothing, so it is refused before any query.
MAX_ID = 2**31 - 1
MAX_ID_TEXT = str(MAX_ID)
# The dates and times people type: anything outside is a typo (and far-away years
# overflow date arithmetic: `date.max + timedelta(days=1)`, a time zone at year 1).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2199, 12, 31)

BAD_STRING = N_(
    "Must not contain a control character (other than tabs and line breaks) "
    "or an unpaired surrogate."
)
# What no document can carry: XML 1.0 (Factur-X, CalDAV) refuses these, PostgreSQL the NUL.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
OUT_OF_RANGE_ID = N_("Not a valid id.")
OUT_OF_RANGE_DATE = N_("Must be between 1900-01-01 and 2199-12-31.")


class BoundedIntConverter(IntegerConverter):
    """Flask's `<int:…>`, limited to what a 32-bit column holds (0 … 2^31-1): others are a 404.

    Installed as the app's `int` converter, so every route gets it. 0 still
    reaches the view (a list index, e.g. an e-mail's attachment 0; no row has
    id 0, so an id route answers its own 404); a route may narrow it further
    (`<int(min=1):…>`).
    """

    # 0 … 2147483647 in the pattern itself: a value the pattern refuses matches no
    # rule (404). Refused only by `to_python`, werkzeug would answer 405 where
    # another method's rule has the same path (GET and PATCH /quotes/<id>).
    regex = "|".join(
        [r"\d{1,9}", r"1\d{9}"]
        + [
            f"{MAX_ID_TEXT[:i]}[0-{int(MAX_ID_TEXT[i]) - 1}]\\d{{{9 - i}}}"
            for i in range(1, 10)
            if MAX_ID_TEXT[i] != "0"
        ]
        + [MAX_ID_TEXT]
    )
    regex = f"(?:{regex})"

    def __init__(self, map, *args, min=0, max=MAX_ID, **kwargs):  # noqa: A002, ANN001, ANN002, ANN003, ANN204
        super().__init__(map, *args, min=min, max=max, **kwargs)


def bad_string(value: str) -> bool:
    """True when `value` cannot be stored or written into a document: a control character
    other than tab, line feed and carriage return (a NUL among them), or a surrogate
    UTF-8 cannot encode."""
    if _CONTROL.search(value):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_bad_string(value: object, path: str = "") -> str | None:
    """The dotted path (`client.name`, `lines.0.description`) of the first bad string, or None."""
    if isinstance(value, str):
        return path or "_schema" if bad_string(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and bad_string(key):
                return path or "_schema"
            found = find_bad_string(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_bad_string(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


# Stripe's signed webhook payloads are stored as Stripe sent them (their signature
# is checked on the raw bytes), whatever a customer typed into them.
_UNGUARDED_PREFIXES = ("/stripe/webhook",)


def bad_input_field() -> tuple[str, str] | None:
    """(`where`, field) of the request's first control character or lone surrogate, or None.

    `where` is `path` (a URL segment: the route names nothing), `query`, `form`
    or `json`. A lone surrogate escape (`"\\ud800"`) is valid JSON and parses to
    a str that no database can store; raw bytes that are not UTF-8 are already
    refused as malformed JSON (400).
    """
    from flask import request

    if request.path.startswith(_UNGUARDED_PREFIXES):
        return None
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and bad_string(value):
            return "path", "_path"
    for name, value in request.args.items(multi=True):
        if bad_string(name) or bad_string(value):
            return "query", name if not bad_string(name) else "_query"
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if bad_string(name) or bad_string(value):
                return "form", name if not bad_string(name) else "_schema"
        for name, storage in request.files.items(multi=True):
            if storage.filename and bad_string(storage.filename):
                return "form", name
    if request.is_json:
        data = request.get_json(silent=True)
        found = find_bad_string(data)
        if found:
            return "json", found
    return None


def refuse_bad_strings():  # noqa: ANN201
    """A `before_request` hook: control characters and lone surrogates anywhere → 422.

    Nothing has run yet, so nothing is changed. A URL segment with one is a 404
    (no object has such a name). Pages get the error page, the API the error shape.
    """
    from flask import render_template, request
    from werkzeug.exceptions import MethodNotAllowed, NotFound

    from webapp.errors import ApiError, wants_json

    if isinstance(request.routing_exception, NotFound | MethodNotAllowed):
        # No route (e.g. an id past 2^31-1): a 404/405 before CSRF, auth or rate limits.
        raise request.routing_exception
    found = bad_input_field()
    if found is None:
        return None
    where, field = found
    status = 404 if where == "path" else 422
    message = "Not found." if status == 404 else "Some fields are invalid."
    if wants_json():
        raise ApiError(status, message, fields={} if status == 404 else {field: [BAD_STRING]})
    page_message = f"{field}: {translate_message(BAD_STRING)}" if status == 422 else message
    return render_template("error.html", status=status, message=page_message), status


def register_input_guards(app) -> None:  # noqa: ANN001
    """Bounded `<int:…>` ids on every route, and the bad-string guard on every request.

    Must run before any blueprint is registered: a rule takes its converter when added.
    """
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_bad_strings)


# The marshmallow fields (`Id`, `BoundedDate`, ...) live in `webapp.bounded_fields`:
# importing this module (its `N_`, the guards) does not import marshmallow.
_FIELDS = ("Id", "BoundedDate", "BoundedDateTime", "BoundedAwareDateTime")


def __getattr__(name: str) -> object:
    if name in _FIELDS:
        from webapp import bounded_fields

        return getattr(bounded_fields, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
