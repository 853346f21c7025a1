"""The freelancer's description and photo on the booking page; the page without JS (issue 15)."""

from __future__ import annotations

import io

import pytest

from tests.integration.test_quotes_pages import _csrf, logged_in  # noqa: F401 (a fixture)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def upload(client, data: bytes, **extra: str):
    return client.post(
        "/profile/photo",
        data={
            "csrf_token": _csrf(client, "/profile"),
            "photo": (io.BytesIO(data), "me.png"),
            **extra,
        },
        content_type="multipart/form-data",
    )


def test_a_photo_and_a_description_appear_on_the_booking_page(client, logged_in):  # noqa: F811
    # given a description saved through the API and a PNG uploaded on the profile page
    answer = client.patch(
        "/api/v1/me", headers=logged_in["headers"], json={"bio": "Designer in Lyon."}
    )
    assert answer.get_json()["bio"] == "Designer in Lyon."
    assert upload(client, PNG).status_code == 302
    # when the public profile and the page are read
    profile = client.get(f"/api/v1/public/freelancers/{logged_in['slug']}").get_json()
    page = client.get(f"/{logged_in['slug']}?lang=en").get_data(as_text=True)
    # then both show the photo's address, and it serves the bytes as a PNG
    assert profile["bio"] == "Designer in Lyon."
    assert profile["photo_url"].startswith(f"/{logged_in['slug']}/photo?v=")
    assert "Designer in Lyon." in page and profile["photo_url"] in page
    image = client.get(profile["photo_url"])
    assert image.status_code == 200 and image.data == PNG
    assert image.headers["Content-Type"] == "image/png"


def test_a_file_that_is_not_an_image_or_too_large_is_refused_in_words(client, logged_in):  # noqa: F811
    answer = upload(client, b"<svg onload=alert(1)>")
    assert answer.status_code == 302
    page = client.get("/profile").get_data(as_text=True)
    assert "La photo doit être une image PNG, JPEG ou WebP." in page  # their language
    assert client.get(f"/{logged_in['slug']}/photo").status_code == 404


def test_a_photo_over_1_mb_is_refused(db_session, make_freelancer):
    # (not through the test client: its spooled body of a large upload is never closed)
    from webapp.accounts import photo
    from webapp.accounts.models import Freelancer

    freelancer = db_session.get(Freelancer, make_freelancer()["id"])
    with pytest.raises(photo.PhotoRefused) as refused:
        photo.set_photo(db_session, freelancer, PNG + b"\0" * photo.MAX_BYTES)
    assert refused.value.reason == "too_large"
    photo.set_photo(db_session, freelancer, PNG)
    assert freelancer.photo_type == "image/png"


def test_the_photo_can_be_removed(client, logged_in):  # noqa: F811
    upload(client, PNG)
    assert upload(client, b"", remove="1").status_code == 302
    assert client.get(f"/{logged_in['slug']}/photo").status_code == 404
    profile = client.get(f"/api/v1/public/freelancers/{logged_in['slug']}").get_json()
    assert profile["photo_url"] is None


def test_without_javascript_the_times_are_listed(client, logged_in):  # noqa: F811
    headers = logged_in["headers"]
    offering = client.post(
        "/api/v1/offerings",
        headers=headers,
        json={
            "title": "Audit",
            "duration_minutes": 60,
            "amount_minor": 10000,
            "currency": "eur",
            "payment_policy": "prepay",
        },
    ).get_json()
    client.put(
        "/api/v1/availability",
        headers=headers,
        json={
            "timezone": "Europe/Paris",
            "weekly": [{"weekday": d, "start": "09:00", "end": "11:00"} for d in range(7)],
            "exceptions": [],
        },
    )
    slug = logged_in["slug"]
    book = client.get(f"/{slug}?lang=en").get_data(as_text=True)
    assert f"/{slug}/times?offering={offering['id']}" in book
    page = client.get(f"/{slug}/times?offering={offering['id']}&tz=Asia/Tokyo&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<li>17:00</li>" in text  # 09:00 in Paris (winter) is 17:00 in Tokyo
    assert client.get(f"/{slug}/times?offering=999999").status_code == 404
