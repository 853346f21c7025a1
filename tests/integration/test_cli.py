"""The commands of CONTRACT.md: `db upgrade`, `billing run-due`, `demo seed`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.accounts import service
from webapp.accounts.models import Freelancer
from webapp.config import PROJECT_ROOT
from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD

NOW = "2026-11-22T10:00:00+01:00"


def flask_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A child's environment that touches nothing outside `tmp_path`."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite'}",
        SECRET_KEY="test-secret-key",
        STRIPE_API_BASE="http://127.0.0.1:9",
    )
    return env


def test_db_upgrade_creates_the_schema_in_an_empty_file(tmp_path):
    # given an empty SQLite file
    path = tmp_path / "fresh.sqlite"
    path.touch()
    # when the real command runs against it
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"],
        env=flask_env(tmp_path, f"sqlite:///{path}"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then it succeeds and the tables are there, at a recorded revision
    assert done.returncode == 0, done.stderr
    assert "database at head" in done.stdout
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    conn.close()
    assert {"freelancer", "api_token"} <= tables
    assert len(revision) == 1


def test_run_due_prints_and_can_run_twice(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["billing", "run-due", "--now", NOW])
        assert result.exit_code == 0, result.output
        assert result.output.strip(), "run-due says what it did, even when nothing was due"


def test_run_due_without_now_uses_the_current_time(app):
    result = app.test_cli_runner().invoke(args=["billing", "run-due"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("now", "message"),
    [
        ("2026-11-22T10:00:00", "give an offset"),
        ("garbage", "not an ISO 8601 time"),
        ("", "not an ISO 8601 time"),
    ],
)
def test_run_due_refuses_a_bad_now(app, now, message):
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", now])
    assert result.exit_code == 2
    assert "--now" in result.stderr
    assert message in result.stderr


def test_demo_seed_is_idempotent(app, db_session):
    runner = app.test_cli_runner()
    # when the seed runs twice
    first = runner.invoke(args=["demo", "seed"])
    second = runner.invoke(args=["demo", "seed"])
    # then there is one demo freelancer, and both runs said so
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "created demo freelancer" in first.output
    assert "already exists" in second.output
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in second.output
    count = db_session.scalar(
        select(func.count(Freelancer.id)).where(Freelancer.email == DEMO_EMAIL)
    )
    assert count == 1


def test_demo_freelancer_can_log_in_with_a_complete_profile(app, db_session, client):
    app.test_cli_runner().invoke(args=["demo", "seed"])
    freelancer = service.authenticate(db_session, DEMO_EMAIL, DEMO_PASSWORD)
    assert freelancer is not None
    assert (freelancer.slug, freelancer.display_name, freelancer.locale) == (
        "camille",
        "Camille Martin",
        "fr",
    )
    token = client.post("/api/v1/tokens", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token.get_json()['token']}"}
    ).get_json()
    assert me["legal_name"] == "Camille Martin EI"
    assert me["siret"] == "73282932000074"
    assert "Paris" in me["address"]
    assert (me["vat_regime"], me["vat_rate"]) == ("franchise", 0)
    assert (me["iban"], me["bic"]) == ("FR7630006000011234567890189", "AGRIFRPP")
    assert (me["timezone"], me["currency"], me["payment_terms_days"]) == ("Europe/Paris", "eur", 30)


def test_demo_seed_gives_a_bookable_public_page(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    client = app.test_client()
    profile = client.get("/api/v1/public/freelancers/camille").get_json()
    policies = sorted(o["payment_policy"] for o in profile["offerings"])
    assert policies == ["deposit", "hold", "prepay"]
    assert client.get("/camille").status_code == 200
    assert client.get("/camille/ask").status_code == 200


def test_public_page_links_to_paid_questions_only_when_offered(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    client = app.test_client()
    assert "/camille/ask" in client.get("/camille?lang=en").get_data(as_text=True)
    client.post(
        "/api/v1/signup",
        json={
            "email": "x@example.test",
            "password": "long enough pw",
            "display_name": "X",
            "slug": "no-questions",
        },
    )
    assert client.get("/no-questions").status_code in (200, 404)
    assert "/no-questions/ask" not in client.get("/no-questions").get_data(as_text=True)


# --- issue 11: the rate table ----------------------------------------------------------


def test_billing_rates_lists_the_2026_rates_and_adds_a_half_year(app):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["billing", "rates", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ecb\t2026-01-01\t2.15 %" in listed.output
    assert "legal\t2026-01-01\t2.62 %" in listed.output
    added = runner.invoke(
        args=["billing", "rates", "add", "ecb", "2026-07-01", "2,40", "--source", "BCE"]
    )
    assert added.exit_code == 0, added.output
    assert "ecb\t2026-07-01\t2.40 %" in runner.invoke(args=["billing", "rates", "list"]).output
    # the penalty computation now reads it
    from datetime import date

    from webapp.dunning.late_payment import REAL_RATE_TABLE
    from webapp.extensions import db

    with app.app_context():
        assert REAL_RATE_TABLE(db.session).rate_on("ecb", date(2026, 9, 1)) == 240


@pytest.mark.parametrize(
    "args, message",
    [
        (["ecb", "2026-02-01", "2.15"], "1 January or 1 July"),
        (["ecb", "2026-07-01", "abc"], "not a percentage"),
        (["ecb", "2026-07-01", "2.155"], "two decimals"),
        (["euribor", "2026-07-01", "2.15"], "Invalid value"),
    ],
)
def test_billing_rates_add_refuses_bad_input(app, args, message):
    result = app.test_cli_runner().invoke(args=["billing", "rates", "add", *args])
    assert result.exit_code == 2 and message in result.output, result.output
