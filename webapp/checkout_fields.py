"""The request field of every client-present checkout that takes the card with the payment.

`card_step` `payment` (docs/api.md): the page makes the card a PaymentMethod
(`stripe.createPaymentMethod`) and sends its id with the confirm; one field,
one rule, for bookings, quotes, paid questions and the pay link.
"""

from __future__ import annotations

from marshmallow import fields, validate

from webapp.validation import N_

NOT_A_PAYMENT_METHOD = N_("Not a card from the payment form.")


def payment_method_id() -> fields.String:
    """Optional `payment_method_id` (`pm_…`): the card the page made, to charge at once."""
    return fields.String(
        load_default=None,
        validate=validate.Regexp(r"^pm_[A-Za-z0-9_]{1,250}$", error=NOT_A_PAYMENT_METHOD),
        metadata={"description": "card_step `payment`: the PaymentMethod createPaymentMethod made"},
    )
