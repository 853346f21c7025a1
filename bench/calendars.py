"""Calendars benchmark: slot requests cost the same with 0 and 5 connected calendars.

`python -m bench.calendars` fills a throwaway SQLite database: one freelancer,
open 08:00–20:00 every day, then times `service.slots_for` over a 7-day
window (a) with no calendar and (b) with 5 connected calendars of 5,000
events each (a weekly meeting series plus one-off events over four years,
two back and two ahead), read the way the sync reads them: parsed and
expanded by `busy.busy_spans`, stored by `store.replace_busy`. Slot
requests read stored rows only, so the goal is the baseline's time, within
25 % or 1 ms. The sync's own cost (off the request path) is printed too,
against its goal: one calendar read well within the one-minute sync period.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.db import utcnow
from webapp.accounts.models import Freelancer
from webapp.booking import service
from webapp.booking.models import Availability, Offering
from webapp.calendars import busy, store
from webapp.calendars.models import BusyTime, CalendarConnection, ConnectedCalendar
from webapp.extensions import make_engine
from webapp.migrate import upgrade

CALENDARS = 5
EVENTS = 5_000
RUNS = 30
SLOT_GOAL_RATIO, SLOT_GOAL_SLACK_MS = 1.25, 1.0
SYNC_GOAL_S = 10.0


def calendar_document(seed: int, now: datetime) -> bytes:
    """An ICS document of `EVENTS` events: a weekly series and one-off events."""
    first = (now - timedelta(days=730)).replace(minute=0, second=0, microsecond=0)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//calendars//EN"]
    stamp = "DTSTAMP:20260101T000000Z"
    lines += [
        "BEGIN:VEVENT",
        f"UID:weekly-{seed}@bench",
        stamp,
        f"DTSTART:{(first + timedelta(hours=seed)).strftime('%Y%m%dT%H%M%SZ')}",
        "DURATION:PT1H",
        "RRULE:FREQ=WEEKLY;COUNT=208",
        "END:VEVENT",
    ]
    step = timedelta(days=4 * 365) / (EVENTS - 1)
    for n in range(EVENTS - 1):
        start = first + step * n + timedelta(minutes=17 * seed)
        lines += [
            "BEGIN:VEVENT",
            f"UID:one-off-{seed}-{n}@bench",
            stamp,
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{(start + timedelta(minutes=45)).strftime('%Y%m%dT%H%M%SZ')}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _setup(session: Session) -> tuple[Freelancer, Offering]:
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
        buffer_before_minutes=10,
        buffer_after_minutes=10,
    )
    session.add(offering)
    session.commit()
    return freelancer, offering


def _time_slots(session: Session, freelancer: Freelancer, offering: Offering) -> tuple[float, int]:
    start = datetime.now(UTC)
    timings = []
    for _ in range(RUNS):
        began = time.perf_counter()
        found = service.slots_for(session, freelancer, offering, start, start + timedelta(days=7))
        timings.append((time.perf_counter() - began) * 1000)
        session.rollback()
    timings.sort()
    return timings[len(timings) // 2], len(found)


def _connect(session: Session, freelancer: Freelancer, now: datetime) -> tuple[float, int]:
    """Read and store the 5 calendars as the sync does; the slowest read, in seconds."""
    window = (now - timedelta(days=1), now + timedelta(days=offering_horizon(session) + 1))
    slowest = 0.0
    for seed in range(CALENDARS):
        connection = CalendarConnection(
            freelancer_id=freelancer.id, kind="ics", url=f"https://bench.test/{seed}.ics"
        )
        session.add(connection)
        session.flush()
        calendar = ConnectedCalendar(
            connection_id=connection.id,
            freelancer_id=freelancer.id,
            url=connection.url,
            name=f"Bench {seed}",
        )
        session.add(calendar)
        session.flush()
        document = calendar_document(seed, now)
        began = time.perf_counter()
        spans = busy.busy_spans(busy.parse(document), window, ZoneInfo("UTC"))
        store.replace_busy(session, calendar, spans)
        session.commit()
        slowest = max(slowest, time.perf_counter() - began)
    stored = session.scalar(select(func.count()).select_from(BusyTime)) or 0
    return slowest, stored


def offering_horizon(session: Session) -> int:
    return session.scalar(select(func.max(Offering.horizon_days))) or 60


def measure(workdir: Path) -> dict[str, float]:
    """Slots' median ms with 0, then 5 calendars; the sync's slowest calendar read."""
    url = f"sqlite:///{workdir / 'bench-calendars.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        freelancer, offering = _setup(session)
        baseline_ms, baseline_slots = _time_slots(session, freelancer, offering)
        sync_s, stored = _connect(session, freelancer, utcnow())
        loaded_ms, loaded_slots = _time_slots(session, freelancer, offering)
    engine.dispose()
    return {
        "baseline_ms": baseline_ms,
        "baseline_slots": baseline_slots,
        "loaded_ms": loaded_ms,
        "loaded_slots": loaded_slots,
        "sync_s": sync_s,
        "stored": stored,
    }


def main() -> None:
    """Print each figure beside its baseline and its goal."""
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(Path(tmp))
    goal_ms = max(m["baseline_ms"] * SLOT_GOAL_RATIO, m["baseline_ms"] + SLOT_GOAL_SLACK_MS)
    print(f"slots over 7 days, median of {RUNS} (SQLite)")
    print(f"{'case':>34} {'ms':>8} {'baseline':>9} {'goal':>9} {'slots':>6}")
    print(
        f"{'0 calendars':>34} {m['baseline_ms']:>8.2f} {m['baseline_ms']:>9.2f} "
        f"{'—':>9} {m['baseline_slots']:>6}"
    )
    verdict = "ok" if m["loaded_ms"] <= goal_ms else "OVER GOAL"
    print(
        f"{f'{CALENDARS} calendars x {EVENTS:,} events':>34} {m['loaded_ms']:>8.2f} "
        f"{m['baseline_ms']:>9.2f} {f'<= {goal_ms:.2f}':>9} {m['loaded_slots']:>6}  {verdict}"
    )
    print(f"  busy rows stored for the booking horizon: {m['stored']:,}")
    verdict = "ok" if m["sync_s"] <= SYNC_GOAL_S else "OVER GOAL"
    print(
        f"sync, one {EVENTS:,}-event calendar parsed, expanded and stored: "
        f"{m['sync_s']:.2f} s (goal <= {SYNC_GOAL_S:.0f} s, the sync runs every minute)  {verdict}"
    )


if __name__ == "__main__":
    main()
