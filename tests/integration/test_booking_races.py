"""Booking races through a real HTTP server: one winner per slot, never a 5xx.

The PostgreSQL tests serve the app with werkzeug's threaded server on a free
loopback port; every client is a thread with its own HTTP connection and its
own source address (127.0.0.N), so the per-address rate limit of the public
booking endpoint sees 50 different people, as in production.

The SQLite tests pin down the claim's retry and the answers around it with
injected faults: a deadlock retried then answered 409 `conflict`, a lock
timeout answered 503 `busy`, and Stripe failing after the claim committed.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import WSGIRequestHandler, make_server

from billing.errors import GatewayUnavailable
from billing.gateway.memory import InMemoryGateway
from billing.models import PaymentCustomer
from webapp.booking import claim as booking_claim
from webapp.booking.models import ACTIVE, Booking
from webapp.extensions import csrf, db, make_engine

CLIENTS = 50
ROUNDS = 20
STRIPE_CLIENTS = 12
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def source(n: int) -> str:
    """A loopback source address of its own for client `n` (Linux routes all of 127/8)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def post(port: int, path: str, body: dict, *, client_n: int) -> tuple[int, Any, dict[str, str]]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=60, source_address=(source(client_n), 0)
    )
    try:
        conn.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None, dict(response.getheaders())
    finally:
        conn.close()


def hour_in(days: float, hours: int = 0) -> datetime:
    start = datetime.now(UTC) + timedelta(days=days)
    return start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


