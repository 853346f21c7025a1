"""Canned answers for the client pages' reads (`webapp.public.reads`).

Tests that check a page against the contract's shapes answer its reads with
bodies as the public JSON API gives them: `read(path, params)` returns an
`ApiAnswer` for `/api/v1/public/freelancers/{slug}` and
`/api/v1/public/bookings/{id}?manage_token=…`, and `patch_reads` routes the
pages' reads through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from webapp.public import reads


@dataclass(frozen=True)
class ApiAnswer:
    """What the API would answer: a status and its JSON body."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


Read = Callable[..., ApiAnswer]


def patch_reads(monkeypatch: pytest.MonkeyPatch, read: Read) -> None:
    """Make the pages read through `read` instead of the database."""

    def profile(slug: str) -> dict[str, Any] | None:
        answer = read(f"/api/v1/public/freelancers/{slug}")
        return {"asks": False, **answer.body} if answer.ok else None

    def booking(booking_id: int, token: str) -> dict[str, Any] | None:
        answer = read(f"/api/v1/public/bookings/{booking_id}", {"manage_token": token})
        return answer.body if answer.ok else None

    monkeypatch.setattr(reads, "profile", profile)
    monkeypatch.setattr(reads, "profile_with_key", lambda slug: (profile(slug), None))
    monkeypatch.setattr(reads, "booking", booking)
