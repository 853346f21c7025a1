"""The browser's part of a checkout that takes the card with the payment (one 3-D Secure).

`browser_card` is what `stripe.createPaymentMethod({type: "card", card})` does
on the page: the card's fields go to Stripe with the publishable key (no
secret key), and a PaymentMethod id comes back. Against localstripe this
goes through the launcher's addition (webapp/dev/fakestripe_extras.py).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

THREE_D_SECURE = "4000002500003155"  # asks 3-D Secure for every payment (localstripe)
VISA = "4242424242424242"
DECLINED_ON_ATTACH = "4000000000000002"  # refused as soon as it is attached


def browser_card(localstripe_url: str, number: str, *, key: str = "pk_test_browser") -> str:
    """A PaymentMethod made as Stripe.js makes it from a card Element; its id."""
    body = {
        "key": key,
        "type": "card",
        "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
        "billing_details": {"address": {"postal_code": "75011"}},
    }
    request = urllib.request.Request(
        f"{localstripe_url.rstrip('/')}/v1/payment_methods",
        data=json.dumps(body).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["id"])


def payment_method(localstripe_url: str, payment_method_id: str) -> dict[str, Any]:
    """The PaymentMethod as localstripe keeps it (read with a secret key)."""
    request = urllib.request.Request(
        f"{localstripe_url.rstrip('/')}/v1/payment_methods/{payment_method_id}",
        headers={"Authorization": "Bearer sk_test_reader"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))
