"""Slots benchmark: the cost follows the bookings in the requested window, not the history.

`python -m bench.slots` fills a throwaway SQLite database with 10, 1 000 and
100 000 past bookings of one freelancer (plus a fixed handful in the coming
week), then times `service.slots_for` over a 7-day window.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench.rows import booking_row
from billing.db import utcnow
from webapp.accounts.models import Freelancer
from webapp.booking import service
from webapp.booking.models import Availability, Booking, Offering
from webapp.extensions import make_engine
from webapp.migrate import upgrade

SIZES = (10, 1_000, 100_000)
RUNS = 20


def _fill(session: Session, freelancer: Freelancer, offering: Offering, history: int) -> None:
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    rows = []
    for n in range(history):
        start = now - timedelta(hours=2 * (n + 1))
        rows.append(booking_row(freelancer.id, offering.id, start, "completed", f"h{n}"))
    for n in range(5):
        start = now + timedelta(days=n + 1, hours=3)
        rows.append(booking_row(freelancer.id, offering.id, start, "confirmed", f"u{n}"))
    for chunk in range(0, len(rows), 10_000):
        session.execute(insert(Booking), rows[chunk : chunk + 10_000])
    session.commit()


def measure(history: int, workdir: Path) -> tuple[float, int]:
    """Median milliseconds of one 7-day slots query, and the slots found."""
    url = f"sqlite:///{workdir / f'bench-{history}.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        freelancer = Freelancer(
            email="b@example.test",
            password_hash="!",  # noqa: S106 (no login: not a password)
            display_name="B",
            slug="bench",
        )
        session.add(freelancer)
        session.flush()
        week = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)]
        session.add(Availability(freelancer_id=freelancer.id, timezone="UTC", weekly=week))
        offering = Offering(
            freelancer_id=freelancer.id,
            title="Call",
            duration_minutes=60,
            amount_minor=1_000,
            currency="eur",
            payment_policy="prepay",
            min_notice_minutes=0,
        )
        session.add(offering)
        session.commit()
        _fill(session, freelancer, offering, history)
        start = datetime.now(UTC)
        timings = []
        for _ in range(RUNS):
            began = time.perf_counter()
            found = service.slots_for(
                session, freelancer, offering, start, start + timedelta(days=7)
            )
            timings.append((time.perf_counter() - began) * 1000)
            session.rollback()
    engine.dispose()
    timings.sort()
    return timings[len(timings) // 2], len(found)


def main() -> None:
    """Print the median time per history size."""
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'bookings in history':>20} {'median ms (7-day window)':>26} {'slots':>6}")
        for size in SIZES:
            ms, slots = measure(size, Path(tmp))
            print(f"{size:>20,} {ms:>26.2f} {slots:>6}")


if __name__ == "__main__":
    main()
