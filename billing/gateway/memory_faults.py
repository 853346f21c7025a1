"""Fault injection for `InMemoryGateway`: errors raised instead of a call, and
timeouts raised after a call went through — what callers must recover from.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

from billing.errors import GatewayError, GatewayUnavailable


@dataclass
class Faults:
    """The faults queued per gateway method; not thread-safe (the gateway locks)."""

    errors: dict[str, deque[GatewayError]] = field(default_factory=lambda: defaultdict(deque))
    timeouts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def fail_next(self, method: str, error: GatewayError) -> None:
        """Queue `error` for the next call to `method`."""
        self.errors[method].append(error)

    def timeout_after_success(self, method: str) -> None:
        """Queue a timeout for after the next call to `method` succeeds."""
        self.timeouts[method] += 1

    def raise_error(self, method: str) -> None:
        """Raise the next error queued for `method`, if any, before it does anything."""
        if self.errors[method]:
            raise self.errors[method].popleft()

    def raise_timeout(self, method: str) -> None:
        """Raise `GatewayUnavailable` if a timeout is queued for `method` (after its work)."""
        if self.timeouts[method]:
            self.timeouts[method] -= 1
            raise GatewayUnavailable(f"Timed out after {method} succeeded (injected).")
