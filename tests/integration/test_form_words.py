"""Validation messages as sentences in the page's language (issue 15): marshmallow's own
messages on the profile and offering forms, and milestones that do not add up."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_quotes import quote_body
from tests.integration.test_quotes_pages import FORM, _csrf, logged_in  # noqa: F401 (a fixture)
from webapp.validation import translate_message


def text_of(answer) -> str:
    """The page's text, formatted money's narrow and non-breaking spaces as plain spaces."""
    return re.sub(r"[\u00a0\u202f]", " ", answer.get_data(as_text=True))


@pytest.mark.parametrize(
    ("message", "fr", "en"),
    [
        (
            "Missing data for required field.",
            "Ce champ est obligatoire.",
            "This field is required.",
        ),
        (
            "Length must be between 1 and 10000.",
            "Remplissez ce champ, en 10 000 caractères au plus.",
            "Fill in this field, in at most 10,000 characters.",
        ),
        (
            "Longer than maximum length 120.",
            "120 caractères au plus.",
            "Use at most 120 characters.",
        ),
        (
            "Must be greater than or equal to 5 and less than or equal to 720.",
            "Saisissez un nombre de 5 à 720.",
            "Enter a number from 5 to 720.",
        ),
        ("Must be one of: prepay, hold, deposit.", "Choisissez l’une des options proposées.", None),
        ("Not a valid integer.", "Saisissez un nombre entier, par exemple 30.", None),
        ("Wrong password.", "Mot de passe incorrect.", "Wrong password."),
    ],
)
def test_marshmallow_messages_read_as_sentences(app, message, fr, en):
    for lang, expected in (("fr", fr), ("en", en)):
        if expected is None:
            continue
        with app.test_request_context(f"/?lang={lang}"):
            assert translate_message(message).replace("\u202f", " ").replace("\xa0", " ") == (
                expected
            )


def test_the_offering_and_profile_forms_speak_sentences(client, logged_in):  # noqa: F811
    # given a French-speaking freelancer's offering form with a missing title and a bad duration
    offering = client.post(
        "/sessions/offerings/new",
        data={
            "csrf_token": _csrf(client, "/sessions/offerings/new"),
            "title": "",
            "duration_minutes": "2",
            "price": "90",
            "currency": "eur",
            "payment_policy": "prepay",
        },
    )
    # then each field says what to do, in French, never marshmallow's words
    page = text_of(offering)
    assert offering.status_code == 422
    assert "Saisissez un nombre de 5 à 720." in page
    assert "Missing data" not in page and "Length must be" not in page and "Must be" not in page
    # and the profile form too
    profile = client.post(
        "/profile",
        data={"csrf_token": _csrf(client, "/profile"), "display_name": "", "legal_form": "xx"},
    )
    page = text_of(profile)
    assert "Remplissez ce champ, en 120 caractères au plus." in page
    assert "Choisissez l’une des options proposées." in page


def test_milestones_that_do_not_add_up_say_so_in_money(client, logged_in):  # noqa: F811
    # given a quote of 3 000,00 € whose milestones make 2 700,00 €
    body = quote_body(
        lines=[{"description": "Design", "quantity": 2, "unit_amount_minor": 150_000}],
        milestones=[
            {"title": "Acompte", "percent": 40, "trigger": "on_acceptance"},
            {"title": "Livraison", "amount_minor": 150_000, "trigger": "on_approval"},
        ],
    )
    # when it is sent through the API, then the answer is in English, with euros
    answer = client.post("/api/v1/quotes", headers=logged_in["headers"], json=body)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]["milestones"] == [
        "The milestones add up to €2,700.00 of €3,000.00: they must match the total exactly."
    ]
    # and through the French editor, in French
    form = {
        **FORM,
        "line-0-description": "Design",
        "line-0-quantity": "2",
        "line-0-unit": "1 500,00",
        "ms-0-title": "Acompte",
        "ms-0-percent": "40",
        "ms-1-title": "Livraison",
        "ms-1-amount": "1 500,00",
    }
    page = client.post("/quotes/new", data={**form, "csrf_token": _csrf(client, "/quotes/new")})
    assert page.status_code == 422
    assert (
        "Les jalons font 2 700,00 € sur 3 000,00 € : ils doivent correspondre exactement au total."
        in text_of(page)
    )
    assert "minor units" not in text_of(page)


def test_currency_is_a_list_with_the_euro_first_and_the_zone_a_searchable_one(
    client,
    logged_in,  # noqa: F811
):
    page = client.get("/profile").get_data(as_text=True)
    select = page[
        page.index('<select id="f-currency"') : page.index(
            "</select>", page.index('<select id="f-currency"')
        )
    ]
    options = re.findall(r'<option value="([a-z]{3})"', select)
    assert options[0] == "eur" and "usd" in options and "chf" in options
    assert "frf" not in options  # no currency out of use
    assert 'list="f-timezone-zones"' in page
    assert '<option value="America/New_York">' in page
    # and the offering and paid-question forms take the same list
    for path in ("/sessions/offerings/new", "/messages/settings"):
        assert '<select id="f-currency" name="currency">' in client.get(path).get_data(as_text=True)
