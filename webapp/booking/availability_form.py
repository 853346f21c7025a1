"""The availability page's form: a weekly grid of time ranges and dated exceptions.

Field names: `w<day>_<n>_start` / `w<day>_<n>_end` for the n-th range of a weekday
(0 = Monday), `x<i>_date`, `x<i>_closed` and `x<i>_<n>_start` / `_end` for an
exception. `parse` turns the posted form into the API's body and remembers which
row each entry came from, so that `errors_by_row` can put every marshmallow
message next to the row it is about, in words.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError

from webapp.validation import N_

WEEKDAYS = range(7)
_WEEKLY = re.compile(r"^w([0-6])_(\d{1,2})_(start|end)$")
_EXCEPTION = re.compile(r"^x(\d{1,3})_(date|closed|(\d{1,2})_(start|end))$")
# What the schema says for the API, as a person reads it next to a row.
FRIENDLIER = {
    "Use HH:MM.": N_("Give a time such as 09:00."),
    "Must be after the start.": N_("The end must be after the start."),
    "Missing data for required field.": N_("Give both times."),
    "Give the special hours, or closed: true.": N_("Give the hours of that day, or tick Closed."),
    "A closed day has no hours.": N_("A closed day has no hours: clear them or untick Closed."),
    "Intervals of one day must not overlap.": N_("The ranges of this day overlap."),
    "One exception per date.": N_("This date is already listed."),
}


def parse(form: Any) -> tuple[dict[str, Any], dict[tuple[str, int], str]]:
    """The API body from the posted form, and which row each list entry came from."""
    ranges: dict[tuple[int, int], dict[str, str]] = {}
    exceptions: dict[int, dict[str, Any]] = {}
    for key in form:
        value = (form.get(key) or "").strip()
        if match := _WEEKLY.match(key):
            ranges.setdefault((int(match[1]), int(match[2])), {})[match[3]] = value
        elif match := _EXCEPTION.match(key):
            entry = exceptions.setdefault(int(match[1]), {"ranges": {}})
            if match[3] is not None:
                entry["ranges"].setdefault(int(match[3]), {})[match[4]] = value
            else:
                entry[match[2]] = value
    places: dict[tuple[str, int], str] = {}
    weekly = []
    for (day, n), times in sorted(ranges.items()):
        if times.get("start") or times.get("end"):
            places[("weekly", len(weekly))] = f"w{day}_{n}"
            weekly.append({"weekday": day, **_times(times)})
    dated = []
    for i, entry in sorted(exceptions.items()):
        spans = [_times(t) for _n, t in sorted(entry["ranges"].items()) if any(t.values())]
        if not (entry.get("date") or spans or entry.get("closed")):
            continue
        places[("exceptions", len(dated))] = f"x{i}"
        closed = bool(entry.get("closed"))
        dated.append({"date": entry.get("date", ""), "closed": closed, "intervals": spans})
    body = {"timezone": (form.get("timezone") or "").strip(), "weekly": weekly}
    return {**body, "exceptions": dated}, places


def _times(times: dict[str, str]) -> dict[str, str]:
    return {k: times[k] for k in ("start", "end") if times.get(k)}


def view(data: dict[str, Any]) -> dict[str, Any]:
    """The saved (or posted) availability as rows for the template."""
    days: dict[int, list[dict[str, str]]] = {day: [] for day in WEEKDAYS}
    for interval in data.get("weekly", []):
        days[int(interval["weekday"])].append(
            {"start": interval.get("start", ""), "end": interval.get("end", "")}
        )
    dated = [
        {
            "date": str(entry.get("date", "")),
            "closed": bool(entry.get("closed")),
            "ranges": list(entry.get("intervals", [])),
        }
        for entry in data.get("exceptions", [])
    ]
    return {"timezone": data.get("timezone", ""), "days": days, "exceptions": dated}


def errors_by_row(
    exc: ValidationError, places: dict[tuple[str, int], str], data: dict[str, Any]
) -> dict[str, list[str]]:
    """Each message under the row it is about: `w0_1`, `w3` (a whole day), `x2`, `timezone`."""
    out: dict[str, list[str]] = {}
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    for field, detail in messages.items():
        if field in ("weekly", "exceptions") and isinstance(detail, dict):
            for index, inner in detail.items():
                row = places.get((field, int(index)), field) if str(index).isdigit() else field
                for text in _flatten(inner):
                    out.setdefault(row, []).append(_friendly(text))
        elif field == "weekly":
            for text in _flatten(detail):
                out.setdefault(_overlapping_day(data) or field, []).append(_friendly(text))
        else:
            out.setdefault(field, []).extend(_friendly(t) for t in _flatten(detail))
    return out


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [t for value in detail.values() for t in _flatten(value)]
    if isinstance(detail, list):
        return [t for value in detail for t in _flatten(value)]
    return [str(detail)]


def _friendly(text: str) -> str:
    return FRIENDLIER.get(text, text)


def _overlapping_day(data: dict[str, Any]) -> str | None:
    """The first weekday whose ranges overlap (the schema says only "weekly")."""
    for day in WEEKDAYS:
        spans = sorted((i["start"], i["end"]) for i in data["weekly"] if i["weekday"] == day)
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
            return f"w{day}"
    return None
