"""What localstripe itself holds, read directly (never through the fault proxy).

The suite judges every scenario on Stripe's records, not on what our rows
claim: the customers made for a scenario's unique client e-mail, their
PaymentIntents and charges, and the refunds of those charges.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

KEY = "sk_test_faults_reader"


@dataclass(frozen=True)
class IntentMoney:
    """One PaymentIntent as money: what it captured and what was refunded of it."""

    id: str
    status: str
    amount: int
    captured: int  # kept from the charge (after a partial capture's release)
    refunded: int  # refunds asked for (naming the PaymentIntent)
    refunds: int  # how many such refunds
    acompte_payment_id: str | None
    customer: str | None


class StripeView:
    """Read-only queries on the localstripe server behind `base`."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(
            f"{self.base}{path}{query}", headers={"Authorization": f"Bearer {KEY}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """A raw write, as the browser's Stripe.js would do it (3-D Secure, card setup)."""
        body = json.dumps(data or {}).encode()
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    # --- the browser's part --------------------------------------------------

    def confirm_setup(self, client_secret: str, payment_method: str = "pm_card_visa") -> None:
        """What `confirmCardSetup` does: attach the card to the SetupIntent."""
        setup_id = client_secret.split("_secret_")[0]
        setup = self.post(
            f"/v1/setup_intents/{setup_id}/confirm", {"payment_method": payment_method}
        )
        if setup["status"] == "requires_action":
            # a 3-D Secure card: the modal is completed, confirmCardSetup confirms again
            self.post(f"/v1/setup_intents/{setup_id}/confirm", {"client_secret": client_secret})

    def authenticate(self, client_secret: str, success: bool = True) -> dict[str, Any]:
        """What the 3-D Secure modal's "Complete authentication" button does."""
        intent_id = client_secret.split("_secret_")[0]
        flag = "true" if success else "false"
        return self.post(
            f"/v1/payment_intents/{intent_id}/_authenticate?success={flag}",
            {"client_secret": client_secret},
        )

    def three_d_secure_card(self) -> str:
        """A card that needs 3-D Secure for every payment (localstripe's 4000002500003155)."""
        method = self.post(
            "/v1/payment_methods",
            {
                "type": "card",
                "card": {
                    "number": "4000002500003155",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            },
        )
        return method["id"]

    # --- records -------------------------------------------------------------

    def customers(self, email: str) -> list[str]:
        found = self.get("/v1/customers", email=email, limit=100)
        return [c["id"] for c in found["data"]]

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        return self.get(f"/v1/payment_intents/{intent_id}")

    def intents_of(self, email: str) -> list[IntentMoney]:
        """Every PaymentIntent of every customer with this e-mail, oldest first."""
        customers = set(self.customers(email))
        if not customers:
            return []
        listed = self.get("/v1/payment_intents", limit=100_000)["data"]
        return sorted(
            (money_of(pi) for pi in listed if _id(pi.get("customer")) in customers),
            key=lambda m: m.id,
        )

    def charges_of(self, email: str) -> list[dict[str, Any]]:
        """Every charge of every customer with this e-mail (the money itself)."""
        out: list[dict[str, Any]] = []
        for customer in self.customers(email):
            out.extend(self.get("/v1/charges", customer=customer, limit=100)["data"])
        return out


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def money_of(pi: dict[str, Any]) -> IntentMoney:
    charge = pi.get("latest_charge")
    captured = refunded = refunds = 0
    if isinstance(charge, dict) and charge.get("status") == "succeeded" and charge.get("captured"):
        listed = (charge.get("refunds") or {}).get("data") or []
        released = sum(int(r["amount"]) for r in listed if not r.get("payment_intent"))
        asked = [r for r in listed if r.get("payment_intent")]
        captured = int(charge["amount"]) - released
        refunded = sum(int(r["amount"]) for r in asked)
        refunds = len(asked)
    return IntentMoney(
        id=pi["id"],
        status=pi["status"],
        amount=int(pi["amount"]),
        captured=captured,
        refunded=refunded,
        refunds=refunds,
        acompte_payment_id=(pi.get("metadata") or {}).get("acompte_payment_id"),
        customer=_id(pi.get("customer")),
    )
