"""Webhook ingestion benchmark: verify, store, deduplicate and process, per second.

`python -m bench.webhooks` sends N signed `payment_intent.succeeded` events
through the real endpoint (Flask test client, migrated database), then the
same N again (duplicates), and prints events per second for each, on SQLite
and — when TEST_DATABASE_URL is set — on PostgreSQL, side by side.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from billing.webhooks import sign
from webapp import create_app
from webapp.migrate import upgrade

N = 300
SECRET = "whsec_bench_secret"  # noqa: S105 (a benchmark-only signing secret)


def _payload(i: int) -> bytes:
    event = {
        "id": f"evt_bench_{i}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_700_000_000 + i,
        "data": {
            "object": {
                "id": f"pi_bench_{i}",
                "object": "payment_intent",
                "client_secret": "s",
                "status": "succeeded",
                "amount": 1000,
                "currency": "eur",
                "metadata": {},
            }
        },
    }
    return json.dumps(event).encode()


def _rate(client, payloads: list[bytes]) -> float:
    started = time.perf_counter()
    for payload in payloads:
        header = sign(payload, SECRET, int(time.time()))
        answer = client.post(
            "/stripe/webhook",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": header},
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return len(payloads) / (time.perf_counter() - started)


def run(url: str, workdir: Path) -> tuple[float, float]:
    """(new events per second, duplicate events per second) against `url`."""
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "TESTING": True,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "HUEY_URL": f"sqlite:///{workdir / 'huey.sqlite'}",
        }
    )
    client = app.test_client()
    payloads = [_payload(i) for i in range(N)]
    return _rate(client, payloads), _rate(client, payloads)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = [("sqlite", *run(f"sqlite:///{workdir / 'bench.sqlite'}", workdir))]
        pg = os.environ.get("TEST_DATABASE_URL")
        if pg:
            from sqlalchemy import text

            from webapp.extensions import make_engine

            engine = make_engine(pg)
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
            rows.append(("postgresql", *run(pg, workdir)))
    print(f"webhooks: {N} signed events through POST /stripe/webhook")
    print(f"{'database':<12}{'new events/s':>14}{'duplicates/s':>14}")
    for name, fresh, dup in rows:
        print(f"{name:<12}{fresh:>14.0f}{dup:>14.0f}")


if __name__ == "__main__":
    main()
