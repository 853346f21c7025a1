"""run-due benchmark: 300 due items cost the same over a small and a large history.

`python -m bench.run_due` builds, per history size, a throwaway database with
that many settled rows in each table the due kinds read (completed bookings,
their captured payments and timelines, processed webhook events, sent
e-mails), plus 300 due items (pending bookings whose checkout expired), then
times one in-process `run_due` over all due kinds. Figures: median of
`ROUNDS` rebuilt runs, printed next to the small-history baseline with the goal
(issue 14: large / small ≤ 1.5×). SQLite always; PostgreSQL too when
`BENCH_DATABASE_URL` is set (its schema is dropped and rebuilt).

`BENCH_HISTORY=1000000` raises the large history (default 100 000).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.rows import booking_row, fresh_database
from billing.models import Event, Payment, PaymentCustomer, WebhookEvent
from webapp.booking.models import Booking, Offering

DUE = 300
SMALL = 1_000
LARGE = int(os.environ.get("BENCH_HISTORY", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GOAL = 1.5
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CHUNK = 10_000


def _booking(freelancer_id: int, offering_id: int, n: int, status: str, start: datetime) -> dict:
    settled = status == "completed"
    return booking_row(
        freelancer_id,
        offering_id,
        start,
        status,
        f"{status}-{n}",
        payment_state="captured" if settled else "none",
        pending_expires_at=None if settled else NOW - timedelta(hours=1),
        created_at=start - timedelta(days=2),
    )


def _chunks(session: Any, model: type, rows: list[dict]) -> None:
    for at in range(0, len(rows), CHUNK):
        session.execute(insert(model), rows[at : at + CHUNK])


def _fill(app: Any, history: int) -> None:
    """`history` settled rows per table, and DUE expired pending bookings."""
    from webapp.accounts.models import Freelancer
    from webapp.extensions import db

    with app.app_context():
        session = db.session
        freelancer = Freelancer(
            email="bench@example.test",
            password_hash="!",  # noqa: S106 (no log-in: not a password)
            display_name="Bench",
            slug="bench",
        )
        session.add(freelancer)
        session.flush()
        offering = Offering(
            freelancer_id=freelancer.id,
            title="Call",
            duration_minutes=60,
            amount_minor=1_000,
            currency="eur",
            payment_policy="prepay",
        )
        customer = PaymentCustomer(
            freelancer_id=freelancer.id, email="client@example.test", name="Client"
        )
        session.add_all([offering, customer])
        session.flush()
        past = NOW - timedelta(days=400)
        _chunks(
            session,
            Booking,
            [
                _booking(freelancer.id, offering.id, n, "completed", past + timedelta(hours=2 * n))
                for n in range(history)
            ],
        )
        first = session.execute(text("SELECT min(id) FROM booking")).scalar_one()
        _chunks(
            session,
            Payment,
            [_payment(freelancer.id, customer.id, first + n) for n in range(history)],
        )
        _chunks(
            session,
            Event,
            [
                {
                    "subject_type": "booking",
                    "subject_id": str(first + n),
                    "freelancer_id": freelancer.id,
                    "actor": "client",
                    "action": "booking_completed",
                    "data": {},
                    "occurred_at": past,
                }
                for n in range(history)
            ],
        )
        _chunks(
            session,
            WebhookEvent,
            [
                {
                    "endpoint": "instance",
                    "stripe_event_id": f"evt_bench_{n}",
                    "type": "payment_intent.succeeded",
                    "stripe_created": 0,
                    "payload": "{}",
                    "status": "processed",
                    "received_at": past,
                }
                for n in range(history)
            ],
        )
        soon = NOW + timedelta(days=3)
        _chunks(
            session,
            Booking,
            [
                _booking(
                    freelancer.id, offering.id, n, "pending_payment", soon + timedelta(hours=2 * n)
                )
                for n in range(DUE)
            ],
        )
        session.commit()


def _payment(freelancer_id: int, customer_id: int, booking_id: int) -> dict:
    return {
        "freelancer_id": freelancer_id,
        "customer_id": customer_id,
        "subject_type": "booking",
        "subject_id": str(booking_id),
        "purpose": "full",
        "amount_minor": 1_000,
        "currency": "eur",
        "capture_method": "automatic",
        "off_session": False,
        "payment_method_id": "pm_bench",
        "status": "succeeded",
        "idempotency_key": f"bench-{booking_id}",
        "stripe_payment_intent_id": f"pi_bench_{booking_id}",
        "amount_captured_minor": 1_000,
        "created_at": NOW - timedelta(days=300),
        "updated_at": NOW - timedelta(days=300),
    }


def _app(url: str, workdir: Path) -> Any:
    from billing.gateway.memory import InMemoryGateway
    from webapp import create_app

    gateway = InMemoryGateway()
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "HUEY_URL": f"sqlite:///{workdir / 'huey.sqlite'}",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SMTP_URL": None,
            "GATEWAY_FACTORY": lambda creds: gateway,
        }
    )


def measure(url: str | None, history: int, workdir: Path) -> float:
    """Seconds of one in-process run-due over DUE items and `history` settled rows."""
    from webapp.due import run_due
    from webapp.extensions import db

    url = fresh_database(url, workdir, f"run-due-{history}")
    app = _app(url, workdir)
    _fill(app, history)
    with app.app_context():
        if url.startswith("postgresql"):
            # VACUUM as well as ANALYZE: right after a bulk load, autovacuum would
            # otherwise start on the large tables during the timed run (2 cores),
            # and index-only scans would visit the heap until the visibility map is set.
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        began = time.perf_counter()
        lines: list[str] = []
        # A run takes a bounded batch per kind: run again until nothing is due, as cron would.
        while not (batch := run_due(NOW))[0].startswith("nothing due"):
            lines += batch
        took = time.perf_counter() - began
        expired = sum(1 for line in lines if line and "expired" in line)
        db.session.remove()
    db.engine.dispose()
    assert expired == DUE, f"{expired} of {DUE} due items ran"
    return took


def main() -> None:
    """Print each database's small and large history figures, their ratio and the goal."""
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["BENCH_DATABASE_URL"]))
    print(f"run-due, {DUE} due items, in process; median of {ROUNDS} rounds")
    print(f"{'database':>11} {f'{SMALL:,} rows s':>12} {f'{LARGE:,} rows s':>14} {'ratio':>6} goal")
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in targets:
            small, large = [], []
            for _ in range(ROUNDS):  # interleaved: the machine's drift hits both alike
                small.append(measure(url, SMALL, Path(tmp)))
                large.append(measure(url, LARGE, Path(tmp)))
            s, big = statistics.median(small), statistics.median(large)
            ok = "ok" if big / s <= GOAL else "MISSED"
            ratios = [b / a for a, b in zip(small, large, strict=True)]
            print(
                f"{name:>11} {s:>12.3f} {big:>14.3f} {big / s:>5.2f}× ≤ {GOAL}× {ok} "
                f"(round ratios {min(ratios):.2f}–{max(ratios):.2f}×; "
                f"load {os.getloadavg()[0]:.2f})"
            )


if __name__ == "__main__":
    main()
