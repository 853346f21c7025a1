"""One 3-D Secure: the card given with the payment, against the real localstripe server.

Where money moves at once (a prepaid or deposit booking, a hold placed now, a
quote's deposit), the page makes the card a PaymentMethod and sends it with
`confirm`; the server attaches it and charges it with
`setup_future_usage=off_session` — no SetupIntent, so the bank's challenge is
asked once. Where nothing is charged now, the SetupIntent stays. The API of
before (SetupIntent, then `confirm` with the token only) still works.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from billing.models import CardSetup, Payment
from tests.faults import proxied, run_due
from tests.faults.world import DECLINED_LATER, World, ok, pay_link_token
from tests.support.card_given import (
    DECLINED_ON_ATTACH,
    THREE_D_SECURE,
    VISA,
    browser_card,
    payment_method,
)
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.stripe

CREATE = r"/v1/payment_intents"


proxy, world = proxied.proxy, proxied.world  # the fixtures


@pytest.fixture
def app_config(app_config: dict[str, Any], proxy: FaultProxy) -> dict[str, Any]:
    return proxied.proxied_config(app_config, proxy, "card_given")


def confirm_with(world: World, booked: Any, payment_method_id: str | None = None) -> Any:
    body: dict[str, Any] = {"manage_token": booked.token}
    if payment_method_id is not None:
        body["payment_method_id"] = payment_method_id
    return world.client.post(f"/api/v1/public/bookings/{booked.id}/confirm", json=body)


def payments_of(app, subject_type: str, subject_ids: list[int]) -> list[Payment]:  # noqa: ANN001
    from webapp.extensions import db

    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Payment)
                .where(
                    Payment.subject_type == subject_type,
                    Payment.subject_id.in_([str(i) for i in subject_ids]),
                )
                .order_by(Payment.id)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def setup_intent_status(world: World, answer: dict[str, Any]) -> str:
    """The status at Stripe of the SetupIntent an answer offered (unused: never confirmed)."""
    setup_id = answer["setup_intent_client_secret"].split("_secret_")[0]
    return str(world.stripe.get(f"/v1/setup_intents/{setup_id}")["status"])


def sent_future_usage(proxy: FaultProxy) -> list[str | None]:
    """`payment_method_options[card][setup_future_usage]` of each PaymentIntent created."""
    found = []
    for request in proxy.matching("POST", CREATE):
        form = parse_qs(request.body.decode())
        found.append((form.get("payment_method_options[card][setup_future_usage]") or [None])[0])
    return found


def test_a_three_d_secure_card_given_with_a_deposit_is_authenticated_once_and_kept(
    world, proxy, localstripe_url, app
):
    # given a deposit booking: money moves now, so the page is told to give the card
    booked = world.book("deposit", card=None, deposit_percent=30)
    assert booked.created["card_step"] == "payment"
    card = browser_card(localstripe_url, THREE_D_SECURE)
    # when the page confirms with the card it made
    first = ok(confirm_with(world, booked, card))
    # then the bank's challenge is the payment's, the only one
    assert first["status"] == "requires_action"
    paid = world.stripe.authenticate(first["payment_intent_client_secret"])
    assert paid["status"] == "succeeded"
    assert ok(confirm_with(world, booked)) == {"status": "confirmed"}
    # the booking's SetupIntent was never used, one PaymentIntent asked to keep the card
    assert setup_intent_status(world, booked.created) == "requires_payment_method"
    assert sent_future_usage(proxy) == ["off_session"]
    booking = booked.booking()
    assert (booking.status, booking.payment_method_id) == ("confirmed", card)
    [deposit] = payments_of(app, "booking", [booked.id])
    assert (deposit.purpose, deposit.amount_captured_minor) == ("deposit", 3_000)
    assert deposit.setup_future_usage == "off_session"
    # and the card is the client's at Stripe, for the balance charged later
    customer = world.stripe.customers(booked.email)
    assert payment_method(localstripe_url, card)["customer"] == customer[0]


def test_the_card_given_with_a_deposit_pays_the_balance_off_session(
    world, proxy, localstripe_url, app
):
    # given a deposit paid with a card given on the page
    booked = world.book("deposit", card=None, deposit_percent=30, days=1)
    card = browser_card(localstripe_url, VISA)
    assert ok(confirm_with(world, booked, card)) == {"status": "confirmed"}
    # when the session is over and the due work runs
    said = run_due.inline(app, booked.start + timedelta(hours=3))
    # then the balance is charged off session with that same card, once
    rows = payments_of(app, "booking", [booked.id])
    assert [(p.purpose, p.off_session, p.status) for p in rows] == [
        ("deposit", False, "succeeded"),
        ("balance", True, "succeeded"),
    ], said
    assert {p.payment_method_id for p in rows} == {card}
    assert [p.amount_captured_minor for p in rows] == [3_000, 7_000]
    assert booked.booking().status == "completed"
    assert sent_future_usage(proxy) == ["off_session", None]


def test_a_far_away_hold_keeps_the_setup_intent_and_refuses_a_given_card(world, localstripe_url):
    # given a hold far away: nothing is charged at booking, the card is only saved
    booked = world.book("hold", card=None, days=12)
    assert booked.created["card_step"] == "setup"
    card = browser_card(localstripe_url, VISA)
    # when a card is given anyway, it is refused and nothing is attached
    refused = confirm_with(world, booked, card)
    assert refused.status_code == 409, refused.get_json()
    assert payment_method(localstripe_url, card)["customer"] is None
    # then the SetupIntent path confirms it, as before
    world.stripe.confirm_setup(booked.created["setup_intent_client_secret"], "pm_card_visa")
    assert ok(confirm_with(world, booked)) == {"status": "confirmed"}
    assert booked.booking().payment_state == "card_saved"


def test_a_card_refused_when_attached_is_a_decline_and_another_card_then_pays(
    world, proxy, localstripe_url, app
):
    booked = world.book("prepay", card=None)
    declined = confirm_with(world, booked, browser_card(localstripe_url, DECLINED_ON_ATTACH))
    assert declined.status_code == 402, declined.get_json()
    assert declined.get_json()["error"]["code"] == "card_declined"
    assert booked.booking().status == "pending_payment"
    assert proxy.matching("POST", CREATE) == []
    # another card, given the same way, pays
    assert ok(confirm_with(world, booked, browser_card(localstripe_url, VISA))) == {
        "status": "confirmed"
    }
    [charge] = payments_of(app, "booking", [booked.id])
    assert charge.amount_captured_minor == 10_000


def test_the_card_given_again_after_three_d_secure_is_not_a_second_payment(
    world, proxy, localstripe_url, app
):
    # a page that sends its card again with the second confirm (after 3-D Secure)
    booked = world.book("prepay", card=None)
    card = browser_card(localstripe_url, THREE_D_SECURE)
    first = ok(confirm_with(world, booked, card))
    world.stripe.authenticate(first["payment_intent_client_secret"])
    assert ok(confirm_with(world, booked, card)) == {"status": "confirmed"}
    assert ok(confirm_with(world, booked, card)) == {"status": "confirmed"}
    assert len(proxy.matching("POST", CREATE)) == 1
    assert len(proxy.matching("POST", r"/v1/payment_methods/[^/]+/attach")) == 1
    [charge] = payments_of(app, "booking", [booked.id])
    assert charge.amount_captured_minor == 10_000


def test_the_setup_intent_api_of_before_still_confirms(world):
    booked = world.book("prepay")  # the SetupIntent confirmed as confirmCardSetup does
    assert ok(confirm_with(world, booked)) == {"status": "confirmed"}
    assert booked.booking().payment_state == "captured"


# --- quotes ----------------------------------------------------------------------


def accept_quote(world: World, quoted: Any) -> dict[str, Any]:
    return ok(
        world.client.post(
            f"/api/v1/public/quotes/{quoted.token}/accept",
            json={"signer_name": "Claire Client", "accept_terms": True},
        )
    )


def confirm_quote(world: World, quoted: Any, **body: Any) -> Any:
    return world.client.post(f"/api/v1/public/quotes/{quoted.token}/accept/confirm", json=body)


def test_a_quote_deposit_with_a_given_card_asks_three_d_secure_once_and_keeps_the_card(
    world, proxy, localstripe_url, app
):
    # given a quote with a deposit at acceptance and a milestone charged later
    quoted = world.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Solde", "amount_minor": 70_000, "trigger": "on_approval"},
        ]
    )
    signed = accept_quote(world, quoted)
    assert signed["card_step"] == "payment"
    card = browser_card(localstripe_url, THREE_D_SECURE)
    # when the page confirms with the card it made, then completes the one challenge
    first = ok(
        confirm_quote(
            world, quoted, acceptance_id=signed["acceptance_id"], **{"payment_method_id": card}
        )
    )
    assert first["status"] == "requires_action"
    world.stripe.authenticate(first["payment_intent_client_secret"])
    after = ok(confirm_quote(world, quoted, acceptance_id=signed["acceptance_id"]))
    # then the quote is accepted, the deposit paid, the card kept for the balance
    assert after["quote_status"] == "accepted"
    assert [m["status"] for m in after["milestones"]] == ["paid", "pending"]
    assert setup_intent_status(world, signed) == "requires_payment_method"
    assert sent_future_usage(proxy) == ["off_session"]
    [deposit] = payments_of(app, "milestone", quoted.milestone_ids)
    assert (deposit.amount_captured_minor, deposit.payment_method_id) == (30_000, card)
    assert (
        payment_method(localstripe_url, card)["customer"] == world.stripe.customers(quoted.email)[0]
    )


def test_the_quote_balance_is_charged_off_session_with_the_card_given_for_the_deposit(
    world, localstripe_url, app
):
    quoted = world.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Solde", "amount_minor": 70_000, "trigger": "on_approval"},
        ]
    )
    signed = accept_quote(world, quoted)
    card = browser_card(localstripe_url, VISA)
    accepted = ok(
        confirm_quote(world, quoted, acceptance_id=signed["acceptance_id"], payment_method_id=card)
    )
    assert accepted["quote_status"] == "accepted"
    quoted.deliver_and_approve(1)
    said = run_due.inline(app, world_now() + timedelta(minutes=1))
    rows = payments_of(app, "milestone", quoted.milestone_ids)
    assert [(p.off_session, p.status, p.amount_captured_minor) for p in rows] == [
        (False, "succeeded", 30_000),
        (True, "succeeded", 70_000),
    ], said
    assert {p.payment_method_id for p in rows} == {card}


def test_a_quote_without_deposit_keeps_the_setup_intent(world, localstripe_url):
    quoted = world.quote([{"title": "Tout", "amount_minor": 100_000, "trigger": "on_approval"}])
    signed = accept_quote(world, quoted)
    assert signed["card_step"] == "setup"
    refused = confirm_quote(world, quoted, payment_method_id=browser_card(localstripe_url, VISA))
    assert refused.status_code == 409, refused.get_json()
    world.stripe.confirm_setup(signed["setup_intent_client_secret"], "pm_card_visa")
    assert ok(confirm_quote(world, quoted))["quote_status"] == "accepted"


def test_a_card_given_is_recorded_once_per_subject(world, localstripe_url, app):
    from webapp.extensions import db

    booked = world.book("prepay", card=None)
    card = browser_card(localstripe_url, VISA)
    ok(confirm_with(world, booked, card))
    with app.app_context():
        given = db.session.scalars(
            select(CardSetup).where(CardSetup.payment_method_id == card)
        ).all()
        assert [(s.status, s.stripe_setup_intent_id) for s in given] == [("succeeded", None)]


def world_now():  # noqa: ANN201
    from billing.db import utcnow

    return utcnow()


# --- paid questions and the pay link ---------------------------------------------


def test_a_paid_question_holds_a_given_card_with_one_three_d_secure(
    world, proxy, localstripe_url, app
):
    ok(
        world.client.put(
            "/api/v1/messages/settings",
            json={"enabled": True, "price_minor": 3_000, "currency": "eur"},
            headers=world.headers,
        )
    )
    asked = ok(
        world.client.post(
            f"/api/v1/public/freelancers/{world.slug}/messages",
            json={
                "name": "Léa Client",
                "email": "lea-given@example.test",
                "text": "Une question ?",
            },
        ),
        201,
    )
    assert asked["card_step"] == "payment"
    url = f"/api/v1/public/messages/{asked['message_id']}/confirm"
    card = browser_card(localstripe_url, THREE_D_SECURE)
    first = ok(world.client.post(url, json={"token": asked["token"], "payment_method_id": card}))
    assert first["status"] == "requires_action"
    world.stripe.authenticate(first["payment_intent_client_secret"])
    assert ok(world.client.post(url, json={"token": asked["token"]}))["status"] == (
        "awaiting_answer"
    )
    assert setup_intent_status(world, asked) == "requires_payment_method"
    [hold] = payments_of(app, "message", [asked["message_id"]])
    assert (hold.status, hold.amount_capturable_minor, hold.payment_method_id) == (
        "authorized",
        3_000,
        card,
    )
    assert sent_future_usage(proxy) == ["off_session"]


def test_the_pay_link_charges_a_given_card_with_one_three_d_secure(
    world, proxy, localstripe_url, app
):
    # given a milestone whose off-session charge was declined: a case and its pay link
    quoted = world.quote(
        [{"title": "Livraison", "amount_minor": 100_000, "trigger": "on_approval"}]
    )
    quoted.accept(DECLINED_LATER)
    assert ok(quoted.confirm())["status"] == "accepted"
    quoted.deliver_and_approve(0)
    run_due.inline(app, world_now() + timedelta(minutes=1))
    token = pay_link_token(world, quoted.email)
    page = ok(world.client.get(f"/api/v1/public/pay/{token}"))
    assert page["card_step"] == "payment"
    # when the client gives a 3-D Secure card on the page
    card = browser_card(localstripe_url, THREE_D_SECURE)
    url = f"/api/v1/public/pay/{token}/confirm"
    first = ok(world.client.post(url, json={"payment_method_id": card}))
    assert first["status"] == "requires_action"
    world.stripe.authenticate(first["payment_intent_client_secret"])
    # then one challenge, and what is due is paid with that card
    assert ok(world.client.post(url, json={}))["status"] == "paid"
    assert ok(world.client.get(f"/api/v1/public/pay/{token}"))["status"] == "paid"
    paid = [
        p for p in payments_of(app, "milestone", quoted.milestone_ids) if p.status == "succeeded"
    ]
    assert [(p.amount_captured_minor, p.payment_method_id) for p in paid] == [(100_000, card)]
    assert sent_future_usage(proxy)[-1] == "off_session"
