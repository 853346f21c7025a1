"""Named billing errors.

Two families matter to callers: "already done, ignore" (`AlreadyDone`) and
"not allowed" (`NotAllowed`); gateway errors say whether Stripe's outcome is
known.
"""

from __future__ import annotations


class BillingError(Exception):
    """Base of every error the payments engine raises."""

    code = "billing_error"


class AlreadyDone(BillingError):
    """The transition was already applied: a duplicate request, safe to ignore."""

    code = "already_done"


class NotAllowed(BillingError):
    """The transition is not allowed from the current state."""

    code = "not_allowed"


class GatewayError(BillingError):
    """Stripe could not do what was asked. Nothing above the adapter sees the SDK."""

    code = "gateway_error"

    def __init__(
        self, message: str, *, stripe_code: str | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.stripe_code = stripe_code
        self.http_status = http_status


class GatewayUnavailable(GatewayError):
    """Network failure, timeout, 429 or 5xx after retries: the outcome is unknown.

    The caller must not assume the write failed; reconciliation (retrying with
    the same idempotency key, or retrieving the object) finds out.
    """

    code = "gateway_unavailable"


class GatewayAuthError(GatewayError):
    """The API key was refused (wrong, revoked, or lacking a permission)."""

    code = "gateway_auth_error"


class GatewayRejected(GatewayError):
    """Stripe refused the request as invalid: the outcome is known, nothing happened."""

    code = "gateway_rejected"


class CardError(GatewayError):
    """The card was declined or needs authentication, outside a PaymentIntent result."""

    code = "card_error"

    def __init__(
        self,
        message: str,
        *,
        stripe_code: str | None = None,
        decline_code: str | None = None,
        http_status: int | None = 402,
    ) -> None:
        super().__init__(message, stripe_code=stripe_code, http_status=http_status)
        self.decline_code = decline_code
