"""The fixtures of a test whose app reaches localstripe through a `FaultProxy`.

from tests.faults.proxied import proxied_config, proxy, world  # noqa: F401 (fixtures)

@pytest.fixture
def app_config(app_config, proxy):
    return proxied_config(app_config, proxy, "faults")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
