"""Sign-up, log-in, log-out and business-profile pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from webapp.accounts import service
from webapp.accounts.schemas import LoginSchema, ProfileSchema, SignupSchema, dump_profile
from webapp.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _form_errors(exc: ValidationError) -> dict[str, list[str]]:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}


def _start_session(freelancer: Any) -> None:
    # A fresh session on log-in defeats session fixation.
    session.clear()
    login_user(freelancer)
    session.permanent = True


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
@limiter.limit("10/minute", methods=["POST"])
def login():
    errors: dict[str, list[str]] = {}
    form = request.form.to_dict()
    if request.method == "POST":
        try:
            data = LoginSchema().load(form)
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            freelancer = service.authenticate(db.session, data["email"], data["password"])
            if freelancer is None:
                errors = {"_schema": [_("Wrong e-mail or password.")]}
            else:
                db.session.commit()
                _start_session(freelancer)
                return redirect(url_for("accounts.dashboard"))
    form.pop("password", None)
    status = 401 if errors.get("_schema") else (422 if errors else 200)
    return render_template("accounts/login.html", form=form, errors=errors), status


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("accounts.login"))


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
    if request.method == "POST":
        submitted = {k: v for k, v in request.form.items() if k != "csrf_token"}
        if submitted.get("vat_rate") == "":
            submitted.pop("vat_rate")  # empty: keep the current rate (none under franchise)
        if submitted.get("penalty_rate") == "":
            submitted["penalty_rate"] = None
        if "payment_terms_days" in submitted:
            raw = submitted["payment_terms_days"]
            submitted["payment_terms_days"] = int(raw) if raw.strip().isdigit() else raw
        form.update(submitted)
        try:
            changes = ProfileSchema(freelancer=current_user, partial=True).load(submitted)
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            service.update_profile(db.session, current_user, changes)
            db.session.commit()
            flash(_("Profile saved."))
            return redirect(url_for("accounts.profile"))
    status = 422 if errors else 200
    return render_template("accounts/profile.html", form=form, errors=errors), status
