"""No English on a French e-mail or page, and no French on an English one.

Every e-mail template is rendered in both languages (with whatever context it
is given: missing values render empty, so each template's fixed text shows),
and so are the client's booking pages; the output must not contain the text of
a catalog entry in the other language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale
from jinja2 import ChainableUndefined

from tests.integration.test_public_pages import BOOKING, FREELANCER, GOOD_TOKEN, api  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EMAILS = sorted(
    p.name for p in (ROOT / "templates" / "email").glob("*.*") if p.suffix in (".txt", ".html")
)
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def _fragments(text: str) -> list[str]:
    # The fixed words of a message between its placeholders, long enough to be telling.
    parts = [p.strip(" .,:;!?\u00a0«»\"'()—-") for p in PLACEHOLDER.split(text)]
    return [p for p in parts if len(p) >= 14 and " " in p]


def _pairs() -> list[tuple[str, str]]:
    with (ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    return [
        (m.id, m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and m.string != m.id
    ]


PAIRS = _pairs()
_IDS = [msgid for msgid, _ in PAIRS]
_STRS = [msgstr for _, msgstr in PAIRS]
# English fragments that no French text contains, and French ones no English text does
# (a term both languages use, like "mise en demeure" in an English e-mail, is neither).
ENGLISH = {f for msgid in _IDS for f in _fragments(msgid) if not any(f in t for t in _STRS)}
FRENCH = {f for msgstr in _STRS for f in _fragments(msgstr) if not any(f in t for t in _IDS)}


def foreign(text: str, locale: str) -> list[str]:
    """Catalog text of the other language found in `text`."""
    flat = " ".join(text.split())
    wrong = ENGLISH if locale == "fr" else FRENCH
    return sorted(f for f in wrong if " ".join(f.split()) in flat)


@pytest.mark.parametrize("template", EMAILS)
@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_email_template_is_in_one_language(app, template, locale):
    env = app.jinja_env.overlay(undefined=ChainableUndefined)
    with app.test_request_context(), force_locale(locale):
        text = env.get_template(f"email/{template}").render(base_url="http://x")
    assert text.strip() or template.startswith("_"), template  # partials may render empty
    assert foreign(text, locale) == [], f"{template} ({locale})"


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize(
    "path",
    [
        "/camille",
        f"/b/41/manage?token={GOOD_TOKEN}",
        f"/b/41/confirmed?token={GOOD_TOKEN}",
        "/nope/x/y",
    ],
)
def test_client_pages_are_in_one_language(client, api, path, locale):  # noqa: F811
    money = {
        "charged_minor": 3000,
        "held_minor": 0,
        "later_minor": 7000,
        "currency": "eur",
        "later_at": "2031-03-04T12:00:00+00:00",
        "refunded_minor": 0,
        "released_minor": 0,
    }
    api(freelancer=FREELANCER, booking={**BOOKING, "money": money, "location": "Zoom"})
    joiner = "&" if "?" in path else "?"
    page = client.get(f"{path}{joiner}lang={locale}").get_data(as_text=True)
    assert foreign(page, locale) == [], f"{path} ({locale})"


def test_the_check_catches_a_stray_string():
    # The test above could fail: an English sentence of the catalog on a French page.
    assert foreign("Votre séance. Your session with Camille is booked.", "fr")
    assert foreign("Your booking. Réserver et payer après la séance", "en")


def test_the_404_page_and_the_log_in_notice_speak_french(client):
    page = client.get("/nope/x/y?lang=fr")
    assert page.status_code == 404
    assert "Cette page n’existe pas, ou son lien n’est plus valable." in page.get_data(as_text=True)
    answer = client.get(
        "/settings/notifications", headers={"Accept-Language": "fr"}, follow_redirects=True
    )
    assert "Connectez-vous pour accéder à cette page." in answer.get_data(as_text=True)
    assert "Please log in" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_the_freelancers_notification_settings_are_in_their_language(
    client, make_freelancer, locale
):
    seller = make_freelancer(locale=locale)
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    login = client.post(
        "/login",
        data={"email": seller["email"], "password": seller["password"], "csrf_token": csrf},
    )
    assert login.status_code == 302
    page = client.get("/settings/notifications").get_data(as_text=True)
    assert ("Notifications par e-mail" if locale == "fr" else "E-mail notifications") in page
    assert foreign(page, locale) == []
