"""Connecting a freelancer's own Stripe account: validation, encryption at rest, rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from billing.errors import GatewayAuthError
from billing.models import StripeAccount
from billing.secrets import SecretBox

KEYS = {
    "secret_key": "sk_test_freelancerSecret1234",
    "publishable_key": "pk_test_abcdefgh1234",
    "webhook_secret": "whsec_abcdefgh12345678",
}


class StubGateway:
    """Only `check_connection` matters here; the real adapter is tested against localstripe."""

    def __init__(self, creds):
        self.creds = creds

    def check_connection(self) -> None:
        if "refused" in self.creds.secret_key:
            raise GatewayAuthError("Invalid API Key provided", http_status=401)


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "GATEWAY_FACTORY": StubGateway,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def test_connect_stores_keys_encrypted_and_never_shows_them(
    app, client, make_freelancer, db_session
):
    freelancer = make_freelancer()
    answer = client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=KEYS)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["connected"] is True and body["mode"] == "test"
    assert body["secret_key_last4"] == "1234"
    assert body["webhook_url"].startswith("http://127.0.0.1:5000/stripe/webhook/")
    assert KEYS["secret_key"] not in answer.get_data(as_text=True)
    row = db_session.scalar(select(StripeAccount))
    assert KEYS["secret_key"] not in row.secret_key_enc
    assert KEYS["webhook_secret"] not in row.webhook_secret_enc
    box = SecretBox.from_config(app.config["ENCRYPTION_KEYS"], app.config["SECRET_KEY"])
    assert box.decrypt(row.secret_key_enc) == KEYS["secret_key"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"secret_key": "pk_test_notasecret123"}, "secret_key"),
        ({"secret_key": "sk_test_refused_by_stripe"}, "secret_key"),
        ({"publishable_key": "sk_test_wrongkind1234"}, "publishable_key"),
        ({"publishable_key": "pk_live_mixedmodes1234"}, "publishable_key"),
        ({"webhook_secret": "secret"}, "webhook_secret"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_stored(
    client, make_freelancer, db_session, changes, field
):
    freelancer = make_freelancer()
    answer = client.put(
        "/api/v1/stripe-account", headers=freelancer["headers"], json={**KEYS, **changes}
    )
    assert answer.status_code == 422
    assert field in answer.get_json()["error"]["fields"]
    assert db_session.scalar(select(StripeAccount)) is None


def test_disconnect_falls_back_to_instance_keys(client, make_freelancer):
    freelancer = make_freelancer()
    client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=KEYS)
    answer = client.delete("/api/v1/stripe-account", headers=freelancer["headers"])
    assert answer.get_json() == {
        **answer.get_json(),
        "connected": False,
        "source": "instance",
        "publishable_key": "pk_test_instance",
    }


def test_credentials_resolve_per_freelancer(app, client, make_freelancer):
    from webapp.stripe_connect import credentials

    alice, bob = make_freelancer(), make_freelancer()
    client.put("/api/v1/stripe-account", headers=alice["headers"], json=KEYS)
    with app.app_context():
        assert credentials(alice["id"]).secret_key == KEYS["secret_key"]
        assert credentials(alice["id"]).endpoint.startswith("account:")
        assert credentials(bob["id"]).secret_key == "sk_test_instance"
        assert credentials(bob["id"]).endpoint == "instance"


def test_key_rotation_reencrypts_with_the_new_key(app, client, make_freelancer, db_session):
    freelancer = make_freelancer()
    client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=KEYS)
    old_key = app.config["ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    # given the new key first and the old one still listed
    app.config["ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1" in result.output
    # then the new key alone decrypts everything
    row = db_session.scalar(select(StripeAccount))
    assert SecretBox([new_key]).decrypt(row.secret_key_enc) == KEYS["secret_key"]
    assert SecretBox([new_key]).decrypt(row.webhook_secret_enc) == KEYS["webhook_secret"]
    app.config["ENCRYPTION_KEYS"] = new_key
    assert (
        client.get("/api/v1/stripe-account", headers=freelancer["headers"]).get_json()["connected"]
        is True
    )


def test_gateway_records_the_account_of_its_credentials(app, client, make_freelancer):
    from webapp.stripe_connect import credentials, gateway

    alice, bob = make_freelancer(), make_freelancer()
    client.put("/api/v1/stripe-account", headers=alice["headers"], json=KEYS)
    with app.app_context():
        assert gateway(alice["id"]).account_ref == credentials(alice["id"]).account_ref
        assert gateway(bob["id"]).account_ref == credentials(bob["id"]).account_ref
        assert credentials(alice["id"]).account_ref.startswith("account:")
        assert credentials(bob["id"]).account_ref.startswith("instance:")


def open_payment(db_session, freelancer_id, ref, status="requires_action"):
    """An unfinished payment row on the account `ref` (committed)."""
    from billing.models import Payment, PaymentCustomer

    customer = PaymentCustomer(
        freelancer_id=freelancer_id, email="c@example.test", name="C", stripe_account=ref
    )
    db_session.add(customer)
    db_session.flush()
    db_session.add(
        Payment(
            freelancer_id=freelancer_id,
            customer_id=customer.id,
            subject_type="test",
            subject_id="1",
            purpose="hold",
            amount_minor=50_00,
            currency="eur",
            capture_method="manual",
            payment_method_id="pm_card_visa",
            status=status,
            stripe_account=ref,
            idempotency_key=f"test:in-flight:{status}:{ref}",
        )
    )
    db_session.commit()


def test_keys_are_refused_with_money_in_flight_and_kept(app, client, make_freelancer, db_session):
    """The API shape with a stub gateway; tests/integration/test_stripe_connect_in_flight.py
    does the same against localstripe."""
    from webapp.stripe_connect import credentials

    freelancer = make_freelancer()
    client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=KEYS)
    with app.app_context():
        ref = credentials(freelancer["id"]).account_ref
    open_payment(db_session, freelancer["id"], ref)
    token = db_session.scalar(select(StripeAccount.webhook_token))
    other = {**KEYS, "secret_key": "sk_test_anotherAccount5678"}
    answer = client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=other)
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "money_in_flight"
    assert "1 payment awaiting 3-D Secure is still open" in error["message"]
    assert error["fields"]["in_flight"]["requires_action"]["count"] == 1
    db_session.expire_all()
    row = db_session.scalar(select(StripeAccount))
    assert row.secret_key_last4 == "1234" and row.webhook_token == token
    assert client.delete("/api/v1/stripe-account", headers=freelancer["headers"]).status_code == 409
    # the same key again (a new webhook secret) is fine
    same = {**KEYS, "webhook_secret": "whsec_rolledSecret1234"}
    assert (
        client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=same).status_code
        == 200
    )


def test_undecryptable_keys_still_refuse_a_change_with_money_in_flight(
    app, client, make_freelancer, db_session
):
    from webapp.stripe_connect import credentials

    freelancer = make_freelancer()
    client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=KEYS)
    with app.app_context():
        ref = credentials(freelancer["id"]).account_ref
    open_payment(db_session, freelancer["id"], ref, status="authorized")
    # the key that encrypted the stored secret is gone
    app.config["ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    other = {**KEYS, "secret_key": "sk_test_anotherAccount5678"}
    answer = client.put("/api/v1/stripe-account", headers=freelancer["headers"], json=other)
    assert answer.status_code == 409
    assert answer.get_json()["error"]["fields"]["in_flight"]["authorized"]["count"] == 1
    assert client.delete("/api/v1/stripe-account", headers=freelancer["headers"]).status_code == 409
