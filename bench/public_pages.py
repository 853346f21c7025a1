"""Public pages against the framework floor, served the same way (issue 14).

`python -m bench.public_pages` seeds the demo freelancer (`flask demo seed`:
profile, 3 offerings, weekday hours) plus `BOOKINGS` confirmed bookings this
month, starts two gunicorn servers with the same settings (2 sync workers):

- the app (`webapp:create_app()`);
- the floor (`bench.floor_app`): a bare Flask route rendering a comparable
  template (the same base layout, three offering cards), and a bare JSON route
  returning a comparable list of slots, no database;

then loads each with `CLIENTS` keep-alive HTTP clients for `SECONDS` per
round, interleaving app and floor, and prints requests per second for
`GET /<slug>` and the slots API next to their floor, the ratio and the goal
(≥ 0.6× of the floor). SQLite; `BENCH_DATABASE_URL` runs it on PostgreSQL
instead (its schema is dropped).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
BOOKINGS = 500
GOAL = 0.6


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret",
        "HUEY_URL": f"sqlite:///{workdir / 'huey.sqlite'}",
        "RATELIMIT_ENABLED": "false",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "PYTHONPATH": str(ROOT),
    }


def _seed(env: dict[str, str]) -> None:
    """The demo freelancer and BOOKINGS confirmed sessions in the coming month."""
    python = sys.executable
    subprocess.run(  # noqa: S603 (our own interpreter)
        [python, "-m", "flask", "--app", "webapp", "db", "upgrade"], env=env, check=True
    )
    subprocess.run(  # noqa: S603
        [python, "-m", "flask", "--app", "webapp", "demo", "seed"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from bench.rows import booking_row
    from webapp.accounts.models import Freelancer
    from webapp.booking.models import Booking, Offering
    from webapp.extensions import make_engine

    engine = make_engine(env["DATABASE_URL"])
    with Session(engine) as session:
        freelancer = session.scalars(select(Freelancer).filter_by(slug="camille")).one()
        offering = session.scalars(select(Offering).filter_by(freelancer_id=freelancer.id)).first()
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        rows = []
        for n in range(BOOKINGS):
            at = start + timedelta(minutes=83 * n)
            rows.append(
                booking_row(
                    freelancer.id,
                    offering.id,
                    at,
                    "confirmed",
                    f"confirmed-{n}",
                    payment_state="none",
                    created_at=at - timedelta(days=2),
                )
            )
        session.execute(insert(Booking), rows)
        session.commit()
    engine.dispose()


class Server:
    """A gunicorn serving `app` on a free loopback port, stopped on close."""

    def __init__(self, app: str, env: dict[str, str]) -> None:
        self.port = _port()
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", "2", "--no-control-socket", app]
        self.process = subprocess.Popen(  # noqa: S603
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError(f"gunicorn {app} did not start")

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        self.process.wait(timeout=20)


def load(port: int, path: str, seconds: float = SECONDS) -> float:
    """Requests per second with CLIENTS keep-alive clients for `seconds` (2xx only)."""
    done = [0] * CLIENTS
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            connection.request("GET", path, headers={"Accept-Language": "fr"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"{path}: {response.status}")
                return
            done[n] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(failures[0])
    return sum(done) / (time.monotonic() - began)


def main() -> None:
    """Print each public path's requests per second next to its floor, the ratio, the goal."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = os.environ.get("BENCH_DATABASE_URL")
        if url:
            from bench.rows import fresh_database

            url = fresh_database(url, workdir, "public")
        else:
            url = f"sqlite:///{workdir / 'public.sqlite'}"
        env = _env(url, workdir)
        _seed(env)
        day = (datetime.now(UTC) + timedelta(days=2)).date()
        slots = (
            f"/api/v1/public/freelancers/camille/offerings/1/slots?from={day}"
            f"&to={day + timedelta(days=6)}&tz=Europe/Paris"
        )
        cases = [("GET /<slug>", "/camille", "/page"), ("slots API (7 days)", slots, "/slots")]
        app, floor = Server("webapp:create_app()", env), Server("bench.floor_app:app", env)
        try:
            for _, ours, theirs in cases:  # warm both (templates, caches, connections)
                load(app.port, ours, 1)
                load(floor.port, theirs, 1)
            database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
            print(f"public pages on {database}, gunicorn 2 workers, {CLIENTS} clients, ")
            print(f"median of {ROUNDS} rounds of {SECONDS:g} s")
            print(f"{'path':>20} {'app req/s':>10} {'floor req/s':>12} {'ratio':>6} goal")
            for name, ours, theirs in cases:
                mine, base = [], []
                for _ in range(ROUNDS):
                    mine.append(load(app.port, ours))
                    base.append(load(floor.port, theirs))
                a, f = statistics.median(mine), statistics.median(base)
                ok = "ok" if a / f >= GOAL else "MISSED"
                print(f"{name:>20} {a:>10.0f} {f:>12.0f} {a / f:>5.2f}× ≥ {GOAL}× {ok}")
        finally:
            app.close()
            floor.close()


if __name__ == "__main__":
    main()
