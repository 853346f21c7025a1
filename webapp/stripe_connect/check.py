"""The Stripe page's "Test the connection": the keys acting now, asked once, answered in words."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from billing.errors import GatewayAuthError, GatewayError
from billing.secrets import SecretDecryptionError
from webapp.stripe_connect import credentials, gateway_for


@dataclass(frozen=True)
class ConnectionCheck:
    """Whether Stripe accepted the keys, and what to tell the freelancer."""

    works: bool
    message: str


def check_connection(freelancer_id: int) -> ConnectionCheck:
    """Ask Stripe one cheap authenticated read with the freelancer's keys (own or the
    installation's); nothing is written, here or at Stripe."""
    try:
        creds = credentials(freelancer_id)
    except SecretDecryptionError:
        return ConnectionCheck(
            False,
            _(
                "The stored key can no longer be read (the server's encryption keys changed): "
                "paste your keys again below."
            ),
        )
    try:
        gateway_for(creds).check_connection()
    except GatewayAuthError:
        return ConnectionCheck(
            False,
            _(
                "Stripe refused the key in use: it was revoked or mistyped. Paste a new secret "
                "key below (Developers → API keys in your Stripe dashboard)."
            ),
        )
    except GatewayError:
        return ConnectionCheck(
            False,
            _(
                "Stripe could not be reached just now: try again in a minute. "
                "If it lasts, the server cannot reach the internet."
            ),
        )
    mode = _("live mode") if creds.livemode else _("test mode")
    return ConnectionCheck(
        True,
        _(
            "It works: Stripe accepted the key ending %(last4)s (%(mode)s).",
            last4=creds.secret_key[-4:],
            mode=mode,
        ),
    )
