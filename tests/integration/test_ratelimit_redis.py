"""The Stripe rate limiter for real: shared through Redis, and in the gateway.

- Two processes on one Redis stay under the account's rate together (Redis
  database 14; skipped with the reason when Redis is unreachable, a failure
  when REQUIRE_REDIS=1).
- `StripeGateway` takes one slot per HTTP attempt, 429 retries included
  (localstripe behind the recording proxy).
- `gateway_for` gives each gateway the limiter of its account, on Redis when
  `HUEY_URL` is Redis.

Timing: lower bounds on elapsed time only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest

from billing.credentials import StripeCredentials
from billing.gateway.ratelimit import AccountRateLimiter, shared_storage
from billing.gateway.stripe_adapter import StripeGateway
from tests.plugins.fake_stripe import PROJECT_ROOT, TEST_SECRET_KEY
from tests.support.recording_proxy import RecordingProxy
from tests.support.requirements import unavailable

REDIS_URL = "redis://127.0.0.1:6379/14"
# Redis database 14 is this file's alone: its tests run in one test worker, one by one.
pytestmark = pytest.mark.xdist_group("redis-db-14")


@pytest.fixture(scope="module")
def redis_url() -> str:
    """Redis database 14; a visible skip (or a CI failure) when Redis is unreachable."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable("redis", f"Redis at {REDIS_URL} is unreachable ({exc})")
    finally:
        client.close()
    return REDIS_URL


def account() -> str:
    """A fresh account key: nothing left over from another run shares its window."""
    return f"stripe:test:{uuid.uuid4().hex}"


# One worker on its own machine, as far as the limiter can tell: its own
# process, its own Redis connection. It starts at an agreed wall-clock time so
# that both bursts overlap, and reports what it got.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from billing.gateway.ratelimit import AccountRateLimiter, shared_storage

    url, key, rate, calls, start_at = sys.argv[1:6]
    storage = shared_storage(url)
    assert storage.check()  # connected before the start line
    limiter = AccountRateLimiter(key, int(rate), storage=storage, max_wait=60)
    time.sleep(max(float(start_at) - time.time(), 0))
    taken = [limiter.acquire() for _ in range(int(calls))]
    print(json.dumps({"taken": taken, "finished": time.time()}))
    """
)


def test_two_processes_on_one_redis_share_the_rate(redis_url: str) -> None:
    # 10/s for the account, 15 calls from each of two processes: 30 calls need
    # three windows together (>= 2 s); apart, each would be done in one second.
    key, rate, calls = account(), 10, 15
    start_at = time.time() + 3.0  # both interpreters are up and connected by then
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, key, str(rate), str(calls), str(start_at)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        reports.append(json.loads(out))

    # every call waited for a real slot (none went ahead on the wait bound)...
    assert all(all(report["taken"]) for report in reports)
    # ...and together they took the time of 30 calls at 10/s, not of 15
    assert max(report["finished"] for report in reports) - start_at >= 1.9


def test_two_limiters_on_one_redis_share_the_budget(redis_url: str) -> None:
    # a minute-long window: no timing involved at all
    key, sleeps = account(), []
    first, second = (
        AccountRateLimiter(
            key,
            3,
            per_seconds=60,
            storage=shared_storage(redis_url),
            max_wait=0.5,
            sleep=sleeps.append,
        )
        for _ in range(2)
    )
    other = AccountRateLimiter(
        account(), 3, per_seconds=60, storage=shared_storage(redis_url), sleep=sleeps.append
    )
    assert [first.acquire(), second.acquire(), first.acquire()] == [True] * 3
    assert all(other.acquire() for _ in range(3))  # another account: its own budget
    assert sleeps == []
    assert second.acquire() is False  # the shared budget is spent
    assert sleeps


# --- in the gateway ------------------------------------------------------------


class RecordingLimiter:
    """Counts the slots the gateway asks for, and how many requests had reached the wire."""

    def __init__(self, proxy: RecordingProxy) -> None:
        self.proxy = proxy
        self.seen_before: list[int] = []

    def acquire(self) -> bool:
        self.seen_before.append(len(self.proxy.requests))
        return True


@pytest.fixture
def proxy(localstripe_url: str) -> Iterator[RecordingProxy]:
    with RecordingProxy(localstripe_url) as proxy:
        yield proxy


@pytest.mark.stripe
def test_the_gateway_takes_a_slot_before_each_http_attempt(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = RecordingLimiter(proxy)
    monkeypatch.setattr(StripeGateway, "RATE_LIMIT_BASE_DELAY", 0.01)  # the 429 path, fast
    with StripeGateway(
        TEST_SECRET_KEY, api_base=proxy.url, max_network_retries=2, rate_limiter=limiter
    ) as gateway:
        proxy.fail_next(2, status=429)
        customer = gateway.create_customer(
            email="rl@example.test", name="RL", idempotency_key=f"c-{uuid.uuid4().hex}"
        )
        gateway.check_connection()

    assert customer.startswith("cus_")
    outcomes = [r.outcome for r in proxy.requests]
    assert outcomes == ["failed:429", "failed:429", "forwarded", "forwarded"]
    # one slot per attempt, each taken before its request went out
    assert limiter.seen_before == [0, 1, 2, 3]


@pytest.mark.stripe
def test_a_real_limiter_paces_the_gateway(localstripe_url: str) -> None:
    limiter = AccountRateLimiter(account(), 3, storage=shared_storage("memory://"))
    with StripeGateway(TEST_SECRET_KEY, api_base=localstripe_url, rate_limiter=limiter) as gateway:
        started = time.monotonic()
        for _ in range(4):
            gateway.check_connection()
    assert time.monotonic() - started >= 0.95  # the fourth waited for the window


# --- wiring --------------------------------------------------------------------


def test_gateway_for_limits_each_account(app_ctx) -> None:
    from webapp.stripe_connect import gateway_for

    keys = StripeCredentials("sk_test_wired", "pk", "whsec", "http://127.0.0.1:9")
    gateway = gateway_for(keys)
    limiter = gateway._rate_limiter
    assert limiter.key == f"stripe:{keys.account_ref}"
    assert limiter.requests == 25  # test keys, no setting
    assert limiter._window.storage is shared_storage("memory://")  # HUEY_URL is SQLite
    gateway.close()


def test_gateway_for_counts_in_redis_when_the_queue_is_on_redis(app_ctx, redis_url: str) -> None:
    from webapp.stripe_connect import gateway_for

    app_ctx.config.update(HUEY_URL=redis_url, STRIPE_REQUESTS_PER_SECOND=7)
    gateway = gateway_for(StripeCredentials("sk_test_r", "pk", "whsec", "http://127.0.0.1:9"))
    limiter = gateway._rate_limiter
    assert limiter.requests == 7
    assert limiter._window.storage is shared_storage(redis_url)
    assert limiter.acquire() is True
    gateway.close()


def test_a_zero_rate_means_no_limiter(app_ctx) -> None:
    from webapp.stripe_connect import gateway_for

    app_ctx.config["STRIPE_REQUESTS_PER_SECOND"] = 0
    gateway = gateway_for(StripeCredentials("sk_test_z", "pk", "whsec", "http://127.0.0.1:9"))
    assert gateway._rate_limiter is None
    gateway.close()
