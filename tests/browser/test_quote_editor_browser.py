"""The quote editor's live totals and the milestones that do not add up, in words (issue 15)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_every_page_browser import log_in
from tests.integration.test_quotes import PROFILE

pytestmark = [pytest.mark.browser]


def words(text: str) -> str:
    """Text with the narrow and non-breaking spaces of formatted money as plain spaces."""
    return re.sub(r"[\u00a0\u202f]", " ", text)


def test_live_totals_and_a_schedule_that_does_not_add_up(
    browser: Any, live_server: LiveServer, artifact: Any
) -> None:
    # given a freelancer (franchise en base: no VAT) on the new-quote page, in French
    who = {"email": "quoter@example.test", "password": "correct horse battery"}
    client = live_server.client
    signup = {**who, "display_name": "Marie", "slug": "marie-quotes"}
    assert client.post("/api/v1/signup", json=signup).status_code == 201
    token = client.post("/api/v1/tokens", json=who).get_json()["token"]
    client.patch("/api/v1/me", headers={"Authorization": f"Bearer {token}"}, json=PROFILE)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, live_server.url, who["email"], who["password"])
        page.goto(f"{live_server.url}/quotes/new")
        totals = page.locator("#quote-totals")
        assert totals.is_visible()
        # when the lines and milestones are typed
        page.locator("input[name=title]").fill("Refonte du site")
        page.locator("input[name=client_name]").fill("Claire Client")
        page.locator("input[name=client_email]").fill("claire@example.test")
        assert page.locator("select[name=currency]").input_value() == "eur"
        page.locator("input[name='line-0-description']").fill("Design")
        page.locator("input[name='line-0-quantity']").fill("2")
        page.locator("input[name='line-0-unit']").fill("1 500,00")
        page.locator("input[name='ms-0-title']").fill("Acompte")
        page.locator("input[name='ms-0-percent']").fill("40")
        page.locator("input[name='ms-1-title']").fill("Livraison")
        page.locator("input[name='ms-1-amount']").fill("1 500")
        # then the totals follow, and the gap is said in words
        assert words(totals.locator("[data-total=total]").inner_text()) == "3 000,00 €"
        assert words(totals.locator("[data-total=milestones]").inner_text()) == "2 700,00 €"
        status = totals.locator(".totals-status")
        assert words(status.inner_text()).startswith("Les jalons font 2 700,00 € sur 3 000,00 €")
        artifact("quote-editor-mismatch", page)
        # and the server says the same when the form is sent anyway
        page.get_by_role("button", name="Enregistrer").click()
        banner = page.locator("p.error.banner", has_text="Jalons")
        assert words(banner.inner_text()).endswith(
            "Les jalons font 2 700,00 € sur 3 000,00 € : ils doivent correspondre exactement "
            "au total."
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # when the last milestone is corrected, the totals agree and the quote is saved
        page.locator("input[name='ms-1-amount']").fill("1 800,00")
        assert status.inner_text() == "Les jalons correspondent au total."
        artifact("quote-editor-match", page)
        page.get_by_role("button", name="Enregistrer").click()
        page.wait_for_url(re.compile(r"/quotes/\d+$"))
        assert errors == []
    finally:
        context.close()
