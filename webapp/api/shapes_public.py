"""What the client-facing /api/v1/public endpoints answer, and the invoice, message
and dunning shapes (both sides), on the building blocks of `webapp.api.shapes`.

Imported by `webapp.api.shapes` once its building blocks exist; the package's
`__init__` imports `shapes` (through `openapi`) before anything can import this.
"""

from __future__ import annotations

from billing.invoicing.models import KINDS
from webapp.api.shapes import (
    ACCEPTANCE,
    BOOKING_STATUS,
    BOOL,
    CLOSED_ANSWER,
    DATE,
    DATE_TIME,
    INT,
    MILESTONE,
    NUM,
    PERSON,
    QUOTE_CONTENT,
    STR,
    TIMELINE,
    Schema,
    array,
    extend,
    nullable,
    obj,
)

# An invoice party as frozen at issue (billing.invoicing.validation.Party).
PARTY = obj(
    {
        "name": STR,
        "legal_name": STR,
        "siret": STR,
        "address": STR,
        "email": STR,
        "is_business": BOOL,
        "vat_number": nullable(STR),
    },
    optional=("name", "legal_name", "siret", "address", "email", "is_business", "vat_number"),
)

# --- invoices ---------------------------------------------------------------------------

INVOICE_SUMMARY = obj(
    {
        "id": INT,
        "kind": {"type": "string", "enum": list(KINDS)},
        "number": STR,
        "status": STR,
        "issue_date": DATE,
        "service_date": DATE,
        "due_date": DATE,
        "currency": STR,
        "amount_minor": INT,
        "total_excl_vat_minor": INT,
        "total_vat_minor": INT,
        "total_incl_vat_minor": INT,
        "paid_minor": INT,
        "credited_minor": INT,
        "balance_due_minor": INT,
        "refund_due_minor": INT,
        "buyer_name": STR,
        "source_type": STR,
        "source_id": STR,
        "credited_invoice_id": nullable(INT),
        "pdf_url": STR,
    }
)
INVOICE = extend(
    INVOICE_SUMMARY,
    {
        "seller": PARTY,
        "buyer": PARTY,
        "vat_regime": STR,
        "penalty_rate": nullable(NUM),
        "recovery_indemnity": BOOL,
        "iban": STR,
        "bic": STR,
        "locale": STR,
        "reason": STR,
        "content_hash": STR,
        "vat": array(obj({"rate_bp": INT, "base_minor": INT, "vat_minor": INT})),
        "lines": array(
            obj(
                {
                    "description": STR,
                    "quantity": {"type": "string", "description": "decimal, e.g. 1.5"},
                    "quantity_milli": INT,
                    "unit_amount_minor": INT,
                    "unit_includes_vat": BOOL,
                    "vat_rate_bp": INT,
                    "total_excl_vat_minor": INT,
                    "vat_minor": INT,
                    "total_incl_vat_minor": INT,
                }
            )
        ),
        "payments": array(
            obj(
                {
                    "id": INT,
                    "amount_minor": INT,
                    "currency": STR,
                    "method": STR,
                    "paid_at": DATE_TIME,
                    "payment_id": nullable(INT),
                    "reference": STR,
                }
            )
        ),
        "credit_notes": array(INVOICE_SUMMARY),
        "timeline": TIMELINE,
    },
)

# --- messages and dunning ---------------------------------------------------------------

