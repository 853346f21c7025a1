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
from webapp.dunning import documents, receivables, service
from webapp.dunning.views import dump_case
from webapp.extensions import db

bp = Blueprint("dunning", __name__, url_prefix="/dunning")


def _case(case_id: int) -> DunningCase:
    case = service.get_case(db.session, current_user.id, case_id)
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
    return render_template(
        "dunning/dashboard.html",
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
        signature=service.signature(current_user, config),
        link=service.pay_link(case),
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
