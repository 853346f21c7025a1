"""The schema changes only through Alembic: migrations and models must agree."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import reset_postgres
from webapp.extensions import make_engine
from webapp.migrate import upgrade
from webapp.models import Base


def _diff(url: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_sqlite_upgrade_from_empty_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    upgrade(url)
    assert set(Base.metadata.tables) <= _tables(url)
    assert _diff(url) == []


@pytest.mark.postgres
def test_postgres_upgrade_from_empty_matches_models(pg_url):
    reset_postgres(pg_url)
    upgrade(pg_url)
    assert set(Base.metadata.tables) <= _tables(pg_url)
    assert _diff(pg_url) == []


def test_upgrade_twice_is_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.sqlite'}"
    upgrade(url)
    upgrade(url)
    assert _diff(url) == []


def test_history_has_a_single_head():
    from alembic.script import ScriptDirectory

    from webapp.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, f"merge the migration branches: {heads}"
