"""Extensions, created unbound; `create_app` binds them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def make_engine(url: str, *, sqlite_begin: str = "BEGIN IMMEDIATE", **kwargs: Any) -> Engine:
    """An engine with the settings every process needs (SQLite: FKs, WAL, waits).

    SQLite transactions start with `BEGIN IMMEDIATE`: each takes the write
    lock up front and others wait for it (busy_timeout). A deferred BEGIN
    would let a transaction read, then fail at once with "database is locked"
    when it tries to write after another writer committed — SQLite cannot
    upgrade a stale read snapshot, and no timeout helps. One writer at a time
    is what SQLite offers anyway; PostgreSQL is the choice for concurrency.
    Read-only inspection (tests) may pass `sqlite_begin="BEGIN"`.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs (a released
            # savepoint opened before any write commits for real); take over as
            # SQLAlchemy's documentation recommends, and emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql(sqlite_begin)

    return engine


class Database:
    """The engine and a request-scoped session."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session: scoped_session[Session] = scoped_session(sessionmaker())

    def init_app(self, app: Flask) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.session.configure(bind=self.engine, expire_on_commit=False)
        app.teardown_appcontext(self._remove)

    def _remove(self, _exc: BaseException | None) -> None:
        self.session.remove()

    @contextmanager
    def new_session(self) -> Iterator[Session]:
        """A session of its own, outside the request's (workers, CLI)."""
        session = Session(bind=self.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
babel = Babel()