MESSAGE = obj(
    {
        "id": INT,
        "status": STR,
        "client": PERSON,
        "text": STR,
        "urgent": BOOL,
        "amount_minor": INT,
        "currency": STR,
        "deadline_at": nullable(DATE_TIME),
        "seconds_left": nullable(INT),
        "follow_up_of": nullable(INT),
        "answer": nullable(obj({"text": STR, "sent_at": nullable(DATE_TIME)})),
        "decline_reason": nullable(STR),
        "capture_error": nullable(STR),
        "receipt": nullable(
            obj(
                {
                    "amount_minor": INT,
                    "currency": STR,
                    "captured": STR,
                    "card_brand": nullable(STR),
                    "card_last4": nullable(STR),
                    "invoice_id": nullable(INT),
                }
            )
        ),
        "attachments": array(
            obj(
                {
                    "id": INT,
                    "filename": STR,
                    "content_type": STR,
                    "size_bytes": INT,
                    "from": {"type": "string", "enum": ["client", "freelancer"]},
                }
            )
        ),
    },
    optional=("capture_error",),  # not in the client's view
)
ATTACHMENT = obj({"id": INT, "filename": STR, "content_type": STR, "size_bytes": INT})
CASE = obj(
    {
        "id": INT,
        "status": STR,
        "reason": STR,
        "amount_minor": INT,
        "amount_due_minor": INT,
        "currency": STR,
        "invoice_id": nullable(INT),
        "invoice_number": nullable(STR),
        "client": obj({"name": STR, "email": STR, "is_business": BOOL}),
        "subject": obj({"type": STR, "id": STR}),
        "opened_at": DATE_TIME,
        "closed_at": nullable(DATE_TIME),
        "pause": nullable(
            obj({"kind": nullable(STR), "reason": STR, "promise_date": nullable(DATE)})
        ),
        "hard_decline": BOOL,
        "penalties": obj(
            {
                "interest_minor": INT,
                "indemnity_minor": INT,
                "total_minor": INT,
                "days_late": INT,
                "rate_bp": INT,
                "basis": STR,
            }
        ),
        "steps": array(
            obj({"step": STR, "outcome": STR, "scheduled_at": DATE_TIME, "done_at": DATE_TIME})
        ),
        "next_step": nullable(obj({"step": STR, "at": DATE_TIME})),
    }
)


TERMS_IN_WORDS = obj({"payment": STR, "cancellation": STR})

PUBLIC_OFFERING = obj(
    {
        "id": INT,
        "title": STR,
        "description": STR,
        "duration_minutes": INT,
        "amount_minor": INT,
        "currency": STR,
        "payment_policy": {"type": "string", "enum": ["prepay", "hold", "deposit"]},
        "deposit_amount_minor": nullable(INT),  # deposit policy only
        "deposit_percent": NUM,
        "free_cancel_hours": INT,
        "late_cancel_fee_percent": NUM,
        "no_show_fee_percent": NUM,
        "buffer_minutes": INT,
        "late_cancel_fee_amount_minor": INT,
        "no_show_fee_amount_minor": INT,
        "terms": TERMS_IN_WORDS,
    }
)
PUBLIC_FREELANCER = obj(
    {
        "slug": STR,
        "display_name": STR,
        "bio": STR,
        "photo_url": nullable(STR),
        "timezone": STR,
        "publishable_key": nullable(STR),
        "stripe_js_url": nullable(STR),
        "offerings": array(PUBLIC_OFFERING),
    }
)
SLOTS = obj({"slots": array(obj({"start": DATE_TIME, "end": DATE_TIME})), "timezone": STR})
CARD_STEP = {"type": "string", "enum": ["payment", "setup"]}
BOOKED = obj(
    {
        "booking_id": INT,
        "status": BOOKING_STATUS,
        "manage_token": STR,
        "pending_expires_at": nullable(DATE_TIME),
        "setup_intent_client_secret": STR,
        # `payment`: send a PaymentMethod with confirm (one 3-D Secure); `setup`: the SetupIntent.
        "card_step": CARD_STEP,
    }
)
CANCELLATION_QUOTE = obj(
    {
        "fee_amount_minor": INT,
        "currency": STR,
        "refund_amount_minor": INT,
        "release_amount_minor": INT,
        "free_until": DATE_TIME,
        "is_free": BOOL,
        "allowed": BOOL,
    }
)
CLIENT_BOOKING = obj(
    {
        "booking_id": INT,
        "status": BOOKING_STATUS,
        "title": STR,
        "offering_id": INT,
        "freelancer": obj({"slug": STR, "display_name": STR}),
        "start": DATE_TIME,
        "end": DATE_TIME,
        "client": PERSON,
        "client_timezone": STR,
        "amount_minor": INT,
        "currency": STR,
        "timezone": STR,
        "payment_policy": STR,
        "deposit_percent": NUM,
        "free_cancel_hours": INT,
        "late_cancel_fee_percent": NUM,
        "no_show_fee_percent": NUM,
        "payment_state": STR,
        "secured_amount_minor": INT,
        "charged_amount_minor": INT,
        "refunded_amount_minor": INT,
        "terms": TERMS_IN_WORDS,
        "cancellation": CANCELLATION_QUOTE,
        "can_reschedule": BOOL,
        "needs_card": BOOL,
        "pending_expires_at": nullable(DATE_TIME),
    }
)
# `confirm`: done (the booking's status), or 3-D Secure to complete (`requires_action`
# with the PaymentIntent's secret). A decline is a 402, not a success.
BOOKING_CONFIRMED = obj(
    {"status": BOOKING_STATUS, "payment_intent_client_secret": STR},
    optional=("payment_intent_client_secret",),
)
SETUP_SECRET = obj({"setup_intent_client_secret": STR, "card_step": CARD_STEP})
RESCHEDULED = obj({"status": BOOKING_STATUS, "start": DATE_TIME, "end": DATE_TIME})

