"""A proactive limit on our requests to Stripe, per Stripe account.

Stripe allows about 100 requests/s per account live and 25/s in test mode, and
answers the excess with 429s. Backing off on 429 works, but a sweep over
thousands of payments would hit the limit continuously (and starve the web
requests of the same account), so every HTTP attempt first takes a slot in a
moving window of one second, keyed by the account (`stripe:<account_ref>`).

The window lives in a `limits` storage: Redis when the worker queue is on
Redis, so every worker and web node on every machine shares one budget per
account; process memory otherwise (one machine, one budget per process). The
Redis moving window stamps entries with each client's wall clock: machines
must keep their clocks in sync (NTP), or a fast clock gets a little more.

The limiter never raises into payment code: when no slot frees within
`max_wait`, or the storage is unreachable, it logs and lets the request go
(Stripe's 429 and our backoff remain the last line).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from limits import RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

if TYPE_CHECKING:
    from billing.credentials import StripeCredentials

log = logging.getLogger(__name__)

# Just under Stripe's published limits, leaving room for the dashboard and
# anything else using the same keys.
LIVE_REQUESTS_PER_SECOND = 90
TEST_REQUESTS_PER_SECOND = 25
DEFAULT_MAX_WAIT = 5.0
MEMORY = "memory://"


class RateLimiter(Protocol):
    """What `StripeGateway` needs: one call before each HTTP attempt."""

    def acquire(self) -> bool: ...


class AccountRateLimiter:
    """At most `requests` per `per_seconds` for one account key, shared through `storage`."""

    def __init__(
        self,
        key: str,
        requests: int,
        *,
        storage: Storage,
        per_seconds: int = 1,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.requests = requests
        self.max_wait = max_wait
        self._item = RateLimitItemPerSecond(requests, per_seconds, namespace="acompte")
        self._window = MovingWindowRateLimiter(storage)
        self._sleep = sleep
        self._clock = clock

    def acquire(self) -> bool:
        """Wait for a free slot; True if one was taken, False if we went ahead without."""
        deadline = self._clock() + self.max_wait
        try:
            while not self._window.hit(self._item, self.key):
                remaining = deadline - self._clock()
                if remaining <= 0:
                    log.warning(
                        "Stripe rate limit %s/s for %s: no slot after %.1f s, sending anyway",
                        self.requests,
                        self.key,
                        self.max_wait,
                    )
                    return False
                # Until the oldest request leaves the window (wall clock, as the
                # storage stamps entries), plus a few ms of jitter so that the
                # workers waiting on one account do not all retry at once.
                reset = self._window.get_window_stats(self._item, self.key).reset_time
                pause = max(reset - time.time(), 0.0) + random.uniform(0.001, 0.01)
                self._sleep(min(pause, remaining))
        except Exception:
            # A limiter that cannot count must not stop a payment.
            log.warning(
                "Stripe rate limit for %s unavailable, sending anyway", self.key, exc_info=True
            )
            return False
        return True


def storage_url(huey_url: str | None) -> str:
    """Where the windows live: the worker queue's Redis if it has one, else memory."""
    if huey_url and huey_url.startswith(("redis://", "rediss://")):
        return huey_url
    return MEMORY


_storages: dict[str, Storage] = {}
_storages_lock = threading.Lock()


def shared_storage(url: str) -> Storage:
    """One storage per URL per process: every gateway of an account shares its window."""
    with _storages_lock:
        storage = _storages.get(url)
        if storage is None:
            # Bounded socket waits: an unreachable Redis delays a payment by
            # about a second (then `acquire` gives up), never indefinitely.
            options = {} if url == MEMORY else {"socket_timeout": 1, "socket_connect_timeout": 1}
            storage = _storages[url] = storage_from_string(url, **options)
        return storage


def default_rate(creds: StripeCredentials) -> int:
    """90/s for live keys on real Stripe; 25/s for test keys and any other API base."""
    live = creds.livemode and creds.api_base is None
    return LIVE_REQUESTS_PER_SECOND if live else TEST_REQUESTS_PER_SECOND


def limiter_for(
    creds: StripeCredentials, *, requests_per_second: int | None = None, storage: str = MEMORY
) -> AccountRateLimiter | None:
    """The limiter of the account these keys open; `requests_per_second=0` turns it off."""
    rate = default_rate(creds) if requests_per_second is None else requests_per_second
    if rate <= 0:
        return None
    return AccountRateLimiter(f"stripe:{creds.account_ref}", rate, storage=shared_storage(storage))
