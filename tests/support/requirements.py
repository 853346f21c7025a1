"""One rule for tests that need an outside service (PostgreSQL, Redis, Chromium).

Without the service, the test is skipped with a visible reason on a developer's
machine; CI sets `REQUIRE_<NAME>=1` (see .ci/run) and the same absence is a
failure there, so nothing is silently left untested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest


def required(name: str) -> bool:
    """Whether CI demands the service `name` (REQUIRE_POSTGRES, REQUIRE_REDIS, …)."""
    return os.environ.get(f"REQUIRE_{name.upper()}") == "1"


def unavailable(name: str, reason: str) -> NoReturn:
    """Fail when the service is required, else skip, always saying why."""
    if not required(name):
        # Only on a machine without the service, where CI's REQUIRE_* is not set.
        pytest.skip(f"{reason} (set REQUIRE_{name.upper()}=1 to make this a failure)")
    pytest.fail(f"REQUIRE_{name.upper()}=1 but {reason}")


@contextmanager
def empty_redis(url: str) -> Iterator[str]:
    """A Redis database (`redis://host:port/<db>`), emptied before and after.

    Unreachable: skipped with the reason, or a failure when REQUIRE_REDIS=1.
    Each test module uses a database number of its own.
    """
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        unavailable("redis", f"Redis at {url} is unreachable ({exc})")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
