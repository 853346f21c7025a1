"""Changing Stripe keys while money is in flight, on the real localstripe server.

Holds are placed with the gateway the app builds for the freelancer
(`webapp.stripe_connect.gateway`), so every payment records the account it
lives in; a key change is refused (409 `money_in_flight`) until they are
captured or released, and money left on an old account is never moved with
the new keys.
"""

from __future__ import annotations

import re
from itertools import count

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from billing import cards, payments
from billing.errors import NotAllowed
from billing.models import Payment, StripeAccount
from billing.money import Money
from billing.payments import Subject
from billing.secrets import SecretBox
from webapp.extensions import db
from webapp.stripe_connect import credentials, gateway

pytestmark = pytest.mark.stripe

KEYS_A = {
    "secret_key": "sk_test_accountA_1111",
    "publishable_key": "pk_test_accountA_1111",
    "webhook_secret": "whsec_accountA_1111",
}
KEYS_B = {
    "secret_key": "sk_test_accountB_2222",
    "publishable_key": "pk_test_accountB_2222",
    "webhook_secret": "whsec_accountB_2222",
}
_subjects = count(1)


@pytest.fixture
def app_config(app_config, localstripe_url):
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def connect(client, freelancer, keys=KEYS_A):
    return client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=keys)


def place(app, freelancer_id, *, capture_method="manual", card="pm_card_visa") -> int:
    """A payment made with the freelancer's current keys, as a feature would; its id."""
    with app.app_context():
        gw = gateway(freelancer_id)
        customer = cards.ensure_customer(
            db.session,
            gw,
            freelancer_id=freelancer_id,
            email="client@example.test",
            name="Client",
        )
        payment = payments.prepare_payment(
            db.session,
            customer=customer,
            subject=Subject("test", next(_subjects)),
            purpose="hold" if capture_method == "manual" else "prepay",
            amount=Money(80_00, "eur"),
            payment_method_id=card,
            capture_method=capture_method,
            off_session=True,
        )
        db.session.commit()
        payment_id = payment.id
        done = payments.execute_payment(db.session, gw, payment_id)
        assert done.status == ("authorized" if capture_method == "manual" else "succeeded")
        assert done.stripe_account == credentials(freelancer_id).account_ref
        return payment_id


def stored(app, db_session, freelancer_id):
    """The stored secret key and webhook token of the freelancer's connection."""
    db_session.expire_all()
    row = db_session.scalar(
        select(StripeAccount).where(StripeAccount.freelancer_id == freelancer_id)
    )
    if row is None:
        return None
    box = SecretBox.from_config(app.config["ENCRYPTION_KEYS"], app.config["SECRET_KEY"])
    return box.decrypt(row.secret_key_enc), row.publishable_key, row.webhook_token


def test_gateway_carries_the_account_of_its_credentials(app, client, make_freelancer):
    alice, bob = make_freelancer(), make_freelancer()
    assert connect(client, alice).status_code == 200
    with app.app_context():
        for freelancer in (alice, bob):
            assert (
                gateway(freelancer["id"]).account_ref == credentials(freelancer["id"]).account_ref
            )
        assert gateway(alice["id"]).account_ref != gateway(bob["id"]).account_ref


