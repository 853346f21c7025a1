"""Sign-up, log-in, log-out and business-profile pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from marshmallow import ValidationError

from webapp.accounts import profile_form, security, service
from webapp.accounts.schemas import (
    ALL_TIMEZONES,
    CURRENCIES,
    LoginSchema,
    PasswordChangeSchema,
    ProfileSchema,
    SignupSchema,
    dump_profile,
)
from webapp.extensions import db, limiter

ZONE_CHOICES = sorted(ALL_TIMEZONES)


def _currencies_in_use() -> list[str]:
    """Every currency some country uses today, lower case: the euro first, then A to Z."""
    from babel.core import get_global
    from babel.numbers import get_territory_currencies

    codes = {
        code.lower()
        for territory in get_global("territory_currencies")
        for code in get_territory_currencies(territory)
    }
    return ["eur", *sorted((codes & CURRENCIES) - {"eur"})]


CURRENCY_CHOICES = _currencies_in_use()

bp = Blueprint("accounts", __name__)


@bp.app_context_processor
def _choices() -> dict[str, Any]:
    """The lists the forms offer: IANA time zones (the pickers' <datalist>), currencies."""
    return {"TIME_ZONES": ZONE_CHOICES, "CURRENCY_CHOICES": CURRENCY_CHOICES}


@bp.app_template_filter("currency_name")
def _currency_name(code: str) -> str:
    """`eur` → "euro" (fr) / "Euro" (en)."""
    from babel.numbers import get_currency_name
    from flask_babel import get_locale

    return get_currency_name(code.upper(), locale=str(get_locale()))


def _form_errors(exc: ValidationError) -> dict[str, list[str]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def _start_session(freelancer: Any) -> None:
    # Not `session.permanent`: that would turn strong protection into basic;
    # security.py bounds the session's life instead.
    security.start_session(freelancer)


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    return render_template("accounts/home.html")


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def signup():
    errors: dict[str, list[str]] = {}
    form = request.form.to_dict()
    if request.method == "POST":
        form.pop("csrf_token", None)
        try:
            data = SignupSchema().load(form)
            freelancer = service.signup(db.session, data)
        except ValidationError as exc:
            errors = _form_errors(exc)
        except service.AccountConflict as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            _start_session(freelancer)
            flash(_("Welcome! Complete your business profile so your invoices are valid."))
            return redirect(url_for("accounts.profile"))
    status = 422 if errors else 200
    return render_template("accounts/signup.html", form=form, errors=errors), status


@bp.route("/login", methods=["GET", "POST"])
@security.login_address_limit
@security.login_account_limit
def login():
    errors: dict[str, list[str]] = {}
    form = request.form.to_dict()
    if request.method == "POST":
        try:
            data = LoginSchema().load(form)
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            freelancer = service.authenticate(
                db.session, data["email"], data["password"], client=security.client_info()
            )
            db.session.commit()  # the audit event, success or not
            if freelancer is None:
                errors = {"_schema": [_("Wrong e-mail or password.")]}
            else:
                _start_session(freelancer)
                return redirect(url_for("accounts.dashboard"))
    form.pop("password", None)
    status = 401 if errors.get("_schema") else (422 if errors else 200)
    return render_template("accounts/login.html", form=form, errors=errors), status


@bp.post("/logout")
def logout():
    # Every session of the account ends, not only this cookie: a copy of it
    # (or of any other session's) is refused from now on.
    if current_user.is_authenticated:
        service.log_out(db.session, current_user, client=security.client_info())
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        submitted = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            data = PasswordChangeSchema().load(submitted)
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            freelancer = current_user._get_current_object()
            if service.change_password(
                db.session,
                freelancer,
                data["current_password"],
                data["new_password"],
                client=security.client_info(),
            ):
                db.session.commit()
                # Every other session ended; this one carries on under the new version.
                _start_session(freelancer)
                flash(
                    _(
                        "Password changed. Your other sessions are signed out "
                        "and your API tokens revoked."
                    )
                )
                return redirect(url_for("accounts.profile"))
            db.session.commit()  # the failed attempt's audit event
            errors = {"current_password": [_("Wrong password.")]}
    status = 422 if errors else 200
    return render_template("accounts/password.html", errors=errors), status


@bp.get("/dashboard")
@login_required
def dashboard():
    from webapp.accounts.summary import summary
    from webapp.stripe_connect.service import connection_status

    return render_template(
        "accounts/dashboard.html",
        stripe=connection_status(current_user.id),
        summary=summary(db.session, current_user.id, current_user.currency),
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    errors: dict[str, list[str]] = {}
    form: dict[str, Any] = dump_profile(current_user)
    if form["vat_regime"] == "franchise":
        form["vat_rate"] = ""  # no rate applies under the franchise en base
    form.update(profile_form.flatten(form))
    if request.method == "POST":
        submitted = profile_form.from_form(
            {k: v for k, v in request.form.items() if k != "csrf_token"}
        )
        form.update(request.form.to_dict())
        try:
            changes = ProfileSchema(freelancer=current_user, partial=True).load(submitted)
        except ValidationError as exc:
            errors = profile_form.form_errors(exc)
        else:
            service.update_profile(db.session, current_user, changes)
            db.session.commit()
            flash(_("Profile saved."))
            return redirect(url_for("accounts.profile"))
    status = 422 if errors else 200
    return (
        render_template(
            "accounts/profile.html", form=form, errors=errors, missing_labels=missing_labels()
        ),
        status,
    )


def missing_labels() -> dict[str, str]:
    """How the profile page names each field invoicing needs."""
    return {
        "legal_name": _("Legal name"),
        "legal_form": _("Legal form"),
        "siret": _("SIRET"),
        "postal_address": _("Address"),
        "vat_number": _("Intra-EU VAT number"),
        "share_capital_minor": _("Share capital (€)"),
        "registration": _("Registration"),
    }


@bp.post("/profile/photo")
@login_required
def profile_photo():
    """Upload (or, with `remove`, take away) the photo shown on the booking page."""
    from webapp.accounts import photo

    upload = request.files.get("photo")
    data = b""
    if upload:
        try:
            data = b"" if request.form.get("remove") else upload.read(photo.MAX_BYTES + 1)
        finally:
            upload.close()  # a large upload is spooled to a temporary file
    try:
        photo.set_photo(db.session, current_user, data or None)
    except photo.PhotoRefused as exc:
        db.session.rollback()
        refused = {
            "too_large": _("The photo is too large: at most 1 MB."),
            "not_an_image": _("The photo must be a PNG, JPEG or WebP image."),
        }
        flash(refused[exc.reason])
    else:
        db.session.commit()
        flash(_("Photo saved.") if data else _("Photo removed."))
    return redirect(url_for("accounts.profile"))


@bp.get("/<slug>/photo")
def public_photo(slug: str):
    """The photo on a freelancer's booking page; its address changes with the image."""
    from flask import abort, make_response
    from sqlalchemy import select

    from webapp.accounts.models import Freelancer

    row = db.session.execute(
        select(Freelancer.photo, Freelancer.photo_type).where(
            Freelancer.slug == slug, Freelancer.is_active.is_(True), Freelancer.photo_sha256 != ""
        )
    ).first()
    if row is None or not row.photo:
        abort(404)
    response = make_response(row.photo)
    response.headers["Content-Type"] = row.photo_type
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