PUBLIC_QUOTE = obj(
    {
        "status": STR,
        "version": INT,
        "content_sha256": STR,
        "content": QUOTE_CONTENT,
        "acceptance": ACCEPTANCE,
        "milestones": array(MILESTONE),
    }
)
QUOTE_ACCEPTING = obj(
    {
        "setup_intent_client_secret": STR,
        "acceptance_id": INT,
        "content_sha256": STR,
        "card_step": CARD_STEP,
    }
)
# After the deposit: the quote's status, `payment_failed` (declined) or `requires_action`
# (3-D Secure: then `requires_action: true` and the PaymentIntent's secret).
DEPOSIT_ANSWER = obj(
    {
        "quote_status": STR,
        "status": STR,
        "milestones": array(MILESTONE),
        "requires_action": BOOL,
        "payment_intent_client_secret": STR,
    },
    optional=("requires_action", "payment_intent_client_secret"),
)

PAY_PAGE = obj(
    {
        "status": STR,
        "amount_minor": INT,
        "currency": STR,
        "reason": STR,
        "invoice_number": nullable(STR),
        "setup_intent_client_secret": nullable(STR),  # null once the case is closed
        "publishable_key": nullable(STR),
        "card_step": CARD_STEP,
    }
)
PAY_OUTCOME = obj(
    {
        "status": {"type": "string", "enum": ["paid", "requires_action", "failed"]},
        "payment_intent_client_secret": STR,  # requires_action only
    },
    optional=("payment_intent_client_secret",),
)
PAUSED = obj({"status": STR, "pause_kind": nullable(STR)})

MORE_RESPONSES: dict[str, Schema] = {
    "api.get_invoice": INVOICE,
    "api.record_payment": INVOICE,
    "api.create_invoice": INVOICE,
    "api.create_credit_note": INVOICE,
    "api.list_messages": obj({"messages": array(MESSAGE)}),
    "api.list_cases": obj({"cases": array(CASE)}),
    "api.public_freelancer": PUBLIC_FREELANCER,
    "api.public_slots": SLOTS,
    "api.public_book": BOOKED,
    "api.public_booking": CLIENT_BOOKING,
    "api.public_confirm": BOOKING_CONFIRMED,
    "api.public_card_setup": SETUP_SECRET,
    "api.public_cancel": CLOSED_ANSWER,
    "api.public_reschedule": RESCHEDULED,
    "api.public_quote": PUBLIC_QUOTE,
    "api.accept": QUOTE_ACCEPTING,
    "api.accept_confirm": DEPOSIT_ANSWER,
    "api.decline": obj({"status": STR}),
    "api.approve": MILESTONE,
    "api.object_": MILESTONE,
    "api.public_pay": PAY_PAGE,
    "api.public_pay_confirm": PAY_OUTCOME,
    "api.public_pay_retry": PAY_OUTCOME,
    "api.public_dispute": PAUSED,
    "api.public_promise": PAUSED,
    "api.upload_message_attachment": ATTACHMENT,
}
