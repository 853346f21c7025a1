"""axe-core on the client and freelancer pages (issue 15): no serious or critical violation.

axe-core is vendored from npm (tests/browser/vendor/README.md) and evaluated in the
page under test through the DevTools protocol, so the app's Content-Security-Policy
stays as it is served.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_every_page_browser import LOGINS, log_in
from tests.browser.test_pay_browser import open_case, sdk  # noqa: F401 (a fixture)
from tests.integration.test_quotes import quote_body
from tests.support.api_fuzz import seed

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary),
    }));
}"""


def violations(page: Any, name: str, artifact: Any) -> list[str]:
    """The serious and critical axe violations of the page as it is now, in words."""
    page.wait_for_load_state("networkidle")
    artifact(f"axe-{name}", page)
    page.evaluate(AXE)
    found = page.evaluate(RUN_AXE)
    return [f"{name}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}" for v in found]


def booking_page(page: Any, slug: str) -> None:
    """The booking page with an offering chosen, the month shown and a time picked."""
    page.goto(f"{page.base}/{slug}")
    page.locator('input[name="offering"]').first.check()
    page.locator("#days button.day").first.wait_for()
    page.locator("#days button.day").first.click()
    page.locator("#times button.slot").first.click()
    page.locator("#card-element input").first.wait_for()


@pytest.mark.parametrize("screen", list(SCREENS))
def test_no_serious_accessibility_violation(
    screen: str,
    browser: Any,
    live_server: LiveServer,
    sdk: Any,  # noqa: F811 (the fixture imported above)
    artifact: Any,
) -> None:
    # given a freelancer with one of each object, and another with a dunning case
    pay_token = open_case(live_server, sdk)
    seeded = seed(live_server.client, live_server.app)
    ids, headers = seeded.values, {"Authorization": f"Bearer {seeded.token}"}
    quote = live_server.client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    live_server.client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    context = browser.new_context(
        viewport=SCREENS[screen], timezone_id="Europe/Paris", locale="fr-FR"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.base = live_server.url
    found: list[str] = []
    try:
        # when axe looks at the client pages: booking (a time picked), quote, pay
        booking_page(page, ids["slug"][0])
        found += violations(page, f"{screen}-booking", artifact)
        for name, path in (("quote", f"/q/{quote['public_token']}"), ("pay", f"/pay/{pay_token}")):
            page.goto(page.base + path)
            found += violations(page, f"{screen}-{name}", artifact)
        # and at the freelancers' pages: dashboard, bookings, the receivables
        for (email, password), paths in zip(
            LOGINS,
            (["/dashboard", "/sessions/bookings", "/quotes/new"], ["/dunning/"]),
            strict=True,
        ):
            context.clear_cookies()
            log_in(page, live_server.url, email, password)
            for path in paths:
                page.goto(page.base + path)
                found += violations(
                    page, f"{screen}{re.sub(r'[^a-z]+', '-', path).rstrip('-')}", artifact
                )
    finally:
        context.close()
    # then none is serious or critical
    assert not found, "\n".join(found)


def test_the_check_catches_a_violation(page: Any, artifact: Any) -> None:
    # an image without a text alternative and an unnamed button: both critical
    page.set_content('<html><body><img src="data:,"><button></button></body></html>')
    found = violations(page, "self-check", artifact)
    assert any("image-alt" in v for v in found) and any("button-name" in v for v in found)
