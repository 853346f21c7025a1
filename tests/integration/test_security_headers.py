"""Security headers on every response: pages, API, errors, static files."""

from __future__ import annotations

import pytest

from webapp.security import content_security_policy

TOKEN = "q_" + "Zx9-" * 10 + "abc"


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    directives = (part.strip().split(None, 1) for part in policy.split(";"))
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives}


@pytest.mark.parametrize(
    "path, status",
    [
        ("/", 200),
        ("/login", 200),
        ("/dashboard", 302),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/me", 401),
        ("/api/v1/no-such-thing", 404),
        (f"/api/v1/public/quotes/{TOKEN}", 404),
        (f"/q/{TOKEN}", 404),
        ("/static/acompte.css", 200),
    ],
)
def test_every_response_carries_the_headers(client, path, status):
    answer = client.get(path)
    answer.close()  # a static file's stream
    assert answer.status_code == status
    headers = answer.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    csp = _csp(answer)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["default-src"] == "'self'"
    assert "'unsafe-inline'" not in csp["script-src"]
    assert csp["object-src"] == "'none'"
    # Plain http: no HSTS (it would pin a development host to https).
    assert "Strict-Transport-Security" not in headers


def test_a_500_carries_them_too(app, client):
    def boom(token):
        raise RuntimeError("boom")

    app.view_functions["api.public_quote"] = boom
    answer = client.get(f"/api/v1/public/quotes/{TOKEN}")
    assert answer.status_code == 500
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert _csp(answer)["frame-ancestors"] == "'none'"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "path, policy",
    [
        (f"/q/{TOKEN}", "no-referrer"),
        (f"/pay/pay_{TOKEN}", "no-referrer"),
        (f"/m/msg_{TOKEN}", "no-referrer"),
        (f"/milestones/m_{TOKEN}", "no-referrer"),
        ("/b/1/manage?manage_token=x", "no-referrer"),
        (f"/api/v1/public/pay/{TOKEN}", "no-referrer"),
        ("/", "strict-origin-when-cross-origin"),
        ("/login", "strict-origin-when-cross-origin"),
        ("/api/v1/me", "strict-origin-when-cross-origin"),
    ],
)
def test_client_links_send_no_referrer(client, path, policy):
    assert client.get(path).headers["Referrer-Policy"] == policy


def test_hsts_when_the_base_url_is_https(app, client):
    app.config["BASE_URL"] = "https://acompte.example"
    hsts = client.get("/").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=31536000")


def test_the_policy_allows_the_fake_stripe_js_in_tests(app, client):
    app.config["STRIPE_JS_URL"] = "http://127.0.0.1:8420/js.stripe.com/v3/"
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:8420"
    csp = _csp(client.get("/"))
    assert csp["script-src"] == "'self' http://127.0.0.1:8420"
    assert "http://127.0.0.1:8420" in csp["connect-src"]
    assert "http://127.0.0.1:8420" in csp["frame-src"]
    assert "js.stripe.com" not in client.get("/").headers["Content-Security-Policy"]


def test_the_policy_allows_real_stripe_js():
    policy = content_security_policy(
        {"STRIPE_JS_URL": "https://js.stripe.com/v3/", "STRIPE_API_BASE": None}
    )
    csp = dict(part.strip().split(None, 1) for part in policy.split(";"))
    assert "https://js.stripe.com" in csp["script-src"].split()
    assert {"https://js.stripe.com", "https://hooks.stripe.com"} <= set(csp["frame-src"].split())
    assert "https://api.stripe.com" in csp["connect-src"].split()
    assert "127.0.0.1" not in policy


def test_the_outbox_frame_keeps_its_own_policy(app, client):
    from webapp.extensions import db
    from webapp.mail.models import OutboundEmail

    app.config["SHOW_OUTBOX"] = True
    with app.app_context():
        email = OutboundEmail(to_addr="a@example.test", subject="s", body_text="t", body_html="<p>")
        db.session.add(email)
        db.session.commit()
        email_id = email.id
    answer = client.get(f"/dev/outbox/{email_id}/html")
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in answer.headers  # framed by the outbox page itself
    page = client.get(f"/dev/outbox/{email_id}")
    assert _csp(page)["frame-src"].startswith("'self'")
