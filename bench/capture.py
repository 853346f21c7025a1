"""Capture and off-session charge: the money core's cost over Stripe's own.

`python -m bench.capture` starts a private localstripe server and times, side
by side and interleaved, for N payments each:

- capture of a hold: `billing.payments.capture` (lock, mark in flight, commit,
  the Stripe call, apply the answer and its events, commit) against a raw
  `stripe` SDK loop capturing PaymentIntents on the same server;
- an off-session charge: `prepare_payment` + `execute_payment` against a raw
  SDK loop creating and confirming the same PaymentIntents.

Figures: median milliseconds per payment, the ratio, and the goal (issue 14:
≤ 1.25×), then one durable commit's cost on the same database: the ledger
commits twice around each Stripe call (the in-flight mark before it, the answer
after it), which is what makes a lost answer recoverable, so against a fast
local fake the difference is mostly those two commits. The app runs on a
throwaway SQLite database (`BENCH_DATABASE_URL` adds PostgreSQL, whose schema
it drops). Feature subscribers (a booking's
totals, invoices, receipts) are not part of this figure: it is the ledger's
own overhead per Stripe write.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from bench.rows import fresh_database

N = int(os.environ.get("BENCH_PAYMENTS", "40"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GOAL = 1.25
KEY = "sk_test_bench"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_localstripe() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "webapp.dev.fakestripe", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-store"]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/js.stripe.com/v3/", timeout=1):  # noqa: S310
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("localstripe did not start")


class App:
    """The ledger on a database and the gateway on localstripe."""

    def __init__(self, database_url: str, stripe_url: str) -> None:
        from billing import cards
        from billing.gateway.stripe_adapter import StripeGateway
        from webapp.accounts.models import Freelancer
        from webapp.extensions import make_engine

        self.engine = make_engine(database_url)
        # What each operation sends to the database: statements and commits.
        self.counts = {"statements": 0, "commits": 0}
        event.listen(self.engine, "before_cursor_execute", self._count_statement)
        event.listen(self.engine, "commit", self._count_commit)
        self.session = Session(self.engine, expire_on_commit=False)
        self.gateway = StripeGateway(KEY, api_base=stripe_url)
        freelancer = Freelancer(
            email="bench@example.test",
            password_hash="!",  # noqa: S106 (no log-in: not a password)
            display_name="Bench",
            slug="bench",
        )
        self.session.add(freelancer)
        self.session.flush()
        self.customer = cards.ensure_customer(
            self.session,
            self.gateway,
            freelancer_id=freelancer.id,
            email="c@example.test",
            name="C",
        )
        self.session.commit()
        self.n = 0

    def _count_statement(self, *_args: Any) -> None:
        self.counts["statements"] += 1

    def _count_commit(self, *_args: Any) -> None:
        self.counts["commits"] += 1

    def pay(self, capture_method: str) -> int:
        from billing import payments
        from billing.ledger import Subject
        from billing.money import Money

        self.n += 1
        payment = payments.prepare_payment(
            self.session,
            customer=self.customer,
            subject=Subject("bench", self.n),
            purpose="prepay",
            amount=Money(1_000, "eur"),
            payment_method_id="pm_card_visa",
            capture_method=capture_method,
            off_session=True,
        )
        self.session.commit()
        payments.execute_payment(self.session, self.gateway, payment.id)
        self.session.commit()
        return payment.id

    def capture(self, payment_id: int) -> None:
        from billing import payments

        payments.capture(self.session, self.gateway, payment_id)
        self.session.commit()

    def commit_ms(self, rounds: int = 40) -> float:
        """One durable write's cost on this database: a one-row UPDATE and its commit."""
        began = time.perf_counter()
        for _ in range(rounds):
            self.session.execute(
                text("UPDATE payment SET updated_at = updated_at WHERE id = :id"), {"id": self.n}
            )
            self.session.commit()
        return (time.perf_counter() - began) * 1000 / rounds

    def close(self) -> None:
        self.session.close()
        self.gateway.close()
        self.engine.dispose()


