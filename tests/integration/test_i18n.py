"""French and English: how the language is chosen, remembered, and that French is complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from webapp.accounts.models import Freelancer
from webapp.accounts.service import hash_password
from webapp.i18n import register_i18n
from webapp.mail.service import send_welcome

ROOT = Path(__file__).resolve().parents[2]
FR_CATALOG = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
PASSWORD = "correct horse battery"


@pytest.fixture
def app(app):
    # create_app registers it; calling again is a no-op, kept so that these
    # tests exercise the hook whatever the order of wiring.
    register_i18n(app)
    return app


def login_title(client, **kwargs) -> str:
    html = client.get("/login", **kwargs).get_data(as_text=True)
    return re.search(r"<h1>(.*?)</h1>", html).group(1)


def html_lang(client, path: str = "/login", **kwargs) -> str:
    html = client.get(path, **kwargs).get_data(as_text=True)
    return re.search(r'<html lang="([^"]+)"', html).group(1)


# --- choosing the language --------------------------------------------------


def test_login_page_is_french_by_default(client):
    assert login_title(client) == "Se connecter"
    assert html_lang(client) == "fr"


@pytest.mark.parametrize(
    ("accept_language", "title"),
    [
        ("fr", "Se connecter"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "Se connecter"),
        ("en", "Log in"),
        ("en-GB,en;q=0.9", "Log in"),
        ("de", "Se connecter"),  # unsupported: the default, French
    ],
)
def test_login_page_follows_accept_language(client, accept_language, title):
    assert login_title(client, headers={"Accept-Language": accept_language}) == title


def test_lang_parameter_wins_and_is_remembered_in_a_cookie(client):
    # given a French browser
    french = {"Accept-Language": "fr"}
    # when the visitor picks English
    assert login_title(client, query_string={"lang": "en"}, headers=french) == "Log in"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    assert cookie.http_only and cookie.same_site == "Lax"
    # then the choice lasts, on other pages too
    assert login_title(client, headers=french) == "Log in"
    assert html_lang(client, "/signup", headers=french) == "en"
    # and can be changed back
    assert login_title(client, query_string={"lang": "fr"}) == "Se connecter"
    assert client.get_cookie("lang").value == "fr"
    assert login_title(client, headers={"Accept-Language": "en"}) == "Se connecter"


def test_unsupported_lang_parameter_sets_no_cookie(client):
    assert login_title(client, query_string={"lang": "de"}) == "Se connecter"
    assert client.get_cookie("lang") is None


def test_logged_in_freelancer_sees_their_own_language(client, db_session):
    # given an English-speaking freelancer, on a French browser
    db_session.add(
        Freelancer(
            email="sam@example.test",
            password_hash=hash_password(PASSWORD),
            display_name="Sam",
            slug="sam",
            locale="en",
        )
    )
    db_session.commit()
    french = {"Accept-Language": "fr"}
    page = client.get("/login", headers=french).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    # when
    answer = client.post(
        "/login",
        data={"email": "sam@example.test", "password": PASSWORD, "csrf_token": token},
        headers=french,
    )
    assert answer.status_code == 302
    # then
    dashboard = client.get("/dashboard", headers=french).get_data(as_text=True)
    assert "<h1>Hello Sam</h1>" in dashboard
    assert '<html lang="en">' in dashboard


# --- e-mails in the recipient's language ------------------------------------


@pytest.mark.parametrize(
    ("locale", "subject", "greeting"),
    [
        ("fr", "Bienvenue sur Acompte", "Bonjour Léa,"),
        ("en", "Welcome to Acompte", "Hello Léa,"),
    ],
)
def test_welcome_email_is_in_the_freelancers_language(
    app_ctx, db_session, locale, subject, greeting
):
    freelancer = Freelancer(
        email=f"lea-{locale}@example.test",
        password_hash="unused",
        display_name="Léa",
        slug=f"lea-{locale}",
        locale=locale,
    )
    db_session.add(freelancer)
    db_session.flush()
    # The current request's language must not leak into the e-mail.
    other = "en" if locale == "fr" else "fr"
    with app_ctx.test_request_context(query_string={"lang": other}):
        email = send_welcome(db_session, freelancer)
    assert email.subject == subject
    assert email.body_text.startswith(greeting)
    assert greeting in email.body_html
    assert f'<html lang="{locale}">' in email.body_html


# --- the French catalog is complete -----------------------------------------


def test_every_french_message_is_translated_and_not_fuzzy():
    with FR_CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    problems = []
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, "translations/fr: " + "; ".join(problems)


def test_every_string_in_the_code_is_in_the_french_catalog():
    # Catches a string added without `pybabel extract` + `update` (see babel.cfg).
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "_l": None,
        "lazy_gettext": None,
        "N_": None,
    }
    extracted = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords, comment_tags=()
        )
    }
    with FR_CATALOG.open("rb") as handle:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    missing = sorted(extracted - known)
    assert not missing, f"run the pybabel extract/update workflow and translate: {missing}"
