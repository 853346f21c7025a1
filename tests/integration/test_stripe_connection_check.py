"""The Stripe page's "Test the connection" against localstripe (issue 15): the keys in use
work, a revoked key is refused, an unreachable Stripe is said so; in words each time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from billing.models import StripeAccount
from tests.integration.test_quotes_pages import _csrf, logged_in  # noqa: F401 (a fixture)

pytestmark = pytest.mark.stripe

KEYS = {
    "secret_key": "sk_test_freelancerOwn4242",
    "publishable_key": "pk_test_freelancerOwn4242",
    "webhook_secret": "whsec_abcdefgh12345678",
}


@pytest.fixture
def app_config(app_config, localstripe_url):
    return {**app_config, "STRIPE_API_BASE": localstripe_url, "STRIPE_SECRET_KEY": "sk_test_inst"}


def check(client) -> str:
    answer = client.post(
        "/settings/stripe?lang=en",
        data={"csrf_token": _csrf(client, "/settings/stripe"), "action": "test"},
    )
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    start = page.index('id="connection-check"')
    return page[start : page.index("</p>", start)]


def test_the_keys_in_use_are_tested_and_a_revoked_key_is_refused(
    app,
    client,
    logged_in,  # noqa: F811
):
    # given an English-speaking freelancer on the installation's keys, then on their own
    client.patch("/api/v1/me", headers=logged_in["headers"], json={"locale": "en"})
    assert "It works: Stripe accepted the key ending inst (test mode)." in check(client)
    answer = client.put("/api/v1/stripe-account", headers=logged_in["headers"], json=KEYS)
    assert answer.status_code == 200, answer.get_json()
    said = check(client)
    assert 'class="flash"' in said and "the key ending 4242 (test mode)" in said
    # when the stored key stops being accepted (revoked: localstripe refuses non-sk_ keys)
    from webapp.extensions import db
    from webapp.stripe_connect import secret_box

    with app.app_context():
        row = db.session.scalar(select(StripeAccount))
        row.secret_key_enc = secret_box().encrypt("rk_test_revokedKey1234")
        db.session.commit()
    # then the page says so, and what to do
    said = check(client)
    assert "error banner" in said
    assert "Stripe refused the key in use" in said and "Paste a new secret key below" in said


def test_an_unreachable_stripe_is_said_so(app, client, logged_in):  # noqa: F811
    client.patch("/api/v1/me", headers=logged_in["headers"], json={"locale": "en"})
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    assert "Stripe could not be reached just now" in check(client)
