"""Building each flow's data through the app's own API, as a client and a freelancer would.

The browser's part (confirmCardSetup, the 3-D Secure modal) goes straight to
localstripe, as Stripe.js does; the app reaches Stripe through the fault
proxy. Every scenario gets its own client e-mail, so Stripe's records of it
(customers by e-mail, their PaymentIntents) are the scenario's alone.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.faults.stripe_truth import StripeView

ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
PROFILE = {
    "legal_name": "Atelier Faute EI",
    "siret": "73282932000074",
    "legal_form": "ei",
    "address": "12 rue des Lilas, 75011 Paris",
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
}
DECLINED_LATER = "pm_card_chargeCustomerFail"  # saved fine, every charge declined


def hour_in(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.test"


def ok(response, status: int = 200) -> dict[str, Any]:  # noqa: ANN001 (a test response)
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


@dataclass
class World:
    """One freelancer with a complete profile, open all week, and the Stripe reader."""

    app: Flask
    client: FlaskClient
    stripe: StripeView
    freelancer: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return self.freelancer["headers"]

    @property
    def slug(self) -> str:
        return self.freelancer["slug"]

    # --- sessions -----------------------------------------------------------

    def offering(self, policy: str, **overrides: Any) -> dict[str, Any]:
        body = {
            "title": f"{policy} call",
            "duration_minutes": 60,
            "amount_minor": 10_000,
            "currency": "eur",
            "payment_policy": policy,
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 80,
            "min_notice_minutes": 0,
            **overrides,
        }
        return ok(self.client.post("/api/v1/offerings", json=body, headers=self.headers), 201)

    def book(
        self, policy: str, *, days: float = 2.0, card: str | None = "pm_card_visa", **overrides: Any
    ) -> Booked:
        offering = self.offering(policy, **overrides)
        email = unique_email(f"booking-{policy}")
        start = hour_in(days)
        body = ok(
            self.client.post(
                f"/api/v1/public/freelancers/{self.slug}/bookings",
                json={
                    "offering_id": offering["id"],
                    "start": start.isoformat(),
                    "client": {"name": "Camille Client", "email": email},
                },
            ),
            201,
        )
        booked = Booked(self, body["booking_id"], body["manage_token"], email, start, body)
        if card is not None:
            self.stripe.confirm_setup(body["setup_intent_client_secret"], card)
        return booked

    # --- quotes -------------------------------------------------------------

    def quote(self, milestones: list[dict[str, Any]], *, total: int = 100_000) -> Quoted:
        email = unique_email("quote")
        body = {
            "title": "Refonte du site",
            "currency": "eur",
            "client": {"name": "Claire Client", "email": email, "is_business": False},
            "terms": "L'acompte reste dû.",
            "lines": [{"description": "Site", "quantity": 1, "unit_amount_minor": total}],
            "milestones": milestones,
        }
        quote = ok(self.client.post("/api/v1/quotes", json=body, headers=self.headers), 201)
        ok(self.client.post(f"/api/v1/quotes/{quote['id']}/send", headers=self.headers))
        return Quoted(self, quote, email)

    # --- paid questions -----------------------------------------------------

    def ask(self, *, price: int = 3_000, card: str = "pm_card_visa") -> Asked:
        ok(
            self.client.put(
                "/api/v1/messages/settings",
                json={"enabled": True, "price_minor": price, "currency": "eur"},
                headers=self.headers,
            )
        )
        email = unique_email("question")
        asked = ok(
            self.client.post(
                f"/api/v1/public/freelancers/{self.slug}/messages",
                json={"name": "Léa Client", "email": email, "text": "Une question ?"},
            ),
            201,
        )
        self.stripe.confirm_setup(asked["setup_intent_client_secret"], card)
        return Asked(self, asked["message_id"], asked["token"], email)

    # --- rows ---------------------------------------------------------------

    def row(self, model: type, row_id: int) -> Any:
        from webapp.extensions import db

        with self.app.app_context():
            found = db.session.get(model, row_id)
            db.session.expunge(found)
            return found

    def emails_to(self, address: str) -> list[Any]:
        from webapp.extensions import db
        from webapp.mail.models import OutboundEmail

        with self.app.app_context():
            found = list(
                db.session.scalars(
                    select(OutboundEmail)
                    .where(OutboundEmail.to_addr == address)
                    .order_by(OutboundEmail.id)
                )
            )
            for mail in found:
                db.session.expunge(mail)
            return found


@dataclass
class Booked:
    world: World
    id: int
    token: str
    email: str
    start: datetime
    created: dict[str, Any]

    def confirm(self):  # noqa: ANN201 (a test response)
        return self.world.client.post(
            f"/api/v1/public/bookings/{self.id}/confirm", json={"manage_token": self.token}
        )

    def cancel(self):  # noqa: ANN201
        return self.world.client.post(
            f"/api/v1/public/bookings/{self.id}/cancel", json={"manage_token": self.token}
        )

    def booking(self) -> Any:
        from webapp.booking.models import Booking

        return self.world.row(Booking, self.id)


@dataclass
class Quoted:
    world: World
    quote: dict[str, Any]
    email: str

    @property
    def token(self) -> str:
        return self.quote["public_token"]

    @property
    def milestone_ids(self) -> list[int]:
        return [m["id"] for m in self.quote["milestones"]]

    def accept(self, card: str = "pm_card_visa") -> None:
        signed = ok(
            self.world.client.post(
                f"/api/v1/public/quotes/{self.token}/accept",
                json={"signer_name": "Claire Client", "accept_terms": True},
            )
        )
        self.world.stripe.confirm_setup(signed["setup_intent_client_secret"], card)

    def confirm(self):  # noqa: ANN201
        return self.world.client.post(f"/api/v1/public/quotes/{self.token}/accept/confirm", json={})

    def deliver_and_approve(self, index: int) -> None:
        milestone = self.milestone_ids[index]
        client, headers = self.world.client, self.world.headers
        ok(
            client.post(
                f"/api/v1/milestones/{milestone}/deliver", headers=headers, json={"note": "v1"}
            )
        )
        ok(
            client.post(
                f"/api/v1/public/milestones/{milestone}/approve", json={"token": self.token}
            )
        )

    def detail(self) -> dict[str, Any]:
        return ok(
            self.world.client.get(f"/api/v1/quotes/{self.quote['id']}", headers=self.world.headers)
        )


@dataclass
class Asked:
    world: World
    id: int
    token: str
    email: str

    def confirm(self):  # noqa: ANN201
        return self.world.client.post(
            f"/api/v1/public/messages/{self.id}/confirm", json={"token": self.token}
        )

    def answer(self, text: str = "La réponse."):  # noqa: ANN201
        return self.world.client.post(
            f"/api/v1/messages/{self.id}/answer", json={"text": text}, headers=self.world.headers
        )

    def question(self) -> Any:
        from webapp.messages.models import Question

        return self.world.row(Question, self.id)


def pay_link_token(world: World, email: str) -> str:
    """The fix-my-payment token of the last dunning e-mail sent to `email`."""
    for mail in reversed(world.emails_to(email)):
        match = re.search(r"/pay/(pay_[A-Za-z0-9_\-]+)", mail.body_text)
        if match:
            return match.group(1)
    raise AssertionError(f"no pay link sent to {email}")


def make_world(app: Flask, client: FlaskClient, stripe: StripeView, make_freelancer) -> World:  # noqa: ANN001
    freelancer = make_freelancer(locale="en")
    ok(client.patch("/api/v1/me", json=PROFILE, headers=freelancer["headers"]))
    ok(
        client.put(
            "/api/v1/availability",
            json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
            headers=freelancer["headers"],
        )
    )
    return World(app, client, stripe, freelancer)
