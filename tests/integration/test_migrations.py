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


def _existing_rows_get_documents_defaults(url: str) -> None:
    """0012_documents on a database with data: consumers stay consumers, invoices stay
    `invoice`, quotes get a number and their client's SIREN from the SIRET."""
    from sqlalchemy import text

    upgrade(url, "0011_sessions_tokens")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO freelancer (id, email, password_hash, display_name, slug, locale,"
                " legal_name, siret, address, vat_regime, vat_rate_bp, vat_number, iban, bic,"
                " timezone, currency, payment_terms_days, is_active, session_version,"
                " created_at) VALUES (1, 'a@x.fr', 'x', 'A', 'aa', 'fr', 'A EI',"
                " '73282932000074', '1 rue A', 'franchise', 0, '', '', '', 'Europe/Paris',"
                " 'eur', 30, true, 0, '2026-03-01 10:00:00')"
            )
        )
        for qid, day in ((1, "2026-03-02"), (2, "2026-03-05")):
            conn.execute(
                text(
                    "INSERT INTO quote (id, freelancer_id, title, currency, client_name,"
                    " client_email, client_company, client_siret,"
                    " client_address, client_is_business, terms, valid_until,"
                    " auto_approve_days, total_minor, status, current_version,"
                    " public_token_hash, public_token_enc, decline_reason, created_at, updated_at)"
                    " VALUES (:id, 1, 'Q', 'eur', 'C', 'c@x.fr', 'ACME',"
                    " '55203253400646', '1 rue B', true, '', '2026-04-01', 7, 100, 'draft', 1,"
                    " :hash, 'x', '', :day, :day)"
                ),
                {"id": qid, "hash": f"h{qid}", "day": f"{day} 10:00:00"},
            )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        numbers = conn.execute(text("SELECT number FROM quote ORDER BY id")).scalars().all()
        details = conn.execute(text("SELECT client_details FROM quote WHERE id = 1")).scalar()
        sequence = conn.execute(
            text("SELECT next_number FROM invoice_sequence WHERE kind = 'quote'")
        ).scalar()
        legal_form = conn.execute(text("SELECT legal_form FROM freelancer")).scalar()
    engine.dispose()
    assert numbers == ["D2026-0001", "D2026-0002"] and sequence == 3
    if isinstance(details, str):
        import json

        details = json.loads(details)
    assert details["siren"] == "552032534" and details["company"] == "ACME"
    assert legal_form == ""  # invoicing then names it as missing


def test_sqlite_documents_migration_fills_existing_rows(tmp_path):
    _existing_rows_get_documents_defaults(f"sqlite:///{tmp_path / 'rows.sqlite'}")


@pytest.mark.postgres
def test_postgres_documents_migration_fills_existing_rows(pg_url):
    reset_postgres(pg_url)
    _existing_rows_get_documents_defaults(pg_url)
