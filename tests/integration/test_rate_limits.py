"""Rate limits live on their views: no check runs before a request that has none.

flask-limiter's before-request check is dropped (it evaluated default,
application and blueprint limits, of which Acompte declares none; issue 14).
These tests hold the two halves: a limited view still refuses past its limit,
and the check comes back as soon as a default limit is configured.
"""

from __future__ import annotations

from webapp import create_app
from webapp.extensions import limiter


def _checks_before_every_request(app) -> bool:
    return limiter._check_request_limit in app.before_request_funcs.get(None, [])


def test_a_limited_view_still_refuses_past_its_limit(app, client):
    # given the public booking endpoint, limited to 30 a minute per address
    assert not _checks_before_every_request(app)
    path = "/api/v1/public/freelancers/nobody/bookings"
    # when one address sends 31 requests in the minute
    answers = [client.post(path, json={}).status_code for _ in range(31)]
    # then the first 30 are answered on their merits, the 31st is refused
    assert 429 not in answers[:30], answers
    assert answers[30] == 429
    assert client.get("/api/v1/public/freelancers/nobody").status_code == 404


def test_a_page_without_a_limit_is_never_counted(client):
    answers = {client.get("/api/v1/public/freelancers/nobody").status_code for _ in range(60)}
    assert answers == {404}


def test_a_configured_default_limit_brings_the_check_back(app_config):
    app = create_app({**app_config, "RATELIMIT_DEFAULT": "2/minute"})
    try:
        assert _checks_before_every_request(app)
        client = app.test_client()
        answers = [client.get("/api/v1/public/freelancers/nobody").status_code for _ in range(3)]
        assert answers == [404, 404, 429]
    finally:
        from webapp.extensions import db

        db.session.remove()
        db.engine.dispose()
        # flask-limiter's one Limiter keeps a configured default for the next
        # apps of the process (a deployment builds one app; the tests, many).
        limiter.limit_manager.set_default_limits([])
