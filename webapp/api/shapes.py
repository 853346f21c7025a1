"""What each /api/v1 operation really answers: success bodies, query parameters, media types.

`build_spec` (webapp.api.openapi) takes a response schema from `RESPONSES`
when the endpoint is there, else from the view's `@documented(response=…)`.
Schemas are OpenAPI 3.0.3 (`nullable`, not type lists). `required` lists only
the keys present on every success path; `additionalProperties` is left open,
so a field added to a view never breaks the document. The client-facing
(public) endpoints, invoices, messages and dunning are in `webapp.api.shapes_public`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}  # free-form on purpose (an event's data)
# `datetime.isoformat()` of the app's timezone-aware values: always with an offset.
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
BINARY: Schema = {"type": "string", "format": "binary"}


def nullable(schema: Schema) -> Schema:
    """`schema`, or null."""
    return {**schema, "nullable": True}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object whose keys are all present except `optional` ones (extra keys allowed)."""
    unknown = set(optional) - set(properties)
    assert not unknown, f"optional keys not in properties: {unknown}"
    out: Schema = {"type": "object", "properties": properties}
    required = [name for name in properties if name not in optional]
    if required:  # OpenAPI 3.0 forbids an empty `required`
        out["required"] = required
    return out


def extend(
    base: Schema, properties: dict[str, Schema], *, optional: tuple[str, ...] = ()
) -> Schema:
    """`base` with more properties (required unless `optional`)."""
    out = obj({**base["properties"], **properties}, optional=optional)
    out["required"] = [*base.get("required", []), *(k for k in properties if k not in optional)]
    return out


# --- shared sub-shapes ----------------------------------------------------------------

PERSON = obj({"name": STR, "email": STR})
TIMELINE_ENTRY = obj(
    {"at": DATE_TIME, "actor": STR, "action": STR, "data": ANY_OBJECT, "subject": STR},
    optional=("subject",),  # bookings and quotes name the event's object
)
TIMELINE = array(TIMELINE_ENTRY)
# A booking closed or cancelled: what was kept, given back and released.
CLOSED_ANSWER = obj(
    {
        "status": STR,
        "fee_amount_minor": INT,
        "refunded_amount_minor": INT,
        "released_amount_minor": INT,
        "payment_state": STR,
        "currency": STR,
    }
)
# --- accounts, tokens, Stripe keys ----------------------------------------------------

TOKEN = obj(
    {
        "id": INT,
        "label": STR,
        "created_at": DATE_TIME,
        "expires_at": DATE_TIME,
        "last_used_at": nullable(DATE_TIME),
    }
)
STRIPE_STATUS = obj(
    {
        "connected": BOOL,
        "source": {"type": "string", "enum": ["own", "instance"]},
        "mode": {"type": "string", "enum": ["test", "live"]},
        "publishable_key": nullable(STR),  # the instance's, unset in a bare install
        "secret_key_last4": nullable(STR),
        "webhook_url": STR,
    }
)

# --- bookings ---------------------------------------------------------------------------

OFFERING = obj(
    {
        "id": INT,
        "title": STR,
        "description": STR,
        "duration_minutes": INT,
        "amount_minor": INT,
        "currency": STR,
        "payment_policy": {"type": "string", "enum": ["prepay", "hold", "deposit"]},
        "deposit_percent": NUM,
        "free_cancel_hours": INT,
        "late_cancel_fee_percent": NUM,
        "no_show_fee_percent": NUM,
        "buffer_minutes": INT,
        "buffer_before_minutes": INT,
        "buffer_after_minutes": INT,
        "min_notice_minutes": INT,
        "horizon_days": INT,
        "hold_lead_hours": INT,
        "secure_deadline_hours": INT,
        "active": BOOL,
    }
)
BOOKING_STATUS: Schema = {
    "type": "string",
    "enum": [
        "pending_payment",
        "requires_action",
        "confirmed",
        "cancelled",
        "completed",
        "no_show",
        "expired",
    ],
}
BOOKING = obj(
    {
        "id": INT,
        "offering_id": INT,
        "title": STR,
        "status": BOOKING_STATUS,
        "start": DATE_TIME,
        "end": DATE_TIME,
        "client": PERSON,
        "client_timezone": STR,
        "amount_minor": INT,
        "currency": STR,
        "payment_policy": STR,
        "payment": obj(
            {
                "state": STR,
                "secured_minor": INT,
                "captured_minor": INT,
                "released_minor": INT,
                "refunded_minor": INT,
                "fee_charged_minor": INT,
                "hold_due_at": nullable(DATE_TIME),
            }
        ),
        "created_at": DATE_TIME,
    }
)
BOOKING_PAYMENT = obj(
    {
        "id": INT,
        "purpose": STR,
        "status": STR,
        "amount_minor": INT,
        "captured_minor": INT,
        "refunded_minor": INT,
        "off_session": BOOL,
        "failure_code": nullable(STR),
        "hold_expires_at": nullable(DATE_TIME),
    }
)
BOOKING_DETAIL = extend(BOOKING, {"payments": array(BOOKING_PAYMENT), "timeline": TIMELINE})
BOOKING_ACTION = extend(BOOKING, {"result": CLOSED_ANSWER})

