"""The booking page's month calendar (issue 15): book a day of next month, by mouse on a
desktop and a phone, by keyboard alone, in another time zone, and without JavaScript."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_booking_browser import fill_details_and_card, offering  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.stripe]

PARIS = ZoneInfo("Europe/Paris")
VISA = "4242424242424242"


def next_month_title() -> str:
    """'January 2027' when today (Paris) is in December 2026: the month after this one."""
    today = datetime.now(PARIS)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime(year, month, 1).strftime("%B %Y")


def open_calendar(page: Any, live_server: LiveServer, slug: str) -> Any:
    page.goto(f"{live_server.url}/{slug}?lang=en")
    page.get_by_label(re.compile("Coaching call")).check()
    page.locator("#days button.day").first.wait_for()
    return page.locator("#days")


def portrait() -> bytes:
    """A small PNG to stand for the freelancer's photo."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 160), (230, 236, 250))
    draw = ImageDraw.Draw(image)
    draw.ellipse((50, 25, 110, 85), fill=(47, 91, 234))
    draw.ellipse((25, 95, 135, 200), fill=(47, 91, 234))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def present(live_server: LiveServer, made: dict[str, Any]) -> None:
    """The freelancer's description and photo, the offering's place."""
    client = live_server.client
    answer = client.patch(
        "/api/v1/me", headers=made["headers"], json={"bio": "Coach for founders since 2015."}
    )
    assert answer.status_code == 200, answer.get_json()
    answer = client.patch(
        f"/api/v1/offerings/{made['id']}",
        headers=made["headers"],
        json={"location": "Visio (a link comes with the confirmation)"},
    )
    assert answer.status_code == 200, answer.get_json()
    from webapp.accounts import photo
    from webapp.accounts.models import Freelancer
    from webapp.extensions import db

    with live_server.app.app_context():
        freelancer = db.session.query(Freelancer).filter_by(slug=made["slug"]).one()
        photo.set_photo(db.session, freelancer, portrait())
        db.session.commit()


def booked_start(live_server: LiveServer, page: Any) -> datetime:
    from webapp.booking.models import Booking
    from webapp.extensions import db

    booking_id = int(re.search(r"/b/(\d+)/confirmed", page.url).group(1))
    with live_server.app.app_context():
        return db.session.get(Booking, booking_id).start_at.astimezone(PARIS)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_book_a_day_of_next_month_from_the_month_view(
    screen,
    page,
    mobile_page,
    live_server,
    offering,  # noqa: F811 (the fixture imported above)
    artifact,
):
    tab = page if screen == "desktop" else mobile_page
    present(live_server, offering)
    # given the booking page's month calendar, days with free times enabled
    days = open_calendar(tab, live_server, offering["slug"])
    assert tab.get_by_role("img", name="Photo of Camille Martin").is_visible()
    assert tab.get_by_text("Where: Visio (a link comes with the confirmation)").is_visible()
    artifact(f"calendar-{screen}-this-month", tab)
    assert days.locator("button[aria-current=date]").count() == 1
    assert days.locator("button.blank[aria-disabled=true]").count() >= 1  # the days gone by
    # when the client moves to next month and picks its first free day and a time
    tab.get_by_role("button", name="Next month").click()
    title = next_month_title()
    tab.locator(".month-title", has_text=title).wait_for()
    tab.locator("#days button.day").first.wait_for()
    day = tab.locator("#days button.day").first
    day.click()
    assert day.get_attribute("aria-pressed") == "true"
    heading = tab.locator("#times .times-day").inner_text()
    assert title.split()[0] in heading
    tab.locator("#times button.slot").first.click()
    artifact(f"calendar-{screen}-month", tab)
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    fill_details_and_card(tab, VISA)
    tab.get_by_role("button", name=re.compile("Book and")).click()
    # then the booking is confirmed, on that day of next month
    tab.wait_for_url(re.compile(r"/b/\d+/confirmed\?token="))
    tab.get_by_role("heading", name="Your booking is confirmed").wait_for()
    artifact(f"calendar-{screen}-confirmed", tab)
    start = booked_start(live_server, tab)
    assert start.strftime("%B %Y") == title
    assert tab.errors == []


