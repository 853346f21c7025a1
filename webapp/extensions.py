"""Extensions, created unbound; `create_app` binds them.

`db` and `babel` serve every command. `login_manager`, `csrf` and `limiter`
serve requests only: each is created on first use (`from webapp.extensions
import limiter` creates it), so that a command whose app defers its web layer
(`webapp.deferred`) does not import Flask-Limiter, Flask-WTF or Flask-Login.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_babel import Babel
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings every process needs (SQLite: FKs, WAL, waits).

    SQLite keeps pysqlite's own transaction handling: a transaction begins at
    its first write, so reads before it never hold a snapshot that a later
    write could not upgrade (SQLite would fail such a write at once with
    "database is locked", whatever the timeout), and a writer waits for
    another one (busy_timeout). `billing.locking.lock` writes first for that
    reason. One gap is mended here: a SAVEPOINT opened before any write would
    itself start the transaction, and releasing it would commit everything,
    so a real BEGIN is emitted first.
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "savepoint")
        def _sqlite_begin_before_savepoint(conn: Any, _name: str) -> None:
            if not conn.connection.dbapi_connection.in_transaction:
                conn.exec_driver_sql("BEGIN")

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
babel = Babel()

if TYPE_CHECKING:
    from flask_limiter import Limiter
    from flask_login import LoginManager
    from flask_wtf import CSRFProtect

    login_manager: LoginManager
    csrf: CSRFProtect
    limiter: Limiter


def _login_manager() -> Any:
    from flask_login import LoginManager

    return LoginManager()


def _csrf() -> Any:
    from flask_wtf import CSRFProtect

    return CSRFProtect()


def _limiter() -> Any:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    return Limiter(key_func=get_remote_address, default_limits=[])


_MADE_ON_FIRST_USE: dict[str, Callable[[], Any]] = {
    "login_manager": _login_manager,
    "csrf": _csrf,
    "limiter": _limiter,
}
_making = threading.Lock()


def __getattr__(name: str) -> Any:
    """`login_manager`, `csrf`, `limiter`: one each per process, made on first use."""
    make = _MADE_ON_FIRST_USE.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _making:
        if name not in globals():
            globals()[name] = make()
    return globals()[name]
