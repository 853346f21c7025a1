"""The freelancer's pages: the receivables dashboard, a case with its timeline and
actions, and the PDFs (mise en demeure, recourse pack)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from billing import events
from billing.db import utcnow
from billing.dunning import service as engine
from billing.dunning.letters import Formatter
from billing.dunning.models import DunningCase
from billing.errors import AlreadyDone, NotAllowed
from billing.locking import lock
from billing.money import format_major, parse_major
from webapp.dunning import charts, documents, receivables
from webapp.dunning.cases import get_case, pay_link
from webapp.dunning.settings import save_settings
from webapp.dunning.steps import signature
from webapp.dunning.views import dump_case
from webapp.extensions import db

bp = Blueprint("dunning", __name__, url_prefix="/dunning")


def _case(case_id: int) -> DunningCase:
    case = get_case(db.session, current_user.id, case_id)
    if case is None:
        abort(404)
    return case


@bp.get("/")
@login_required
def dashboard():
    """Secured, collected, overdue by age, cases by step, recovery rate; every case."""
    now = utcnow()
    figures = receivables.compute(db.session, current_user.id, current_user.currency, now)
    cases = db.session.scalars(
        select(DunningCase)
        .where(DunningCase.freelancer_id == current_user.id)
        .order_by(DunningCase.id.desc())
    ).all()
    rows = [dump_case(db.session, c, now=now) for c in cases]
    zone, currency = current_user.timezone or "Europe/Paris", current_user.currency
    return render_template(
        "dunning/dashboard.html",
        monthly=charts.monthly_collected(
            db.session, current_user.id, currency, now, zone, current_user.locale or "fr"
        ),
        overdue_bars=charts.bars(
            [
                (b[0], _("%(range)s days", range=b[0]), figures.overdue[b[0]])
                for b in receivables.BUCKETS
            ]
        ),
        dso=charts.days_sales_outstanding(db.session, current_user.id, currency, now.date()),
        figures=figures,
        cases=rows,
        fmt=Formatter(current_user.locale, current_user.currency),
        buckets=[b[0] for b in receivables.BUCKETS],
    )


@bp.get("/cases/<int:case_id>")
@login_required
def case_page(case_id: int):
    """One case: amounts, penalties, timeline, the next step, actions."""
    case = _case(case_id)
    view = dump_case(db.session, case, now=utcnow(), full=True)
    config = engine.config_for(db.session, case.freelancer_id)
    return render_template(
        "dunning/case.html",
        case=case,
        view=view,
        fmt=Formatter(current_user.locale, case.currency),
        call_task=any(s["step"] == "call" and s["outcome"] == "task_open" for s in view["steps"]),
        signature=signature(current_user, config),
        link=pay_link(case),
    )


@bp.post("/cases/<int:case_id>/<action>")
@login_required
def act(case_id: int, action: str):
    """Pause, resume, resolve, write off, or mark the call done."""
    _case(case_id)
    case = lock(db.session, DunningCase, case_id)
    actor = events.freelancer_actor(current_user.id)
    note = request.form.get("note", "")[:2000]
    now = utcnow()
    try:
        if action == "pause":
            engine.pause(db.session, case, kind="freelancer", actor=actor, now=now, reason=note)
        elif action == "resume":
            engine.resume(db.session, case, actor=actor, now=now)
        elif action == "resolve":
            engine.close(
                db.session, case, engine.RESOLVED, actor=actor, now=now, data={"note": note}
            )
        elif action == "write-off":
            engine.close(
                db.session, case, engine.WRITTEN_OFF, actor=actor, now=now, data={"note": note}
            )
        elif action == "call-done":
            step = engine.steps_of(db.session, case.id).get("call")
            if step is None or step.outcome != "task_open":
                raise AlreadyDone("no call to do")
            step.outcome = "task_done"
            engine.record(db.session, case, "dunning_call_done", actor=actor, data={"note": note})
        else:
            abort(404)
    except (AlreadyDone, NotAllowed) as exc:
        db.session.rollback()
        flash(_("Not possible: %(why)s", why=str(exc)))
        return redirect(url_for("dunning.case_page", case_id=case_id)), 303
    db.session.commit()
    flash(_("Done."))
    return redirect(url_for("dunning.case_page", case_id=case_id)), 303


@bp.post("/cases/<int:case_id>/registered-letter")
@login_required
def record_registered_letter(case_id: int):
    """The freelancer records the registered letter (or that none was posted)."""
    from marshmallow import ValidationError

    from webapp.dunning import registered_letter

    _case(case_id)
    try:
        data = registered_letter.RegisteredLetterSchema().load(
            registered_letter.from_form(request.form.to_dict())
        )
    except ValidationError as exc:
        flash(
            _(
                "Not recorded: %(why)s",
                why="; ".join(f"{k}: {v[0]}" for k, v in exc.messages.items()),
            )
        )
        return redirect(url_for("dunning.case_page", case_id=case_id)), 303
    case = lock(db.session, DunningCase, case_id)
    registered_letter.record(db.session, case, data, actor=events.freelancer_actor(current_user.id))
    db.session.commit()
    flash(_("Registered letter recorded."))
    return redirect(url_for("dunning.case_page", case_id=case_id)), 303


@bp.get("/cases/<int:case_id>/mise-en-demeure.pdf")
@login_required
def formal_notice_pdf(case_id: int):
    """The mise en demeure to print and send by registered mail."""
    case = _case(case_id)
    pdf = documents.formal_notice(db.session, case, now=utcnow())
    return _pdf(pdf, f"mise-en-demeure-{case.id}.pdf")


@bp.get("/cases/<int:case_id>/recourse-pack.pdf")
@login_required
def recourse_pack_pdf(case_id: int):
    """The recourse pack (injonction de payer, mediation, collection)."""
    case = _case(case_id)
    pdf = documents.recourse_pack(db.session, case, now=utcnow())
    return _pdf(pdf, f"dossier-recouvrement-{case.id}.pdf")


def _pdf(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


_DAY_FIELDS = ("friendly_day", "formal_day", "formal_notice_day", "recourse_day", "call_day")


def _settings_form(form: dict[str, str], currency: str) -> dict[str, object]:
    """The page's fields as the API's settings (numbers as numbers, euros as minor units)."""
    data: dict[str, object] = {}
    days = [d.strip() for d in form.get("retry_days", "").split(",") if d.strip()]
    data["retry_days"] = [int(d) if d.isdigit() else d for d in days]
    for name in (*_DAY_FIELDS, "final_deadline_days"):
        raw = form.get(name, "").strip()
        if raw:
            data[name] = int(raw) if raw.isdigit() else raw
    threshold = form.get("call_threshold", "").strip()
    if threshold:
        minor = parse_major(threshold, currency)
        data["call_threshold_minor"] = threshold if minor is None else minor
    data["signature"] = form.get("signature", "freelancer")
    data["accounts_department_name"] = form.get("accounts_department_name", "").strip()
    data["bill_penalties"] = form.get("bill_penalties") == "on"
    return data


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Delays, retries, signature and the "call the client" threshold (templates: the API)."""
    from marshmallow import ValidationError

    from billing.dunning.schedule import InvalidConfig
    from webapp.dunning.schemas import SettingsSchema

    config = engine.config_for(db.session, current_user.id).to_dict()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            changes = SettingsSchema().load(_settings_form(request.form, current_user.currency))
            save_settings(db.session, current_user.id, changes)
        except ValidationError as exc:
            db.session.rollback()
            messages = exc.messages if isinstance(exc.messages, dict) else {}
            errors = {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
        except InvalidConfig as exc:
            db.session.rollback()
            errors = exc.fields
        else:
            db.session.commit()
            flash(_("Reminder settings saved."))
            return redirect(url_for("dunning.settings"))
        config.update(request.form.to_dict())
    if "call_threshold" not in config:
        config["call_threshold"] = format_major(
            config["call_threshold_minor"], current_user.currency
        )
    if isinstance(config.get("retry_days"), list):
        config["retry_days"] = ", ".join(str(d) for d in config["retry_days"])
    if "call_threshold_minor" in errors:
        errors["call_threshold"] = errors.pop("call_threshold_minor")
    return render_template("dunning/settings.html", form=config, errors=errors), (
        422 if errors else 200
    )