def test_the_calendar_works_with_the_keyboard_alone(page, live_server, offering, artifact):  # noqa: F811
    # given the calendar, its days one tab stop
    days = open_calendar(page, live_server, offering["slug"])
    focused = days.locator("button[tabindex='0']")
    assert focused.count() == 1
    focused.focus()
    start = page.evaluate("document.activeElement.dataset.date")
    # when the client presses the arrows, a greyed day is reached too, and Page Down
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.date") > start
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowDown")
    after_week = page.evaluate("document.activeElement.dataset.date")
    assert (datetime.fromisoformat(after_week) - datetime.fromisoformat(start)).days == 7
    page.keyboard.press("PageDown")
    page.locator(".month-title", has_text=next_month_title()).wait_for()
    page.locator("#days button.day").first.wait_for()
    page.keyboard.press("Home")
    chosen = page.evaluate("document.activeElement.dataset.date")
    assert chosen.startswith(next_month_key())
    # and picks that day with Enter, then Tab to the first time and Enter
    page.keyboard.press("Enter")
    picked = page.locator(f"#days button[data-date='{chosen}']")
    assert picked.get_attribute("aria-pressed") == "true"
    assert days.locator("button[tabindex='0']").get_attribute("data-date") == chosen
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('slot')")
    page.keyboard.press("Enter")
    # then the payment step opens for that time
    page.locator("#step-pay").wait_for(state="visible")
    assert chosen_day_words(chosen) in page.locator("#summary-when").inner_text()
    artifact("calendar-keyboard", page)
    assert page.errors == []


def next_month_key() -> str:
    today = datetime.now(PARIS)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year:04d}-{month:02d}"


def chosen_day_words(key: str) -> str:
    """'7 January 2027' for '2027-01-07' (the en-GB summary's date)."""
    day = datetime.fromisoformat(key)
    return f"{day.day} {day.strftime('%B %Y')}"


def test_the_zone_picker_shows_the_times_in_the_clients_zone(page, live_server, offering):  # noqa: F811
    # given the times in Paris (the browser's zone), 08:00 first
    open_calendar(page, live_server, offering["slug"])
    page.locator("#days button.day").nth(1).click()
    assert page.locator("#times button.slot").first.inner_text() == "08:00"
    # when the client chooses New York in the searchable list
    zone = page.get_by_label("Times shown in")
    assert zone.input_value() == "Europe/Paris"
    assert page.locator("#tz-list option[value='America/New_York']").count() == 1
    zone.fill("America/New_York")
    zone.dispatch_event("change")
    # then the first time of a day is 02:00 there (08:00 in Paris)
    page.locator("#times button.slot", has_text="02:00").first.wait_for()
    # and a zone that does not exist is refused in words, the last good one kept
    zone.fill("Mars/Olympus")
    zone.dispatch_event("change")
    page.get_by_text("Mars/Olympus is not a time zone we know").wait_for()
    assert zone.input_value() == "America/New_York"
    assert page.errors == []


def test_without_javascript_the_free_times_are_a_list(browser, live_server, offering, artifact):  # noqa: F811
    context = browser.new_context(java_script_enabled=False, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/{offering['slug']}?lang=fr")
        page.get_by_role("link", name="Horaires libres pour Coaching call").click()
        page.get_by_role("heading", name="Horaires libres pour Coaching call").wait_for()
        assert re.fullmatch(r"\d\d:00", page.locator(".time-list li").first.inner_text())
        page.get_by_label("Horaires affichés dans le fuseau").fill("Asia/Tokyo")
        page.get_by_role("button", name="Afficher les horaires").click()
        page.wait_for_url(re.compile(r"tz=Asia%2FTokyo"))
        artifact("calendar-no-javascript", page)
    finally:
        context.close()
