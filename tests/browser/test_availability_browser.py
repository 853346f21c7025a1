"""The availability editor on a phone: add a range, copy a day, a typo in words (issue 15)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from tests.browser.conftest import LiveServer

pytestmark = [pytest.mark.browser]

PASSWORD = "correct horse battery"


def sign_up_and_log_in(page: Any, live_server: LiveServer) -> None:
    body = {
        "email": "dora@example.test",
        "password": PASSWORD,
        "display_name": "Dora",
        "slug": "dora",
    }
    assert live_server.client.post("/api/v1/signup", json=body).status_code == 201
    page.goto(f"{live_server.url}/login?lang=en")
    page.get_by_label("E-mail").fill(body["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button").first.click()
    page.wait_for_url(re.compile("/dashboard"))


def test_a_freelancer_sets_the_week_on_a_phone(mobile_page, live_server, artifact) -> None:
    page = mobile_page
    sign_up_and_log_in(page, live_server)

    # given the editor, opened from the compact menu
    page.get_by_text("Menu", exact=True).click()
    page.locator(".nav-compact").get_by_role("link", name="Availability").click()
    page.get_by_role("heading", name="Availability").wait_for()
    monday = page.locator('fieldset[data-day="0"]')

    # when Monday gets two ranges, copied to Tuesday and Thursday
    monday.get_by_label("Monday — from").first.fill("09:00")
    monday.get_by_label("Monday — to").first.fill("12:30")
    monday.get_by_role("button", name="Add a range").click()
    monday.get_by_label("Monday — from").nth(1).fill("14:00")
    monday.get_by_label("Monday — to").nth(1).fill("18:00")
    monday.get_by_text("Copy to other days").click()
    monday.get_by_label("Tuesday").check()
    monday.get_by_label("Thursday").check()
    monday.get_by_role("button", name="Copy these hours").click()
    # and a closed day is added as an exception
    page.locator("input[name=x0_date]").fill("2026-12-24")
    page.get_by_label("Closed all day").first.check()
    artifact("availability-phone-filled", page)
    page.get_by_role("button", name="Save").click()

    # then the week is saved as typed
    page.get_by_text("Availability saved.").wait_for()
    from webapp.booking.models import Availability
    from webapp.extensions import db

    with live_server.app.app_context():
        saved = db.session.scalars(select(Availability)).one()
        weekly = sorted((i["weekday"], i["start"], i["end"]) for i in saved.weekly)
        exceptions = saved.exceptions
    assert weekly == [
        (day, start, end)
        for day in (0, 1, 3)
        for start, end in (("09:00", "12:30"), ("14:00", "18:00"))
    ]
    assert [e["date"] for e in exceptions] == ["2026-12-24"]
    width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1]
    artifact("availability-phone-saved", page)

    # when an end comes before its start, the message sits next to that row, in words
    page.locator('fieldset[data-day="4"]').get_by_label("Friday — from").first.fill("18:00")
    page.locator('fieldset[data-day="4"]').get_by_label("Friday — to").first.fill("09:00")
    page.get_by_role("button", name="Save").click()
    error = page.locator('fieldset[data-day="4"] .error')
    error.wait_for()
    assert error.inner_text() == "The end must be after the start."
    assert "{" not in page.inner_text("main")
    artifact("availability-phone-error", page)
