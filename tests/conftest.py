"""Shared fixtures: an app on a migrated SQLite file per test, API helpers, PostgreSQL.

PostgreSQL tests need TEST_DATABASE_URL; they are skipped with a visible reason
elsewhere and required when REQUIRE_POSTGRES=1 (CI). Under pytest-xdist each
worker gets a database of its own on that server (`<name>_gw0`, …).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.support.requirements import unavailable
from webapp import create_app
from webapp.extensions import make_engine
from webapp.migrate import upgrade

pytest_plugins = ["tests.plugins.fake_stripe", "tests.plugins.smtp", "tests.faults.report"]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny costs in tests: same code path, a fraction of the time.

    tests/unit/test_passwords.py checks the production parameters.
    """
    from argon2 import PasswordHasher

    from webapp.accounts import service

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(service, "_hasher", cheap)
    monkeypatch.setattr(service, "_DUMMY_HASH", cheap.hash("timing-dummy"))


@pytest.fixture(autouse=True)
def rates_through_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholder ECB and legal rates for the half-years after the last published one.

    The tests run on today's clock, and a half-year missing from the rate table
    stops penalty computation (issue 11). These copies of the last known rate
    (source "test placeholder") exist only in the tests; tests/unit/test_penalties.py
    checks the refusal itself. `REAL_RATE_TABLE` keeps the unpatched function.
    """
    from datetime import date

    from billing.db import utcnow
    from billing.dunning import rates
    from webapp.dunning import late_payment

    real = late_payment.rate_table
    horizon = utcnow().date().year + 3

    def with_placeholders(session: Session) -> rates.RateTable:
        table = real(session)
        known = table.rates()
        extra = []
        for kind in rates.KINDS:
            last = max((r for r in known if r.kind == kind), key=lambda r: r.valid_from)
            for year in range(last.valid_from.year, horizon):
                for month in (1, 7):
                    start = date(year, month, 1)
                    if start > last.valid_from:
                        extra.append(rates.Rate(kind, start, last.rate_bp, "test placeholder"))
        return rates.RateTable([*known, *extra])

    monkeypatch.setattr(late_payment, "rate_table", with_placeholders)
    monkeypatch.setattr(late_payment, "REAL_RATE_TABLE", real, raising=False)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test copies it (fast, isolated)."""
    path = tmp_path_factory.mktemp("template") / "acompte.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


def base_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """The settings a test app runs with: no real network, a throwaway everything."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "BASE_URL": "http://127.0.0.1:5000",
        "STRIPE_API_BASE": "http://127.0.0.1:9",  # nothing listens: tests opt in
        "STRIPE_SECRET_KEY": "sk_test_instance",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_instance",
        "STRIPE_WEBHOOK_SECRET": "whsec_instance_secret",
        "HUEY_URL": f"sqlite:///{tmp_path / 'huey.sqlite'}",
        "SMTP_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "ENCRYPTION_KEYS": None,
        "EINVOICE_OUTBOX": str(tmp_path / "einvoice-outbox"),
    }


@pytest.fixture
def database_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "acompte.sqlite"
    shutil.copy(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Override in a test module to change settings before the app is built."""
    return base_config(database_url, tmp_path)


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app, with no context pushed: each test request gets its own, as in production."""
    from webapp.extensions import db, limiter

    app = create_app(app_config)
    limiter.reset()
    yield app
    db.session.remove()
    db.engine.dispose()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An application context, for tests that call app code directly (not via a client)."""
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session of the test's own, separate from the requests' sessions."""
    from webapp.extensions import db

    with db.new_session() as session:
        yield session


_seq = count(1)


@pytest.fixture
def make_freelancer(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """A factory: signs a freelancer up through the API and returns id, slug, token, headers."""

    def make(**overrides: Any) -> dict[str, Any]:
        n = next(_seq)
        body = {
            "email": f"freelancer{n}@example.test",
            "password": "correct horse battery",
            "display_name": f"Freelancer {n}",
            "slug": f"freelancer-{n}",
        }
        body.update(overrides)
        created = client.post("/api/v1/signup", json=body)
        assert created.status_code == 201, created.get_json()
        token = client.post(
            "/api/v1/tokens", json={"email": body["email"], "password": body["password"]}
        )
        assert token.status_code == 201, token.get_json()
        value = token.get_json()["token"]
        return {
            **created.get_json(),
            **body,
            "token": value,
            "headers": {"Authorization": f"Bearer {value}"},
        }

    return make


# --- PostgreSQL -------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> str:
    """TEST_DATABASE_URL, or a skip with the reason (a failure when REQUIRE_POSTGRES=1)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        unavailable(
            "postgres",
            "PostgreSQL tests need TEST_DATABASE_URL "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)",
        )
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return worker_database(url, worker) if worker else url


def worker_database(url: str, worker: str) -> str:
    """`<name>_<worker>` on the same server, created if missing: one per xdist worker.

    Every PostgreSQL test drops and recreates its database, so two workers
    sharing one would wipe each other's tables mid-test.
    """
    return sibling_database(url, worker)


def sibling_database(url: str, suffix: str) -> str:
    """The URL of `<name>_<suffix>` on `url`'s server, created if missing."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{suffix}"
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema: every PostgreSQL test starts empty."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _admin_engine(url: str) -> Any:
    """An autocommit engine on the server's `postgres` database (CREATE/DROP DATABASE)."""
    from sqlalchemy.engine import make_url

    return make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )


def _recreate(url: str, name: str, template: str | None = None) -> None:
    """Drop database `name` on `url`'s server and create it again (empty, or from `template`).

    FORCE: a connection an earlier test leaked must not keep its data alive.
    """
    admin = _admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            source = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{source}'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> str:
    """`<name>_template`: migrated to head once per test process, cloned by every test.

    Migrating from empty takes seconds (twenty-odd revisions); a clone of a
    migrated database takes a fraction of one.
    """
    from sqlalchemy.engine import make_url

    base = make_url(pg_url)
    name = f"{base.database}_template"
    _recreate(pg_url, name)
    upgrade(base.set(database=name).render_as_string(hide_password=False))
    return name


@pytest.fixture
def pg_database_url(pg_url: str, pg_template: str) -> str:
    """A migrated, empty PostgreSQL database for one test: a fresh clone of the template."""
    from sqlalchemy.engine import make_url

    _recreate(pg_url, make_url(pg_url).database, template=pg_template)
    return pg_url


@pytest.fixture
def pg_app(pg_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on PostgreSQL (no context pushed)."""
    from webapp.extensions import db, limiter

    app = create_app(base_config(pg_database_url, tmp_path))
    limiter.reset()
    yield app
    db.session.remove()
    db.engine.dispose()
