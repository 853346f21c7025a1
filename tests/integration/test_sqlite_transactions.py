"""SQLite transaction behaviour the engine relies on."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from billing.models import Event
from webapp.extensions import make_engine
from webapp.models import Base


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.sqlite'}")
    Base.metadata.create_all(engine)
    return engine


def test_a_savepoint_opened_before_any_write_does_not_commit_on_release(tmp_path):
    from sqlalchemy.orm import Session

    engine = _engine(tmp_path)
    with Session(engine) as session:
        session.scalar(select(func.count(Event.id)))  # a read first: no transaction yet
        with session.begin_nested():
            session.add(Event(actor="t", subject_type="x", subject_id="1", action="a", data={}))
        session.rollback()  # the outer transaction is abandoned
    with Session(engine) as session:
        assert session.scalar(select(func.count(Event.id))) == 0
    engine.dispose()


def test_read_then_write_waits_for_another_writer_instead_of_failing(tmp_path):
    from sqlalchemy.orm import Session

    engine = _engine(tmp_path)
    first_wrote = threading.Event()
    may_commit = threading.Event()

    def other_writer():
        with Session(engine) as session:
            session.add(Event(actor="t", subject_type="x", subject_id="1", action="a", data={}))
            session.flush()
            first_wrote.set()
            may_commit.wait(5)
            session.commit()

    thread = threading.Thread(target=other_writer)
    with Session(engine) as session:
        session.scalar(select(func.count(Event.id)))  # read before the other commits
        thread.start()
        first_wrote.wait(5)
        threading.Timer(0.3, may_commit.set).start()
        # then write: waits for the other writer's commit, then succeeds
        session.add(Event(actor="t", subject_type="x", subject_id="2", action="b", data={}))
        session.commit()
    thread.join(5)
    with Session(engine) as session:
        assert session.scalar(select(func.count(Event.id))) == 2
    engine.dispose()
