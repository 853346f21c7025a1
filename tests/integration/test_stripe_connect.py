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
