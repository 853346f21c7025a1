"""Slot computation: pure, across DST changes and zones, with buffers, notice and horizon."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from webapp.booking.slots import Rules, SlotSpec, free_slots, window_of_days

PARIS = ZoneInfo("Europe/Paris")
HOUR = timedelta(hours=1)
YEAR = timedelta(days=365)
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def weekly(start="09:00", end="12:00", days=range(7)):
    return [{"weekday": d, "start": start, "end": end} for d in days]


def slots_on(day: date, rules: Rules, spec: SlotSpec, *, busy=(), now=NOW, tz="Europe/Paris"):
    start, end = window_of_days(day, day, tz)
    return free_slots(rules, spec, busy=busy, window_start=start, window_end=end, now=now)


@pytest.mark.parametrize(
    "day, offset",
    [
        (date(2026, 3, 28), 1),  # the day before spring forward: CET
        (date(2026, 3, 29), 2),  # spring forward (02:00 → 03:00): CEST
        (date(2026, 10, 24), 2),  # the day before fall back: CEST
        (date(2026, 10, 25), 1),  # fall back (03:00 → 02:00): CET
    ],
)
def test_wall_clock_hours_survive_dst(day, offset):
    # given 09:00–12:00 in Paris every day, one-hour sessions
    rules = Rules("Europe/Paris", weekly())
    # when
    slots = slots_on(day, rules, SlotSpec(duration=HOUR, horizon=YEAR))
    # then the slots stay at 09, 10 and 11 o'clock local, whatever the UTC offset
    assert [s.start.astimezone(PARIS).hour for s in slots] == [9, 10, 11]
    assert [s.start.hour for s in slots] == [9 - offset, 10 - offset, 11 - offset]


def test_night_interval_on_spring_forward_day_is_one_hour_shorter():
    rules = Rules("Europe/Paris", weekly("00:00", "06:00"))
    slots = slots_on(date(2026, 3, 29), rules, SlotSpec(duration=HOUR, horizon=YEAR))
    # 00–06 local that night lasts 5 real hours: 00, 01, 03, 04, 05 local
    assert [s.start.astimezone(PARIS).hour for s in slots] == [0, 1, 3, 4, 5]


def test_night_interval_on_fall_back_day_is_one_hour_longer():
    rules = Rules("Europe/Paris", weekly("00:00", "06:00"))
    slots = slots_on(date(2026, 10, 25), rules, SlotSpec(duration=HOUR, horizon=YEAR), now=NOW)
    assert len(slots) == 7
    assert [s.start.astimezone(PARIS).hour for s in slots] == [0, 1, 2, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "client_tz, expected_local_hours",
    [("America/New_York", [3, 4, 5]), ("Asia/Tokyo", [16, 17, 18]), ("Europe/Paris", [9, 10, 11])],
)
def test_same_slots_seen_from_other_zones(client_tz, expected_local_hours):
    # given Paris hours on 2026-03-30 (CEST); New York is on EDT since 03-08, Tokyo has no DST
    rules = Rules("Europe/Paris", weekly())
    start, end = window_of_days(date(2026, 3, 30), date(2026, 3, 30), client_tz)
    slots = free_slots(
        rules,
        SlotSpec(duration=HOUR, horizon=YEAR),
        busy=(),
        window_start=start,
        window_end=end,
        now=NOW,
    )
    zone = ZoneInfo(client_tz)
    assert [s.start.astimezone(zone).hour for s in slots] == expected_local_hours
    assert all(s.start.astimezone(zone).date() == date(2026, 3, 30) for s in slots)


def test_new_york_between_the_two_dst_switches():
    # 2026-03-10: New York already on EDT (-4), Paris still on CET (+1): 5 hours apart, not 6
    rules = Rules("Europe/Paris", weekly())
    start, end = window_of_days(date(2026, 3, 10), date(2026, 3, 10), "America/New_York")
    slots = free_slots(
        rules,
        SlotSpec(duration=HOUR, horizon=YEAR),
        busy=(),
        window_start=start,
        window_end=end,
        now=NOW,
    )
    assert [s.start.astimezone(ZoneInfo("America/New_York")).hour for s in slots] == [4, 5, 6]


def test_closed_exception_and_special_hours():
    rules = Rules(
        "Europe/Paris",
        weekly(),
        exceptions=[
            {"date": "2026-04-01", "closed": True},
            {"date": "2026-04-02", "intervals": [{"start": "14:00", "end": "16:00"}]},
        ],
    )
    assert slots_on(date(2026, 4, 1), rules, SlotSpec(duration=HOUR, horizon=YEAR)) == []
    special = slots_on(date(2026, 4, 2), rules, SlotSpec(duration=HOUR, horizon=YEAR))
    assert [s.start.astimezone(PARIS).hour for s in special] == [14, 15]


def test_buffers_keep_distance_from_existing_bookings():
    rules = Rules("Europe/Paris", weekly("09:00", "13:00"))
    spec = SlotSpec(duration=HOUR, buffer_before=timedelta(minutes=15))
    # an existing booking 10:00–11:00 local, blocked 09:45–11:00
    existing = datetime(2026, 4, 6, 10, tzinfo=PARIS).astimezone(UTC)
    busy = [(existing - timedelta(minutes=15), existing + HOUR)]
    slots = slots_on(date(2026, 4, 6), rules, spec, busy=busy)
    # 09:00 would end its session at 10:00, inside the other's buffer; 11:00 starts its own
    # buffer at 10:45, inside the other session
    assert [s.start.astimezone(PARIS).hour for s in slots] == [12]


def test_touching_blocks_do_not_clash():
    rules = Rules("Europe/Paris", weekly("09:00", "12:00"))
    existing = datetime(2026, 4, 6, 10, tzinfo=PARIS).astimezone(UTC)
    slots = slots_on(
        date(2026, 4, 6),
        rules,
        SlotSpec(duration=HOUR, horizon=YEAR),
        busy=[(existing, existing + HOUR)],
    )
    assert [s.start.astimezone(PARIS).hour for s in slots] == [9, 11]


@pytest.mark.parametrize(
    "notice_minutes, offered",
    [(59, True), (60, True), (61, False)],
)
def test_minimum_notice_boundary(notice_minutes, offered):
    rules = Rules("UTC", weekly("09:00", "10:00"))
    now = datetime(2026, 4, 6, 8, 0, tzinfo=UTC)
    spec = SlotSpec(duration=HOUR, min_notice=timedelta(minutes=notice_minutes))
    slots = slots_on(date(2026, 4, 6), rules, spec, now=now, tz="UTC")
    assert bool(slots) is offered


@pytest.mark.parametrize("minutes_after_now, offered", [(-1, False), (0, True), (1, True)])
def test_horizon_boundary(minutes_after_now, offered):
    # the slot at 09:00 is exactly `horizon` away, give or take a minute
    rules = Rules("UTC", weekly("09:00", "10:00"))
    slot_start = datetime(2026, 4, 30, 9, tzinfo=UTC)
    now = slot_start - timedelta(days=10) + timedelta(minutes=minutes_after_now)
    spec = SlotSpec(duration=HOUR, horizon=timedelta(days=10))
    slots = slots_on(date(2026, 4, 30), rules, spec, now=now, tz="UTC")
    assert bool(slots) is offered


def test_end_of_day_interval_runs_to_midnight():
    rules = Rules("UTC", weekly("22:00", "24:00"))
    slots = slots_on(date(2026, 4, 6), rules, SlotSpec(duration=HOUR, horizon=YEAR), tz="UTC")
    assert [s.start.hour for s in slots] == [22, 23]
