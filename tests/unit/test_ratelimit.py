"""The proactive Stripe rate limiter on in-process storage (no I/O).

Timing: only lower bounds on elapsed time; everything else uses a fake clock
(the `sleep` it is given advances it) or a window of a minute, so a loaded
machine cannot make these tests fail.
"""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from limits.storage import MemoryStorage

from billing.credentials import StripeCredentials
from billing.gateway.ratelimit import (
    MEMORY,
    AccountRateLimiter,
    limiter_for,
    shared_storage,
    storage_url,
)


class FakeClock:
    """`clock` and `sleep` for a limiter: sleeping moves the clock, records, returns at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def account() -> str:
    """A key of its own per test: the memory storage is shared by the whole process."""
    return f"stripe:test:{uuid.uuid4().hex}"


def creds(secret_key: str, api_base: str | None = None) -> StripeCredentials:
    return StripeCredentials(secret_key, "pk", "whsec", api_base)


def test_a_burst_beyond_the_rate_waits_for_the_window() -> None:
    # 5 per second: calls 6 to 8 wait until the first ones are a second old
    limiter = AccountRateLimiter(account(), 5, storage=MemoryStorage())
    started = time.monotonic()
    taken = [limiter.acquire() for _ in range(8)]
    assert taken == [True] * 8
    assert time.monotonic() - started >= 0.95


def test_two_bursts_beyond_the_rate_take_two_windows() -> None:
    limiter = AccountRateLimiter(account(), 4, storage=MemoryStorage())
    started = time.monotonic()
    assert all(limiter.acquire() for _ in range(9))
    assert time.monotonic() - started >= 1.95


def test_two_accounts_do_not_share_a_budget() -> None:
    storage, clock = MemoryStorage(), FakeClock()
    first, second = account(), account()

    def limiter(key: str) -> AccountRateLimiter:
        return AccountRateLimiter(
            key, 3, per_seconds=60, storage=storage, clock=clock, sleep=clock.sleep, max_wait=1
        )

    assert all(limiter(first).acquire() for _ in range(3))
    assert all(limiter(second).acquire() for _ in range(3))
    assert clock.sleeps == []  # neither waited for the other
    # ...and each one's own budget is spent
    assert limiter(first).acquire() is False
    assert clock.sleeps


def test_instances_on_one_storage_share_the_budget() -> None:
    storage, clock, key = MemoryStorage(), FakeClock(), account()
    a, b = (
        AccountRateLimiter(
            key, 2, per_seconds=60, storage=storage, clock=clock, sleep=clock.sleep, max_wait=1
        )
        for _ in range(2)
    )
    assert a.acquire() and b.acquire()
    assert clock.sleeps == []
    assert b.acquire() is False


def test_the_wait_is_bounded_then_the_request_goes_ahead(caplog) -> None:
    clock = FakeClock()
    limiter = AccountRateLimiter(
        account(),
        1,
        per_seconds=60,
        storage=MemoryStorage(),
        clock=clock,
        sleep=clock.sleep,
        max_wait=2.5,
    )
    assert limiter.acquire() is True
    with caplog.at_level(logging.WARNING, logger="billing.gateway.ratelimit"):
        assert limiter.acquire() is False
    # a slot is a minute away: it waits exactly the bound, no more
    assert sum(clock.sleeps) == pytest.approx(2.5)
    assert "sending anyway" in caplog.text


class BrokenStorage(MemoryStorage):
    """A storage that cannot be reached (Redis down)."""

    def acquire_entry(self, *args: object, **kwargs: object) -> bool:
        raise ConnectionError("Redis is down")


def test_a_broken_storage_never_raises_into_payment_code(caplog) -> None:
    limiter = AccountRateLimiter(account(), 5, storage=BrokenStorage())
    with caplog.at_level(logging.WARNING, logger="billing.gateway.ratelimit"):
        assert limiter.acquire() is False
    assert "unavailable" in caplog.text


@pytest.mark.parametrize(
    "secret_key, api_base, configured, expected",
    [
        ("sk_test_abc", None, None, 25),
        ("rk_test_abc", None, None, 25),
        ("sk_test_abc", "http://127.0.0.1:8420", None, 25),  # the fake server
        ("sk_live_abc", None, None, 90),
        ("rk_live_abc", None, None, 90),
        ("sk_live_abc", "http://127.0.0.1:8420", None, 25),  # not real Stripe: the safe side
        ("sk_live_abc", None, 40, 40),
        ("sk_test_abc", None, 5, 5),
    ],
)
def test_the_rate_by_mode_or_setting(secret_key, api_base, configured, expected) -> None:
    keys = creds(secret_key, api_base)
    limiter = limiter_for(keys, requests_per_second=configured)
    assert limiter is not None
    assert limiter.requests == expected
    assert limiter.key == f"stripe:{keys.account_ref}"


def test_zero_turns_the_limiter_off() -> None:
    assert limiter_for(creds("sk_test_abc"), requests_per_second=0) is None


def test_storage_is_built_once_per_url() -> None:
    assert shared_storage(MEMORY) is shared_storage(MEMORY)
    one = limiter_for(creds("sk_test_one"))
    other = limiter_for(creds("sk_test_two"))
    assert one is not None and other is not None
    assert one._window.storage is other._window.storage


@pytest.mark.parametrize(
    "huey_url, expected",
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://cache.example:6380/1", "rediss://cache.example:6380/1"),
        ("sqlite:///instance/huey.sqlite", MEMORY),
        (None, MEMORY),
    ],
)
def test_redis_only_when_the_queue_is_on_redis(huey_url, expected) -> None:
    assert storage_url(huey_url) == expected