def test_new_keys_are_refused_while_a_hold_is_open_then_accepted_once_captured(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    assert connect(client, freelancer).status_code == 200
    before = stored(app, db_session, freelancer["id"])
    hold = place(app, freelancer["id"])

    # other keys: refused, and nothing changed
    answer = connect(client, freelancer, KEYS_B)
    assert answer.status_code == 409, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "money_in_flight"
    assert error["message"] == (
        "1 card hold is still open on this Stripe account: capture, release or let it"
        " finish before changing keys."
    )
    assert error["fields"]["in_flight"] == {"authorized": {"count": 1, "payment_ids": [hold]}}
    assert stored(app, db_session, freelancer["id"]) == before
    status = client.get("/api/v1/stripe-account", headers=freelancer["headers"]).get_json()
    assert status["secret_key_last4"] == "1111"

    # disconnecting would strand it too
    answer = client.delete("/api/v1/stripe-account", headers=freelancer["headers"])
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "money_in_flight"
    assert stored(app, db_session, freelancer["id"]) == before

    # once the hold is captured with the keys it was placed with, the change goes through
    with app.app_context():
        captured = payments.capture(db.session, gateway(freelancer["id"]), hold)
        assert captured.status == "succeeded"
    answer = connect(client, freelancer, KEYS_B)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["secret_key_last4"] == "2222"
    assert stored(app, db_session, freelancer["id"])[0] == KEYS_B["secret_key"]


def test_released_holds_free_the_keys_and_disconnect_goes_through(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    connect(client, freelancer)
    holds = [place(app, freelancer["id"]), place(app, freelancer["id"])]
    answer = client.delete("/api/v1/stripe-account", headers=freelancer["headers"])
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["message"].startswith("2 card holds are still open on this Stripe account")
    assert error["fields"]["in_flight"]["authorized"] == {"count": 2, "payment_ids": holds}

    with app.app_context():
        for hold in holds:
            assert payments.release(db.session, gateway(freelancer["id"]), hold).status == (
                "canceled"
            )
    answer = client.delete("/api/v1/stripe-account", headers=freelancer["headers"])
    assert answer.status_code == 200
    assert answer.get_json()["source"] == "instance"
    assert stored(app, db_session, freelancer["id"]) is None


def test_the_same_secret_key_can_be_saved_again_with_a_hold_open(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    connect(client, freelancer)
    _, _, token = stored(app, db_session, freelancer["id"])
    hold = place(app, freelancer["id"])
    ref = None
    with app.app_context():
        ref = credentials(freelancer["id"]).account_ref
    # only the webhook secret and publishable key change: the same account
    same_account = {
        **KEYS_A,
        "publishable_key": "pk_test_accountA_rolled",
        "webhook_secret": "whsec_accountA_rolled",
    }
    answer = connect(client, freelancer, same_account)
    assert answer.status_code == 200, answer.get_json()
    assert stored(app, db_session, freelancer["id"]) == (
        KEYS_A["secret_key"],
        "pk_test_accountA_rolled",
        token,
    )
    with app.app_context():
        assert credentials(freelancer["id"]).account_ref == ref
        assert credentials(freelancer["id"]).webhook_secret == "whsec_accountA_rolled"
        # and the hold is still captured on its own account
        assert payments.capture(db.session, gateway(freelancer["id"]), hold).status == ("succeeded")


def test_connecting_own_keys_is_refused_while_a_hold_is_open_on_the_instance(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    hold = place(app, freelancer["id"])  # on the instance's keys
    answer = connect(client, freelancer)
    assert answer.status_code == 409
    assert answer.get_json()["error"]["fields"]["in_flight"]["authorized"]["payment_ids"] == [hold]
    assert stored(app, db_session, freelancer["id"]) is None
    with app.app_context():
        payments.release(db.session, gateway(freelancer["id"]), hold)
    assert connect(client, freelancer).status_code == 200


def test_every_unfinished_status_counts_and_rows_without_an_account_too(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    connect(client, freelancer)
    ids = [place(app, freelancer["id"]) for _ in range(4)]
    # rows as other states would leave them (and one from before accounts were recorded)
    db_session.execute(update(Payment).where(Payment.id == ids[1]).values(status="requires_action"))
    db_session.execute(update(Payment).where(Payment.id == ids[2]).values(status="processing"))
    db_session.execute(
        update(Payment).where(Payment.id == ids[3]).values(status="created", stripe_account=None)
    )
    db_session.commit()
    answer = connect(client, freelancer, KEYS_B)
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["message"] == (
        "1 card hold, 1 payment awaiting 3-D Secure, 1 payment still processing and"
        " 1 payment being sent to Stripe are still open on this Stripe account:"
        " capture, release or let them finish before changing keys."
    )
    assert {s: v["payment_ids"] for s, v in error["fields"]["in_flight"].items()} == {
        "authorized": [ids[0]],
        "requires_action": [ids[1]],
        "processing": [ids[2]],
        "created": [ids[3]],
    }


def test_money_on_another_account_is_never_moved_with_the_new_keys(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    connect(client, freelancer)
    paid = place(app, freelancer["id"], capture_method="automatic")
    # a captured payment is final: the keys may change
    assert connect(client, freelancer, KEYS_B).status_code == 200
    with app.app_context():
        new_gateway = gateway(freelancer["id"])
        # refunding it with the new keys is refused (docs/api.md: old dashboard)
        with pytest.raises(NotAllowed):
            payments.refund(db.session, new_gateway, paid)
        db.session.rollback()
    # a hold recorded on another account (say, placed while the keys changed)
    hold = place(app, freelancer["id"])
    db_session.execute(
        update(Payment)
        .where(Payment.id == hold)
        .values(stripe_account="account:1:0123456789abcdef")
    )
    db_session.commit()
    with app.app_context():
        with pytest.raises(NotAllowed):
            payments.capture(db.session, gateway(freelancer["id"]), hold)
        db.session.rollback()
    db_session.expire_all()
    assert db_session.get(Payment, hold).status == "authorized"
    assert db_session.get(Payment, paid).amount_refunded_minor == 0


# --- the settings page ---------------------------------------------------------------


def _csrf(client, path):
    return re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)
    ).group(1)


@pytest.fixture
def logged_in(client, make_freelancer):
    made = make_freelancer()
    answer = client.post(
        "/login",
        data={
            "email": made["email"],
            "password": made["password"],
            "csrf_token": _csrf(client, "/login"),
        },
    )
    assert answer.status_code == 302
    return made


def _post(client, data, lang):
    return client.post(
        f"/settings/stripe?lang={lang}",
        data={**data, "csrf_token": _csrf(client, f"/settings/stripe?lang={lang}")},
    )


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "fr",
            "Encore en cours sur ce compte Stripe : 1 pré-autorisation de carte. "
            "Capturez, libérez ou laissez aboutir avant de changer de clés.",
        ),
        (
            "en",
            "1 card hold is still open on this Stripe account: capture, release or let it"
            " finish before changing keys.",
        ),
    ],
)
def test_settings_page_explains_the_refusal_next_to_the_form(
    app, client, logged_in, db_session, lang, expected
):
    connect(client, logged_in)
    before = stored(app, db_session, logged_in["id"])
    hold = place(app, logged_in["id"])

    page = _post(client, KEYS_B, lang)
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert 'id="money-in-flight"' in html
    assert expected.replace("'", "&#39;") in html
    assert "money_in_flight" not in html
    assert stored(app, db_session, logged_in["id"]) == before

    page = _post(client, {"action": "disconnect"}, lang)
    assert page.status_code == 409
    assert expected.replace("'", "&#39;") in page.get_data(as_text=True)
    assert stored(app, db_session, logged_in["id"]) == before

    with app.app_context():
        payments.release(db.session, gateway(logged_in["id"]), hold)
    page = _post(client, KEYS_B, lang)
    assert page.status_code == 302
    assert stored(app, db_session, logged_in["id"])[0] == KEYS_B["secret_key"]
