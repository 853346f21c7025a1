"""Language choice: `?lang=` is remembered in a `lang` cookie.

`select_locale` (in `webapp/__init__.py`) reads `?lang=`, then the cookie, then
the freelancer's own setting, then the browser's. Clients never log in, so the
cookie is the only way their choice survives the next click.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def register_i18n(app: Flask) -> None:
    """Install the hook that turns `?lang=xx` into a lasting `lang` cookie (idempotent)."""
    if "acompte_i18n" in app.extensions:
        return
    app.extensions["acompte_i18n"] = True
    app.after_request(remember_language)
    from webapp.office import register as register_office_words

    register_office_words(app)


def remember_language(response: Response) -> Response:
    """Set the `lang` cookie when the request chose a supported language by `?lang=`."""
    from webapp import SUPPORTED_LOCALES

    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE,
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
            httponly=True,
            samesite="Lax",
        )
    return response