def make_seller(app, slug: str, *, policy: str = "hold") -> dict[str, Any]:
    client = app.test_client()
    signup = client.post(
        "/api/v1/signup",
        json={
            "email": f"{slug}@example.test",
            "password": "correct horse battery",
            "display_name": slug,
            "slug": slug,
        },
    )
    assert signup.status_code == 201, signup.get_json()
    token = client.post(
        "/api/v1/tokens",
        json={"email": f"{slug}@example.test", "password": "correct horse battery"},
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    put = client.put(
        "/api/v1/availability",
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
        headers=headers,
    )
    assert put.status_code == 200, put.get_json()
    offering = client.post(
        "/api/v1/offerings",
        json={
            "title": "Call",
            "duration_minutes": 60,
            "amount_minor": 5_000,
            "currency": "eur",
            "payment_policy": policy,
            "buffer_minutes": 15,
            "min_notice_minutes": 0,
        },
        headers=headers,
    )
    assert offering.status_code == 201, offering.get_json()
    return {"slug": slug, "offering": offering.get_json(), "headers": headers, "client": client}


def booking_body(
    seller: dict, start: datetime, n: int, email: str | None = None, tag: str = "x"
) -> dict:
    return {
        "offering_id": seller["offering"]["id"],
        "start": start.isoformat(),
        "client": {"name": f"Client {n}", "email": email or f"c{n}.{tag}@example.test"},
    }


@pytest.fixture
def live_port(pg_app) -> Iterator[int]:
    """The PostgreSQL app behind werkzeug's threaded server on a free loopback port."""
    server = make_server("127.0.0.1", 0, pg_app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="race-server", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def race(
    port: int, seller: dict, start: datetime, clients: int, first_n: int = 0, tag: str = "x"
) -> list[tuple[int, Any, dict[str, str]]]:
    """`clients` clients ask for the same slot at the same moment; their answers."""
    barrier = threading.Barrier(clients)
    path = f"/api/v1/public/freelancers/{seller['slug']}/bookings"

    def attempt(n: int) -> tuple[int, Any, dict[str, str]]:
        body = booking_body(seller, start, n, tag=tag)
        barrier.wait(timeout=30)
        return post(port, path, body, client_n=n)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(attempt, range(first_n, first_n + clients)))


def summary(answers: list[tuple[int, Any, dict[str, str]]]) -> Counter:
    return Counter(
        f"{status} {body['error']['code']}" if status >= 400 and body else str(status)
        for status, body, _ in answers
    )


def active_per_slot(freelancer_slug: str) -> dict[datetime, int]:
    from webapp.accounts.models import Freelancer

    with db.new_session() as session:
        freelancer_id = session.scalar(
            select(Freelancer.id).where(Freelancer.slug == freelancer_slug)
        )
        rows = session.execute(
            select(Booking.start_at, func.count())
            .where(Booking.freelancer_id == freelancer_id, Booking.status.in_(ACTIVE))
            .group_by(Booking.start_at)
        )
        return {start: count for start, count in rows}


# --- PostgreSQL, real concurrency --------------------------------------------


@pytest.mark.postgres
def test_fifty_way_races_twenty_rounds_one_winner_per_slot_zero_5xx(pg_app, live_port):
    # given a freelancer on the in-memory gateway, and 50 clients
    gateway = InMemoryGateway()
    pg_app.config["GATEWAY_FACTORY"] = lambda creds: gateway
    with pg_app.app_context():
        seller = make_seller(pg_app, "race-seller")
        totals: Counter = Counter()
        began = time.monotonic()
        slots = []
        # when each round, the 50 ask for one new slot at the same moment
        for round_n in range(ROUNDS):
            start = hour_in(2, hours=2 * round_n)
            slots.append(start)
            answers = race(live_port, seller, start, CLIENTS, tag=f"r{round_n}")
            counted = summary(answers)
            totals.update(counted)
            # then exactly one booking, every other client a clean "slot taken"
            assert counted == {"201": 1, "409 slot_taken": CLIENTS - 1}, (round_n, counted)
            winner = next(body for status, body, _ in answers if status == 201)
            assert winner["status"] == "pending_payment"
            assert winner["setup_intent_client_secret"]
        elapsed = time.monotonic() - began
        print(
            f"\n{ROUNDS} rounds x {CLIENTS} clients in {elapsed:.1f}s: {dict(totals)}",
        )
        assert not [k for k in totals if k.startswith("5")]
        # and the database holds one active booking per slot, nothing else
        assert active_per_slot("race-seller") == {s: 1 for s in slots}
        with db.new_session() as session:
            assert session.scalar(select(func.count()).select_from(Booking)) == ROUNDS
            assert session.scalar(select(func.count()).select_from(PaymentCustomer)) == ROUNDS


class ObservingGateway:
    """A real gateway that checks, at each Stripe write of the booking claim, that the
    request's database session holds nothing: no write transaction, no advisory lock,
    and the booking it works for is already visible to everybody else."""

    def __init__(self, inner: Any, observer_url: str, seen: list[str]) -> None:
        self._inner = inner
        self._observer_url = observer_url
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _held_by_request(self) -> list[str]:
        session = db.session()
        if not session.in_transaction():
            return []
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(self._observer_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT locktype, mode FROM pg_locks WHERE pid = %s AND granted"
                " AND locktype IN ('advisory', 'transactionid', 'tuple')",
                (pid,),
            ).fetchall()
        return [f"{locktype}:{mode}" for locktype, mode in rows]

    def _visible_booking(self, email: str) -> bool:
        with psycopg.connect(self._observer_url, autocommit=True) as conn:
            return (
                conn.execute(
                    "SELECT count(*) FROM booking WHERE client_email = %s"
                    " AND status = 'pending_payment'",
                    (email,),
                ).fetchone()[0]
                == 1
            )

    def create_customer(self, **kwargs: Any) -> Any:
        held = self._held_by_request()
        visible = self._visible_booking(kwargs["email"])
        self._seen.append(f"create_customer held={held} booking_visible={visible}")
        return self._inner.create_customer(**kwargs)

    def create_setup_intent(self, **kwargs: Any) -> Any:
        held = self._held_by_request()
        self._seen.append(f"create_setup_intent held={held}")
        return self._inner.create_setup_intent(**kwargs)


@pytest.mark.postgres
@pytest.mark.stripe
def test_a_race_on_the_real_fake_stripe_calls_stripe_only_after_the_claim_committed(
    pg_app, live_port, localstripe_url, pg_database_url
):
    # given the real localstripe server behind a gateway that watches the locks
    from billing.gateway.stripe_adapter import StripeGateway

    seen: list[str] = []
    observer_url = pg_database_url.replace("postgresql+psycopg://", "postgresql://")
    pg_app.config["GATEWAY_FACTORY"] = lambda creds: ObservingGateway(
        StripeGateway(creds.secret_key, api_base=localstripe_url), observer_url, seen
    )
    with pg_app.app_context():
        seller = make_seller(pg_app, "stripe-race")
        start = hour_in(3)
        # when a dozen clients race for one slot
        answers = race(live_port, seller, start, STRIPE_CLIENTS, first_n=100)
    # then one booking, the others "slot taken", and the one winner's Stripe calls
    # ran with nothing held, after its booking was committed
    assert summary(answers) == {"201": 1, "409 slot_taken": STRIPE_CLIENTS - 1}, answers
    winner = next(body for status, body, _ in answers if status == 201)
    assert winner["setup_intent_client_secret"].startswith("seti_")
    assert seen == [
        "create_customer held=[] booking_visible=True",
        "create_setup_intent held=[]",
    ]
    with pg_app.app_context():
        assert active_per_slot("stripe-race") == {start: 1}


class SlowCustomers:
    """The in-memory gateway, with a slow customer create: first uses overlap for sure."""

    def __init__(self, inner: InMemoryGateway, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_customer(self, **kwargs: Any) -> Any:
        time.sleep(self._delay)
        return self._inner.create_customer(**kwargs)


@pytest.mark.postgres
def test_one_client_e_mail_used_first_by_two_concurrent_bookings(pg_app, live_port):
    # given a client who books two different slots at the same moment
    gateway = SlowCustomers(InMemoryGateway(), delay=0.3)
    pg_app.config["GATEWAY_FACTORY"] = lambda creds: gateway
    with pg_app.app_context():
        seller = make_seller(pg_app, "same-mail")
    path = f"/api/v1/public/freelancers/{seller['slug']}/bookings"
    barrier = threading.Barrier(2)

    def attempt(n: int) -> tuple[int, Any, dict[str, str]]:
        body = booking_body(seller, hour_in(4, hours=3 * n), n, email="Same@Example.test")
        barrier.wait(timeout=30)
        return post(live_port, path, body, client_n=200 + n)

    # when
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(attempt, range(2)))
    # then both are booked, for one client
    assert [status for status, _, _ in answers] == [201, 201], answers
    with db.new_session() as session:
        customers = session.scalars(select(PaymentCustomer)).all()
        assert [c.email for c in customers] == ["same@example.test"]
        bookings = session.scalars(select(Booking)).all()
        assert {b.customer_id for b in bookings} == {customers[0].id}
        assert all(b.card_setup_id is not None for b in bookings)


# --- SQLite: the claim's retry and its answers ---------------------------------


@pytest.fixture
def memory_gateway() -> InMemoryGateway:
    return InMemoryGateway()


@pytest.fixture
def sqlite_seller(app, memory_gateway) -> dict[str, Any]:
    app.config["GATEWAY_FACTORY"] = lambda creds: memory_gateway
    with app.app_context():
        return make_seller(app, "sqlite-seller")


def _db_error(error_class: type[psycopg.Error]) -> OperationalError:
    return OperationalError("INSERT INTO booking …", {}, error_class("injected"))


def _book(seller: dict, start: datetime, n: int = 1):
    return seller["client"].post(
        f"/api/v1/public/freelancers/{seller['slug']}/bookings", json=booking_body(seller, start, n)
    )


def _failing_claims(monkeypatch, errors: list[Exception]) -> list[int]:
    """The next claims raise these errors first; returns the list of attempts made."""
    real = booking_claim._claim_once
    attempts: list[int] = []

    def claim(*args: Any, **kwargs: Any) -> Booking:
        attempts.append(1)
        if errors:
            raise errors.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(booking_claim, "_claim_once", claim)
    monkeypatch.setattr(booking_claim, "CLAIM_BACKOFF", 0.001)
    return attempts


def test_a_deadlocked_claim_is_run_again_and_succeeds(app, sqlite_seller, monkeypatch):
    attempts = _failing_claims(
        monkeypatch,
        [
            _db_error(psycopg.errors.DeadlockDetected),
            _db_error(psycopg.errors.SerializationFailure),
        ],
    )
    answer = _book(sqlite_seller, hour_in(2))
    assert answer.status_code == 201, answer.get_json()
    assert len(attempts) == 3


def test_a_claim_that_keeps_deadlocking_is_a_409_conflict_never_a_500(
    app, sqlite_seller, monkeypatch
):
    errors = [
        _db_error(psycopg.errors.DeadlockDetected) for _ in range(booking_claim.CLAIM_ATTEMPTS)
    ]
    attempts = _failing_claims(monkeypatch, errors)
    answer = _book(sqlite_seller, hour_in(2))
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "conflict"
    assert answer.headers["Retry-After"] == "1"
    assert len(attempts) == booking_claim.CLAIM_ATTEMPTS
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_a_claim_that_keeps_waiting_for_its_lock_is_a_503_busy(app, sqlite_seller, monkeypatch):
    errors = [
        _db_error(psycopg.errors.LockNotAvailable) for _ in range(booking_claim.CLAIM_ATTEMPTS)
    ]
    _failing_claims(monkeypatch, errors)
    answer = _book(sqlite_seller, hour_in(2))
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "busy"
    assert answer.headers["Retry-After"] == "1"


def test_another_database_error_is_still_a_500(app, sqlite_seller, monkeypatch):
    # the safety net is specific: a real bug is not dressed up as a conflict
    _failing_claims(monkeypatch, [_db_error(psycopg.errors.UndefinedColumn)])
    answer = _book(sqlite_seller, hour_in(2))
    assert answer.status_code == 500
    assert answer.get_json()["error"]["code"] == "internal_error"


def test_stripe_failing_after_the_claim_keeps_the_booking_and_tells_the_client_how_to_go_on(
    app, sqlite_seller, memory_gateway
):
    # given Stripe down when the SetupIntent is made
    memory_gateway.fail_next("create_setup_intent", GatewayUnavailable("Stripe is down"))
    start = hour_in(2)
    # when the client books
    answer = _book(sqlite_seller, start)
    # then 503 with the booking it holds and its manage token
    assert answer.status_code == 503, answer.get_json()
    body = answer.get_json()
    assert body["error"]["code"] == "payment_unavailable"
    assert answer.headers["Retry-After"]
    held = body["booking"]
    assert held["status"] == "pending_payment"
    assert held["manage_token"] and held["pending_expires_at"]
    with app.app_context():
        booking = db.session.get(Booking, held["booking_id"])
        assert booking.status == "pending_payment" and booking.card_setup_id is None
    # and the slot is still held for this client
    assert _book(sqlite_seller, start, n=2).get_json()["error"]["code"] == "slot_taken"
    # and the card form can be opened again with the manage token
    again = sqlite_seller["client"].post(
        f"/api/v1/public/bookings/{held['booking_id']}/card-setup",
        json={"manage_token": held["manage_token"]},
    )
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["setup_intent_client_secret"]
    with app.app_context():
        booking = db.session.get(Booking, held["booking_id"])
        assert booking.card_setup_id is not None and booking.customer_id is not None


@pytest.mark.postgres
def test_a_real_deadlock_is_answered_409_by_the_safety_net(pg_app):
    # given two transactions that lock two rows in opposite orders
    url = pg_app.config["DATABASE_URL"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE race_probe (id int PRIMARY KEY)"))
        conn.execute(text("INSERT INTO race_probe VALUES (1), (2)"))

    @pg_app.post("/api/v1/_test/deadlock/<int:first>/<int:second>")
    @csrf.exempt
    def _deadlock(first: int, second: int):
        db.session.execute(text("SELECT * FROM race_probe WHERE id = :i FOR UPDATE"), {"i": first})
        barrier.wait(timeout=10)
        time.sleep(0.2)
        db.session.execute(text("SELECT * FROM race_probe WHERE id = :i FOR UPDATE"), {"i": second})
        db.session.commit()
        return {"ok": True}

    barrier = threading.Barrier(2)
    client_of: Callable[[], Any] = pg_app.test_client

    def call(order: tuple[int, int]) -> tuple[int, dict, str | None]:
        answer = client_of().post(f"/api/v1/_test/deadlock/{order[0]}/{order[1]}", json={})
        return answer.status_code, answer.get_json(), answer.headers.get("Retry-After")

    # when both run at once
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = sorted(pool.map(call, [(1, 2), (2, 1)]), key=lambda a: a[0])
    engine.dispose()
    # then one wins, the deadlock victim gets 409 conflict with a retry hint
    assert [status for status, _, _ in answers] == [200, 409], answers
    assert answers[1][1]["error"]["code"] == "conflict"
    assert answers[1][2] == "1"
