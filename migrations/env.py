"""Alembic environment: the URL comes from the caller (`webapp.migrate`)."""

from alembic import context
from sqlalchemy import pool

from webapp.extensions import make_engine
from webapp.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    # Our UTCDateTime renders as the project type so revisions stay importable.
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        autogen_context.imports.add("import billing.db")
        return "billing.db.UTCDateTime()"
    return False


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
