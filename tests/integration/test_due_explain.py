"""Every due query is answered from an index (issue 14), checked by PostgreSQL's planner.

Each due kind's `find` runs against a migrated PostgreSQL database while its SQL
is recorded; every recorded SELECT is then explained with sequential scans
disabled (`enable_seqscan = off`): the planner still picks a sequential scan
only when no index can answer the query, so one in any plan means a due query
that reads a whole table, and `run-due` slows down with history. The same holds
for the per-item reads of a subject's payments (`ledger.totals` and friends).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from webapp.due import EXTENSION_KEY
from webapp.extensions import db

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def kinds_of(app: Any) -> tuple[Any, ...]:
    return app.extensions[EXTENSION_KEY]


def _recorded(app: Any, call: Any) -> list[tuple[str, Any]]:
    """The SELECT statements `call()` sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def _seq_scans(plan: dict[str, Any], partial: frozenset[str] = frozenset()) -> list[str]:
    """Tables a plan reads whole: a sequential scan, or an index walked end to end
    (an index scan with no condition, chosen only for its order) — unless the index
    is partial (`partial`: it holds only the rows its predicate selects)."""
    found = []
    node = plan.get("Node Type")
    whole_index = (
        node in ("Index Scan", "Index Only Scan")
        and "Index Cond" not in plan
        and plan.get("Index Name") not in partial
    )
    if node == "Seq Scan" or whole_index:
        found.append(plan.get("Relation Name", "?"))
    for child in plan.get("Plans", []):
        found += _seq_scans(child, partial)
    return found


def _explain(statement: str, parameters: Any) -> list[str]:
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        (plan,) = cursor.fetchone()
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indpred IS NOT NULL"
        )
        partial = frozenset(name for (name,) in cursor.fetchall())
    if isinstance(plan, str):
        plan = json.loads(plan)
    return _seq_scans(plan[0]["Plan"], partial)


@pytest.fixture
def pg_app(pg_database_url, tmp_path):
    """The app on PostgreSQL, with an SMTP server configured so mail is due work too
    (nothing listens there: `find` only reads the outbox)."""
    from tests.conftest import base_config
    from webapp import create_app

    app = create_app({**base_config(pg_database_url, tmp_path), "SMTP_URL": "smtp://127.0.0.1:9"})
    yield app
    with app.app_context():
        db.session.remove()
    db.engine.dispose()


def test_every_due_query_is_answered_from_an_index(pg_app):
    with pg_app.app_context():
        scans: dict[str, list[str]] = {}
        statements = 0
        for kind in kinds_of(pg_app):
            recorded = _recorded(pg_app, lambda kind=kind: kind.find(db.session, NOW))
            assert recorded, f"{kind.name}: its find sent no query"
            for statement, parameters in recorded:
                statements += 1
                tables = _explain(statement, parameters)
                if tables:
                    scans.setdefault(kind.name, []).append(f"{tables}: {statement[:300]}")
            db.session.rollback()
        assert statements >= len(kinds_of(pg_app))
        assert scans == {}, json.dumps(scans, indent=2)


def test_a_subjects_payments_are_read_from_an_index(pg_app):
    """The per-item reads: a booking's (or any subject's) payments and their totals."""
    from webapp.booking import ledger
    from webapp.booking.models import Booking

    with pg_app.app_context():
        booking = Booking(id=1)  # transient: only its id and type are read
        recorded = _recorded(pg_app, lambda: ledger.booking_payments(db.session, booking))
        assert recorded
        for statement, parameters in recorded:
            assert _explain(statement, parameters) == [], statement
        db.session.rollback()


def test_the_planner_check_can_fail():
    """The walk finds a sequential scan where a plan has one (nested anywhere)."""
    plan = {"Node Type": "Hash Join", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "t"}]}
    assert _seq_scans(plan) == ["t"]
    by_order = {"Node Type": "Index Scan", "Relation Name": "payment", "Filter": "x"}
    assert _seq_scans(by_order) == ["payment"]
    bounded = {"Node Type": "Index Scan", "Relation Name": "payment", "Index Cond": "x"}
    assert _seq_scans(bounded) == []
    few = {"Node Type": "Index Only Scan", "Relation Name": "t", "Index Name": "ix_few"}
    assert _seq_scans(few, frozenset({"ix_few"})) == [] and _seq_scans(few) == ["t"]


def test_explain_reports_a_query_no_index_answers(pg_app):
    with pg_app.app_context():
        # outbound_email.subject has no index: the planner must scan.
        assert _explain("SELECT id FROM outbound_email WHERE subject = %s", ("x",)) == [
            "outbound_email"
        ]
        db.session.rollback()
        assert db.session.execute(text("SELECT 1")).scalar() == 1
