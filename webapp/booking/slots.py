"""Free slots: pure functions of the availability, the offering and the busy spans.

No I/O. Times are aware datetimes; the freelancer's weekly hours are wall-clock
times in their zone, so a 09:00–12:00 Monday stays 09:00–12:00 across
daylight-saving changes. The cost is proportional to the candidate slots and
the busy spans *of the requested window* (the caller reads only those).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Longest span a booking can reach before its start or after it (duration
# plus buffers): reads of busy spans widen the window by this much.
MAX_SPAN = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Rules:
    """The bookable hours: weekly intervals and dated exceptions, in `timezone`."""

    timezone: str
    weekly: Sequence[dict]
    exceptions: Sequence[dict] = ()


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """What one offering needs around a slot."""

    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    # Distance between candidate starts; None: the duration (as Cal.com does).
    step: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable session time; `block_*` adds the buffers."""

    start: datetime
    end: datetime
    block_start: datetime
    block_end: datetime


def parse_hhmm(text: str) -> time | None:
    """'09:30' → time(9, 30); '24:00' → None (end of the day)."""
    hours, minutes = (int(part) for part in text.split(":"))
    return None if (hours, minutes) == (24, 0) else time(hours, minutes)


def _local(day: date, moment: time | None, zone: ZoneInfo) -> datetime:
    if moment is None:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    # A wall time that does not exist (spring forward) resolves with the
    # offset before the change (fold=0), i.e. one hour later on the clock.
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def open_intervals(
    rules: Rules, first_day: date, last_day: date
) -> list[tuple[datetime, datetime]]:
    """The open hours of each local day from `first_day` to `last_day`, as UTC spans."""
    zone = ZoneInfo(rules.timezone)
    exceptions = {entry["date"]: entry for entry in rules.exceptions}
    weekly: dict[int, list[dict]] = {}
    for entry in rules.weekly:
        weekly.setdefault(int(entry["weekday"]), []).append(entry)
    spans: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        exception = exceptions.get(day.isoformat())
        if exception is not None:
            intervals = [] if exception.get("closed") else exception.get("intervals", [])
        else:
            intervals = weekly.get(day.weekday(), [])
        for interval in sorted(intervals, key=lambda i: i["start"]):
            start = _local(day, parse_hhmm(interval["start"]), zone)
            end = _local(day, parse_hhmm(interval["end"]), zone)
            if end > start:
                spans.append((start, end))
        day += timedelta(days=1)
    return spans


def free_slots(
    rules: Rules,
    spec: SlotSpec,
    *,
    busy: Iterable[tuple[datetime, datetime]],
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot]:
    """Slots starting in [window_start, window_end) that fit the hours and clash with nothing.

    A slot is offered when the session lies inside an open interval, starts at
    least `min_notice` after `now` and at most `horizon` after it, and its
    buffered span overlaps no busy span (half-open: touching is fine).
    """
    earliest, latest = bounds(spec, window_start, window_end, now)
    if earliest >= latest:
        return []
    candidates = candidate_slots(rules, spec, earliest, latest)
    return [candidates[i] for i in free_indexes(candidates, busy, earliest, latest)]


def bounds(
    spec: SlotSpec, window_start: datetime, window_end: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """[earliest, latest): the part of the window that `now`, the notice and the horizon allow."""
    earliest = max(window_start, now + spec.min_notice)
    latest = min(window_end, now + spec.horizon + timedelta(microseconds=1))
    return earliest, latest


def candidate_slots(
    rules: Rules, spec: SlotSpec, window_start: datetime, window_end: datetime
) -> list[Slot]:
    """Every slot the hours allow starting in [window_start, window_end), busy or not.

    Depends only on the rules, the offering and the window, so the slots API
    keeps it per public version (`webapp.public.slots_window`)."""
    zone = ZoneInfo(rules.timezone)
    first_day = (window_start.astimezone(zone) - timedelta(days=1)).date()
    last_day = window_end.astimezone(zone).date()
    step = spec.step or spec.duration
    slots: list[Slot] = []
    for open_start, open_end in open_intervals(rules, first_day, last_day):
        start = open_start
        while start + spec.duration <= open_end:
            if window_start <= start < window_end:
                end = start + spec.duration
                slots.append(Slot(start, end, start - spec.buffer_before, end + spec.buffer_after))
            start += step
    return slots


def free_indexes(
    candidates: Sequence[Slot],
    busy: Iterable[tuple[datetime, datetime]],
    earliest: datetime,
    latest: datetime,
) -> list[int]:
    """Positions of the candidates starting in [earliest, latest) that clash with no busy span."""
    spans = sorted(busy)
    starts = [s for s, _ in spans]
    # A busy span starts after the previous one's start; for overlap checks we
    # need the furthest end seen so far.
    max_end: list[datetime] = []
    for _, end in spans:
        max_end.append(end if not max_end or end > max_end[-1] else max_end[-1])
    return [
        i
        for i, slot in enumerate(candidates)
        if earliest <= slot.start < latest
        and not _clashes((slot.block_start, slot.block_end), starts, max_end)
    ]


def _clashes(
    block: tuple[datetime, datetime], starts: list[datetime], max_end: list[datetime]
) -> bool:
    # Spans starting before the block ends; the last of them with the largest
    # end tells whether any still runs when the block begins.
    i = bisect_left(starts, block[1])
    return i > 0 and max_end[i - 1] > block[0]


def is_offered(slot_start: datetime, slots: Sequence[Slot]) -> Slot | None:
    """The slot starting exactly at `slot_start`, if offered."""
    for slot in slots:
        if slot.start == slot_start:
            return slot
    return None


def window_of_days(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """From 00:00 on `first` to 24:00 on `last`, in the zone `tz`, as UTC."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end
