"""The fixtures of a test whose app reaches localstripe through a `FaultProxy`.

from tests.faults.proxied import proxied_config, proxy, world  # noqa: F401 (fixtures)

@pytest.fixture
def app_config(app_config, proxy):
    return proxied_config(app_config, proxy, "faults")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe as stripe_sdk

from tests.faults.stripe_truth import StripeView
from tests.faults.world import World, make_world
from tests.support.fault_proxy import FaultProxy


def proxied_config(app_config: dict[str, Any], proxy: FaultProxy, name: str) -> dict[str, Any]:
    """The app's configuration with Stripe behind the proxy, under keys of its own."""
    return {
        **app_config,
        "STRIPE_API_BASE": proxy.url,
        "STRIPE_SECRET_KEY": f"sk_test_{name}",
        "STRIPE_PUBLISHABLE_KEY": f"pk_test_{name}",
    }


@pytest.fixture
def proxy(localstripe_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(localstripe_url) as proxy:
        yield proxy


@pytest.fixture
def world(app, client, localstripe_url, make_freelancer) -> World:  # noqa: ANN001
    return make_world(app, client, StripeView(localstripe_url), make_freelancer)


def attempt(call: Callable[[], Any]) -> str:
    """Send a request whose Stripe answer may be lost; what the client saw, never raised."""
    try:
        response = call()
    except Exception as exc:  # noqa: BLE001 (the app let an exception through: a 500)
        return f"raised {type(exc).__name__}: {exc}"
    return f"{response.status_code} {response.get_json()}"


def fast_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own retries keep their number, not their seconds of sleep."""
    monkeypatch.setattr(stripe_sdk._http_client.HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(stripe_sdk._http_client.HTTPClient, "MAX_DELAY", 0.05)