# --- quotes and milestones ------------------------------------------------------------------

MILESTONE_PAYMENT = obj(
    {"status": STR, "failure_code": nullable(STR), "id": INT, "attempt": INT},
    optional=("id", "attempt"),  # the freelancer's view only
)
MILESTONE = obj(
    {
        "id": INT,
        "position": INT,
        "title": STR,
        "amount_minor": INT,
        "currency": STR,
        "percent": nullable(NUM),
        "trigger": {"type": "string", "enum": ["on_acceptance", "on_approval", "on_date"]},
        "due_date": nullable(DATE),
        "status": STR,
        "delivered_at": nullable(DATE_TIME),
        "delivery_note": STR,
        "auto_approve_at": nullable(DATE_TIME),
        "approved_at": nullable(DATE_TIME),
        "approved_by": nullable(STR),
        "objection_reason": STR,
        "paid_at": nullable(DATE_TIME),
        "paid_by": nullable(STR),
        "payment": MILESTONE_PAYMENT,
    },
    optional=("payment",),  # once a payment was attempted
)
ACCEPTANCE = nullable(
    obj(
        {
            "signer_name": STR,
            "version": INT,
            "content_sha256": STR,
            "terms_accepted": BOOL,
            "signed_at": DATE_TIME,
            "accepted_at": nullable(DATE_TIME),
            "ip": STR,
            "user_agent": STR,
        }
    )
)
# The signed document of one version (webapp.quotes.drafting._build_content).
QUOTE_CONTENT = obj(
    {
        "quote_id": INT,
        "version": INT,
        "title": STR,
        "currency": STR,
        "seller": ANY_OBJECT,
        "client": ANY_OBJECT,
        "lines": array(
            obj(
                {
                    "description": STR,
                    "quantity": INT,
                    "unit_amount_minor": INT,
                    "amount_minor": INT,
                }
            )
        ),
        "total_excl_vat_minor": INT,
        "vat_minor": INT,
        "total_minor": INT,
        "milestones": array(
            obj(
                {
                    "position": INT,
                    "title": STR,
                    "amount_minor": INT,
                    "percent_bp": nullable(INT),
                    "trigger": STR,
                    "due_date": nullable(DATE),
                }
            )
        ),
        "terms": STR,
        "penalty_rate_bp": nullable(INT),
        "recovery_indemnity_eur": nullable(INT),
        "valid_until": DATE,
        "auto_approve_days": INT,
    }
)
QUOTE_SUMMARY = obj(
    {
        "id": INT,
        "title": STR,
        "status": {
            "type": "string",
            "enum": ["draft", "sent", "viewed", "accepted", "declined", "expired"],
        },
        "client": PERSON,
        "total_minor": INT,
        "amount_minor": INT,
        "currency": STR,
        "valid_until": DATE,
        "version": INT,
        "created_at": DATE_TIME,
    }
)
QUOTE = extend(
    QUOTE_SUMMARY,
    {
        "public_url": STR,
        "public_token": STR,
        "auto_approve_days": INT,
        "content": QUOTE_CONTENT,
        "content_sha256": STR,
        "versions": array(obj({"number": INT, "content_sha256": STR, "created_at": DATE_TIME})),
        "acceptance": ACCEPTANCE,
        "decline_reason": STR,
        "milestones": array(MILESTONE),
        "timeline": TIMELINE,
    },
)

# --- the freelancer's endpoints -----------------------------------------------------------

_FREELANCER: dict[str, Schema] = {
    "api.signup": obj({"id": INT, "slug": STR}),
    "api.create_token": extend(TOKEN, {"token": STR}),
    "api.list_tokens": obj({"tokens": array(TOKEN)}),
    "api.delete_calendar": obj({"deleted": INT}),
    "api.get_stripe_account": STRIPE_STATUS,
    "api.put_stripe_account": STRIPE_STATUS,
    "api.delete_stripe_account": STRIPE_STATUS,
    "api.list_offerings": obj({"offerings": array(OFFERING)}),
    "api.list_bookings": obj({"bookings": array(BOOKING)}),
    "api.get_booking": BOOKING_DETAIL,
    "api.complete_booking": BOOKING_ACTION,
    "api.no_show_booking": BOOKING_ACTION,
    "api.cancel_booking": BOOKING_ACTION,
    "api.create_quote": QUOTE,
    "api.list_quotes": obj({"quotes": array(QUOTE_SUMMARY)}),
    "api.get_quote": QUOTE,
    "api.patch_quote": QUOTE,
    "api.send_quote": QUOTE,
    "api.deliver": MILESTONE,
    "api.resolve": MILESTONE,
    "api.cancel": MILESTONE,
    "api.manual_payment": MILESTONE,
}

