"""What the benchmarks seed with: a booking row for bulk inserts, a fresh database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text


def booking_row(
    freelancer_id: int,
    offering_id: int,
    start: datetime,
    status: str,
    key: str,
    *,
    payment_state: str = "captured",
    pending_expires_at: datetime | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A one-hour prepaid booking as `insert(Booking)` takes it (`key`: unique per row)."""
    end = start + timedelta(hours=1)
    created = created_at or start
    return {
        "freelancer_id": freelancer_id,
        "offering_id": offering_id,
        "client_name": "Bench",
        "client_email": "bench@example.test",
        "client_timezone": "UTC",
        "start_at": start,
        "end_at": end,
        "block_start": start,
        "block_end": end,
        "status": status,
        "title": "Call",
        "amount_minor": 1_000,
        "currency": "eur",
        "payment_policy": "prepay",
        "deposit_bp": 0,
        "free_cancel_hours": 24,
        "late_cancel_fee_bp": 0,
        "no_show_fee_bp": 0,
        "secure_deadline_hours": 24,
        "payment_state": payment_state,
        "manage_token_hash": f"bench-{key}",
        "manage_token_enc": "x",
        "reschedule_count": 0,
        "pending_expires_at": pending_expires_at,
        "created_at": created,
        "updated_at": created,
    }


def fresh_database(url: str | None, workdir: Path, name: str) -> str:
    """A migrated empty database: a new SQLite file, or PostgreSQL's schema dropped."""
    from webapp.extensions import make_engine
    from webapp.migrate import upgrade

    if url is None:
        path = workdir / f"{name}.sqlite"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url
