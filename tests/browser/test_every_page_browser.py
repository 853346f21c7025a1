"""Every client and freelancer page at 1280 × 800 and 390 × 844 (issue 15).

One live server for the module's one test: a freelancer with one of each
object (profile, availability, offerings, a booking, a sent quote, a paid
question) and a second one with an open dunning case. Each page, on each
screen, must not scroll sideways and must not show a raw ISO timestamp or a
snake_case code; a full-page screenshot of each is kept in test-artifacts/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_pay_browser import open_case, sdk  # noqa: F401 (a fixture)
from tests.integration.test_quotes import quote_body
from tests.support.api_fuzz import PASSWORD, seed

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
SNAKE_CASE = re.compile(r"\b[a-z]{2,}(?:_[a-z]{2,})+\b")
# The text a person reads: visible text nodes, not code samples or form values.
LOGINS = [("fuzz@example.test", PASSWORD), ("cam@example.test", "correct horse battery")]
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const parent = walker.currentNode.parentElement;
    if (!parent || parent.closest('code, pre, script, style, template, noscript')) continue;
    if (!parent.checkVisibility()) continue;
    out.push(walker.currentNode.textContent);
  }
  return out.join(' ');
}"""


def log_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login?lang=fr")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button").first.click()
    page.wait_for_url(re.compile(r"/dashboard"))


def check(page: Any, path: str, name: str, artifact: Any) -> list[str]:
    """Open `path`; what is wrong: sideways scrolling, an ISO timestamp, a snake_case code."""
    answer = page.goto(page.base + path)
    if answer is None or answer.status >= 400:
        return [f"{path}: HTTP {answer and answer.status}"]
    page.wait_for_load_state("networkidle")
    # A phone's layout viewport grows to fit what overflows, so innerWidth alone
    # proves nothing there: the screen's own width is the bound too.
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    width[1] = min(width[1], page.viewport_size["width"])
    artifact(name, page)
    text = page.evaluate(VISIBLE_TEXT)
    wrong = []
    if width[0] > width[1]:
        wrong.append(f"{path} is {width[0]} px wide on a {width[1]} px screen")
    if found := ISO_TIMESTAMP.findall(text) + SNAKE_CASE.findall(text):
        wrong.append(f"{path} shows {sorted(set(found))}")
    if page.title().strip() in ("", "Acompte"):
        wrong.append(f"{path} has no title of its own")  # e.g. "Réservations — Acompte"
    return wrong


def freelancer_pages(ids: dict[str, list[Any]]) -> list[str]:
    offering, booking, quote = ids["offering_id"][0], ids["booking_id"][0], ids["quote_id"][0]
    question = ids["question_id"][0]
    return [
        "/dashboard",
        "/sessions/bookings",
        f"/sessions/bookings/{booking}",
        "/sessions/offerings",
        "/sessions/offerings/new",
        f"/sessions/offerings/{offering}",
        "/sessions/availability",
        "/quotes",
        "/quotes/new",
        f"/quotes/{quote}",
        "/messages",
        f"/messages/{question}",
        "/messages/settings",
        "/invoices",
        "/books",
        "/dunning/",
        "/dunning/settings",
        "/settings/stripe",
        "/settings/calendars",
        "/settings/notifications",
        "/profile",
        "/password",
    ]


def client_pages(ids: dict[str, list[Any]], pay_token: str, quote_token: str) -> list[str]:
    slug = ids["slug"][0]
    return [
        "/",
        "/login",
        "/signup",
        f"/{slug}",
        f"/{slug}/ask",
        f"/{slug}/times?offering={ids['offering_id'][0]}",
        f"/q/{quote_token}",
        f"/pay/{pay_token}",
        f"/m/{ids['token'][0]}",
        f"/b/{ids['booking_id'][0]}/manage?token={ids['manage_token'][0]}",
    ]


def test_every_page_fits_a_phone_and_speaks_words(
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
    from billing.dunning.models import DunningCase
    from webapp.extensions import db

    with live_server.app.app_context():
        case_id = db.session.query(DunningCase.id).scalar()
    pages = {
        "client": client_pages(ids, pay_token, quote["public_token"]),
        "freelancer": freelancer_pages(ids),
        "case": [f"/dunning/cases/{case_id}", "/dunning/"],
    }

    for screen, viewport in SCREENS.items():
        # when a visitor opens the client pages, and each freelancer their back office
        problems = visit_every_page(browser, screen, viewport, live_server, artifact, pages)
        # then each fits the screen in words, and nothing the policy refused, no script error
        assert not problems, "\n".join(problems)


def visit_every_page(
    browser: Any,
    screen: str,
    viewport: dict[str, int],
    live_server: LiveServer,
    artifact: Any,
    pages: dict[str, list[str]],
) -> list[str]:
    """What is wrong on any page at this screen size (empty when all is well)."""
    context = browser.new_context(
        viewport=viewport,
        timezone_id="Europe/Paris",
        locale="fr-FR",
        is_mobile=screen == "phone",
        has_touch=screen == "phone",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.base = live_server.url
    problems: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        for path in pages["client"]:
            problems += check(page, path, f"page-{screen}-client{slug_of(path)}", artifact)
        for (email, password), paths in zip(
            LOGINS, (pages["freelancer"], pages["case"]), strict=True
        ):
            context.clear_cookies()
            log_in(page, live_server.url, email, password)
            for path in paths:
                problems += check(page, path, f"page-{screen}{slug_of(path)}", artifact)
    finally:
        context.close()
    return problems


def slug_of(path: str) -> str:
    """A file name for the page's screenshot, without the tokens of client links."""
    path = re.sub(r"(pay|q|m)/[^/?]+|\?token=.*", r"\1", path)
    return re.sub(r"[^A-Za-z0-9]+", "-", path)[:48].rstrip("-")