# --- query parameters ---------------------------------------------------------------------

# A day; the app answers 422 outside webapp.validation.MIN_DATE … MAX_DATE (1900-01-01 …
# 2199-12-31). Said in words: a year pattern beside `format: date` leaves a generator
# almost nothing to draw.
BOUNDED_DATE: Schema = {
    "type": "string",
    "format": "date",
    "description": "A date from 1900-01-01 to 2199-12-31",
}


def query(name: str, schema: Schema, description: str, *, required: bool = False) -> Schema:
    """An OpenAPI query parameter object."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


_TOKEN_PARAM: Schema = {"type": "string", "minLength": 1}
# `fr` or `en`; any other value is ignored (the next source of the language applies).
_LANG = {"type": "string", "description": "fr or en; any other value is ignored"}

_PERIOD = [
    query("from", BOUNDED_DATE, "First issue date", required=True),
    query("to", BOUNDED_DATE, "Last issue date (at most 366 days after `from`)", required=True),
]

QUERY: dict[str, list[Schema]] = {
    "api.get_e_reporting": _PERIOD,
    "api.get_e_reporting_csv": _PERIOD,
    "api.list_bookings": [
        query(
            "upcoming",
            {"type": "string", "enum": ["true", "false"]},
            "true: bookings not yet ended; false: past ones; absent: all",
        )
    ],
    "api.public_slots": [
        query("from", BOUNDED_DATE, "First day, in the client's zone", required=True),
        query(
            "to",
            BOUNDED_DATE,
            "Last day (inclusive): not before `from`, at most 62 days after it",
            required=True,
        ),
        query(
            "tz",
            {"type": "string", "default": "UTC"},
            "IANA time zone the days and slots are in",
        ),
    ],
    "api.public_booking": [
        query("manage_token", _TOKEN_PARAM, "The booking's manage token", required=True)
    ],
    "api.get_invoice_pdf": [query("lang", _LANG, "Language of the PDF (default: the invoice's)")],
    "api.public_message": [query("token", _TOKEN_PARAM, "The thread's token", required=True)],
    "api.public_message_attachment": [
        query("token", _TOKEN_PARAM, "The thread's token", required=True)
    ],
    "api.ask_message": [
        query("lang", _LANG, "Language of the client's e-mails (else cookie, Accept-Language)")
    ],
    "api.books_receipts": [
        query("from", BOUNDED_DATE, "First day of the receipts (local date)", required=True),
        query("to", BOUNDED_DATE, "Last day, inclusive", required=True),
    ],
    "api.books_fec": [
        query(
            "year",
            {"type": "integer", "minimum": 1900, "maximum": 2199},
            "Calendar year",
            required=True,
        )
    ],
}
# The books' reports (issue 17): a range of local dates, at most ten years.
_BOOKS_RANGE = [
    query("from", BOUNDED_DATE, "First day (local date)", required=True),
    query(
        "to", BOUNDED_DATE, "Last day, inclusive (at most ten years after `from`)", required=True
    ),
]
for _endpoint in (
    "books_receipts_pdf",
    "books_payouts",
    "books_payouts_csv",
    "books_payouts_pdf",
    "books_urssaf",
    "books_urssaf_csv",
    "books_urssaf_pdf",
):
    QUERY[f"api.{_endpoint}"] = _BOOKS_RANGE

# --- non-JSON success bodies ----------------------------------------------------------------

# Attachments are sent with the type sniffed at upload (webapp.messages.attachments.EXTENSIONS).
_ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")
CONTENT: dict[str, tuple[str, ...]] = {
    "api.get_invoice_pdf": ("application/pdf",),
    "api.get_invoice_facturx_xml": ("application/xml",),
    # What the supplier sent: a Factur-X PDF, or a CII / UBL XML.
    "api.get_supplier_invoice_file": ("application/pdf", "application/xml"),
    "api.get_formal_notice_pdf": ("application/pdf",),
    "api.get_e_reporting_csv": ("text/csv",),
    "api.get_recourse_pack_pdf": ("application/pdf",),
    "api.download_message_attachment": _ATTACHMENT_TYPES,
    "api.public_message_attachment": _ATTACHMENT_TYPES,
    "api.books_receipts": ("text/csv",),
    "api.books_fec": ("text/tab-separated-values",),
    "api.books_receipts_pdf": ("application/pdf",),
    "api.books_payouts_csv": ("text/csv",),
    "api.books_payouts_pdf": ("application/pdf",),
    "api.books_urssaf_csv": ("text/csv",),
    "api.books_urssaf_pdf": ("application/pdf",),
}

# Operations with a second success status, same body: a statement imported again is 200.
ALSO_ANSWERS: dict[str, tuple[int, ...]] = {"api.import_bank_statement": (200,)}

from webapp.api.shapes_public import MORE_RESPONSES  # noqa: E402 (built on the blocks above)

RESPONSES: dict[str, Schema] = {**_FREELANCER, **MORE_RESPONSES}