class Raw:
    """The same Stripe writes from a bare SDK loop."""

    def __init__(self, stripe_url: str) -> None:
        import stripe

        self.client = stripe.StripeClient(KEY, base_addresses={"api": stripe_url})
        self.customer = self.client.v1.customers.create(params={"email": "raw@example.test"}).id

    def pay(self, capture_method: str) -> str:
        return self.client.v1.payment_intents.create(
            params={
                "amount": 1_000,
                "currency": "eur",
                "customer": self.customer,
                "payment_method": "pm_card_visa",
                "capture_method": capture_method,
                "confirm": True,
                "off_session": True,
            }
        ).id

    def capture(self, intent_id: str) -> None:
        self.client.v1.payment_intents.capture(intent_id)


def _per_payment(call: Any, items: list[Any]) -> float:
    began = time.perf_counter()
    for item in items:
        call(item)
    return (time.perf_counter() - began) * 1000 / len(items)


def _counted(app: App, call: Any, items: list[Any]) -> tuple[float, str]:
    before = dict(app.counts)
    ms = _per_payment(call, items)
    per = {k: (app.counts[k] - before[k]) / len(items) for k in before}
    return ms, f"{per['statements']:.0f} statements, {per['commits']:.0f} commits"


def measure(app: App, raw: Raw, counts: dict[str, str]) -> dict[str, tuple[float, float]]:
    """One round: ms per payment for (app, raw), per operation; `counts` gets the app's."""
    out = {}
    ms, counts["off-session charge"] = _counted(app, lambda _: app.pay("automatic"), list(range(N)))
    out["off-session charge"] = (ms, _per_payment(lambda _: raw.pay("automatic"), list(range(N))))
    app_holds = [app.pay("manual") for _ in range(N)]
    raw_holds = [raw.pay("manual") for _ in range(N)]
    ms, counts["capture of a hold"] = _counted(app, app.capture, app_holds)
    out["capture of a hold"] = (ms, _per_payment(raw.capture, raw_holds))
    return out


def main() -> None:
    """Print, per database and operation: app ms, raw SDK ms, ratio, goal."""
    process, stripe_url = _start_localstripe()
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["BENCH_DATABASE_URL"]))
    print(f"Stripe writes, {N} payments per round, median of {ROUNDS} rounds (localstripe)")
    print(f"{'database':>11} {'operation':>20} {'app ms':>8} {'raw ms':>8} {'ratio':>6} goal")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, url in targets:
                app = App(fresh_database(url, Path(tmp), "capture"), stripe_url)
                raw = Raw(stripe_url)
                counts: dict[str, str] = {}
                rounds = [measure(app, raw, counts) for _ in range(ROUNDS)]
                commit = app.commit_ms()
                app.close()
                for operation in rounds[0]:
                    ours = statistics.median(r[operation][0] for r in rounds)
                    theirs = statistics.median(r[operation][1] for r in rounds)
                    ratio = ours / theirs
                    ok = "ok" if ratio <= GOAL else "MISSED"
                    print(
                        f"{name:>11} {operation:>20} {ours:>8.2f} {theirs:>8.2f} "
                        f"{ratio:>5.2f}× ≤ {GOAL}× {ok} "
                        f"(range {min(r[operation][0] / r[operation][1] for r in rounds):.2f}–"
                        f"{max(r[operation][0] / r[operation][1] for r in rounds):.2f}×; "
                        f"per payment {counts[operation]})"
                    )
                # Where the difference goes: the two durable commits around the
                # Stripe call (the mark before, the answer after) that make a
                # lost answer recoverable; the raw loop records nothing.
                print(
                    f"{name:>11} {'one durable commit':>20} {commit:>8.2f} "
                    f"(load {os.getloadavg()[0]:.2f})"
                )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
