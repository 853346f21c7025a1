"""Schemathesis over /api/v1/openapi.json against the served app (issue 10).

Every operation, authenticated, with real object ids, on SQLite and PostgreSQL:
no 5xx, and every answer as the document says (status code, content type,
headers, body schema). A bounded slice runs here (FUZZ_SECONDS, default 60 per
database); `make fuzz` runs a long campaign and prints every case and failure.
"""

from __future__ import annotations

import os

import pytest

from tests.support import api_fuzz

FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request, database_url, tmp_path, localstripe_url, register_localstripe_webhook):
    """The app over HTTP on SQLite, then PostgreSQL, with localstripe as Stripe;
    limits off so every generated request reaches its view."""
    from tests.browser.conftest import PUBLISHABLE_KEY, serving
    from tests.conftest import base_config

    url = database_url
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database_url")
    config = base_config(url, tmp_path)
    config.update(
        STRIPE_API_BASE=localstripe_url,
        STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        RATELIMIT_ENABLED=False,
    )
    with serving(config, register_localstripe_webhook) as served:
        yield served


@pytest.mark.stripe
def test_fuzzed_api_never_fails_and_answers_as_documented(served, tmp_path):
    seeded = api_fuzz.seed(served.client, served.app)
    finished = api_fuzz.run(
        served.url,
        seeded,
        tmp_path,
        max_time=FUZZ_SECONDS,
        max_examples=FUZZ_EXAMPLES,
        seed=int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None,
    )
    output = finished.stdout + finished.stderr
    if os.environ.get("FUZZ_VERBOSE"):
        print(output)
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-4000:]
    assert finished.returncode == 0, output[-30_000:]
    # The run covered the API, not a handful of operations.
    assert "Tested: " in summary, summary
