"""Two Huey consumers on Redis and two concurrent `billing run-due`, at one simulated time.

Issue 9, "What must hold": zero double charges, each dunning step once.

Each round builds, through the app's API and against the real localstripe
server (which ignores idempotency keys: a repeated charge really charges
twice), a fresh set of money work all due at one simulated time `T`:

- 6 deposit bookings whose session has ended: the balance is charged;
- 4 hold bookings whose hold was placed off-session at its `hold_due_at`:
  the hold is captured (and, being older than 6 hours, is also a candidate
  of the reconcile sweep: capture and re-read race each other);
- 4 quotes with a milestone due on `T`'s date: charged off-session (an
  approved milestone would be due at once, so the consumers' own periodic
  task, at the real time, could charge it first and date its invoice a week
  before the round's, which French numbering refuses);
- 3 dunning cases opened at J+0 by a declined milestone charge
  (4000 0000 0000 0341, saved fine, every charge declined), at J+7 at `T`:
  retry_1 and retry_2 are recorded skipped, retry_3 is attempted, the
  friendly reminder is sent. Two cases keep the declining card; on the third
  the client's card has since been replaced by one that works (the case's
  `payment_method_id` is pointed at a Visa attached to the same customer),
  so its retry succeeds and closes the case.

Then, at the same `T`, concurrently: two `flask --app webapp worker`
consumers (2 threads each) on Redis (started first, they boot while the round
is built; their own periodic task runs at the real time meanwhile, as in
production), fed by the periodic task's own code
(`enqueue_due_work`, run here with the clock frozen at `T`, twice, as two
schedulers would), and two `flask --app webapp billing run-due --now T`
subprocesses (the items are enqueued once both children have reached the
database, seen by their PGAPPNAME in pg_stat_activity). When the queue is
drained and every process has exited, Stripe's own records (PaymentIntents
and charges, read from localstripe directly) must show every amount moved
exactly once and agree with our rows (`tests.faults.agreement`), each
dunning step recorded once per case with its outcome, each reminder e-mail
queued once, and no `due_work_failed` event. Three rounds, with the enqueue shifted against the
run-due start each round to move the overlap around.

PostgreSQL (a database of its own, `<TEST_DATABASE_URL's name>_due_concurrency`)
and Redis (database 12) are required: skipped with the reason when missing,
unless REQUIRE_POSTGRES=1 / REQUIRE_REDIS=1.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from billing import clock
from billing.dunning.models import DunningCase, DunningStep
from billing.models import Event, Payment, PaymentCustomer
from tests.faults import run_due
from tests.faults.agreement import assert_agree
from tests.faults.stripe_truth import IntentMoney, StripeView
from tests.faults.world import DECLINED_LATER, Booked, Quoted, World, make_world, ok, unique_email
from tests.support.requirements import empty_redis
from webapp import due, tasks
from webapp.config import PROJECT_ROOT
from webapp.extensions import limiter
from webapp.mail.models import OutboundEmail

# Redis database 12 is this file's alone: its tests run in one test worker, one by one.
pytestmark = [pytest.mark.stripe, pytest.mark.postgres, pytest.mark.xdist_group("redis-db-12")]

REDIS_URL = "redis://127.0.0.1:6379/12"
ROUNDS = 3
# Seconds between the two run-due children reaching the database and the
# items being enqueued for the consumers, per round: the overlap moves.
ENQUEUE_DELAYS = (0.0, 0.5, 1.0)
DEPOSITS, HOLDS, MILESTONES = 6, 4, 4
DUNNING_DECLINING, DUNNING_RECOVERING = 2, 1
PRICE, DEPOSIT, BALANCE = 10_000, 3_000, 7_000
TIMEOUT = 60.0

# J+7 with the default plan (retries J+1, J+3, J+5; friendly reminder J+7).
STEPS_AT_J7 = {
    "notice": "sent",  # J+0, when the case opened
    "retry_1": "skipped",
    "retry_2": "skipped",
    "friendly": "sent",
}


# --- services -------------------------------------------------------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 12, emptied before and after."""
    with empty_redis(REDIS_URL) as url:
        yield url


def own_database(base_url: str) -> str:
    """`<name>_due_concurrency` on TEST_DATABASE_URL's server: created if missing, reset, migrated.

    Other test runs reset TEST_DATABASE_URL's own schema whenever they start;
    the subprocesses here need the tables to stay put for the whole test.
    """
    from tests.conftest import reset_postgres, sibling_database
    from webapp.migrate import upgrade

    own = sibling_database(base_url, "due_concurrency")
    reset_postgres(own)
    upgrade(own)
    return own


@pytest.fixture
def database_url(pg_url: str, redis_url: str) -> str:  # redis first: skip before migrating
    return own_database(pg_url)


@pytest.fixture
def app_config(app_config: dict[str, Any], localstripe_url: str) -> dict[str, Any]:
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": "sk_test_due_concurrency",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_due_concurrency",
    }


class RoundView(StripeView):
    """localstripe's records, with every PaymentIntent listed once per round (it is slow)."""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self._listed: list[dict[str, Any]] | None = None

    def refresh(self) -> None:
        self._listed = self.get("/v1/payment_intents", limit=100_000)["data"]

    def intents_of(self, email: str) -> list[IntentMoney]:
        from tests.faults.stripe_truth import _id, money_of

        if self._listed is None:
            self.refresh()
        customers = set(self.customers(email))
        return sorted(
            (money_of(pi) for pi in self._listed or [] if _id(pi.get("customer")) in customers),
            key=lambda m: m.id,
        )


# --- one round's data ----------------------------------------------------------------


@dataclass
class Dunned:
    quoted: Quoted
    amount: int
    milestone_id: int
    case_id: int
    recovers: bool  # its card now works: the retry succeeds


@dataclass
class Round:
    number: int
    world: World
    when: datetime  # T: everything below is due then
    deposits: list[Booked] = field(default_factory=list)
    holds: list[Booked] = field(default_factory=list)
    milestones: list[tuple[Quoted, int]] = field(default_factory=list)
    dunned: list[Dunned] = field(default_factory=list)


def book_at(w: World, policy: str, start: datetime, **overrides: Any) -> Booked:
    """One booking at `start` (back-to-back slots: no buffer), the card saved."""
    offering = w.offering(policy, buffer_minutes=0, **overrides)
    email = unique_email(f"conc-{policy}")
    body = ok(
        w.client.post(
            f"/api/v1/public/freelancers/{w.slug}/bookings",
            json={
                "offering_id": offering["id"],
                "start": start.isoformat(),
                "client": {"name": "Camille Client", "email": email},
            },
        ),
        201,
    )
    booked = Booked(w, body["booking_id"], body["manage_token"], email, start, body)
    w.stripe.confirm_setup(body["setup_intent_client_secret"], "pm_card_visa")
    assert ok(booked.confirm())["status"] == "confirmed"
    return booked


def delivered_quote(w: World, amount: int, card: str) -> Quoted:
    """An accepted quote (card saved) whose one milestone is delivered, not approved yet."""
    quoted = w.quote(
        [{"title": "Livraison", "amount_minor": amount, "trigger": "on_approval"}], total=amount
    )
    quoted.accept(card)
    assert ok(quoted.confirm())["status"] == "accepted"
    [milestone] = quoted.milestone_ids
    ok(
        w.client.post(
            f"/api/v1/milestones/{milestone}/deliver", headers=w.headers, json={"note": "v1"}
        )
    )
    return quoted


def dated_quote(w: World, amount: int, card: str, on: date) -> Quoted:
    """An accepted quote (card saved) whose one milestone is charged on its date, `on`."""
    milestone = {"title": "Livraison", "amount_minor": amount, "trigger": "on_date"}
    quoted = w.quote([{**milestone, "due_date": on.isoformat()}], total=amount)
    quoted.accept(card)
    assert ok(quoted.confirm())["status"] == "accepted"
    return quoted


def approve(quoted: Quoted) -> None:
    """The client approves the delivery: the off-session charge is due from now on."""
    [milestone] = quoted.milestone_ids
    ok(
        quoted.world.client.post(
            f"/api/v1/public/milestones/{milestone}/approve", json={"token": quoted.token}
        )
    )


def approved_quote(w: World, amount: int, card: str) -> Quoted:
    quoted = delivered_quote(w, amount, card)
    approve(quoted)
    return quoted


def run_one(w: World, kind: str, item_id: int, now: datetime) -> str | None:
    """One due item in this process (the way a worker's item task runs it)."""
    with w.app.app_context():
        result = due.run_item(kind, item_id, now)
    assert result.error is None, result.error
    return result.line


def build_round(number: int, w: World, session: Session) -> Round:
    opened = datetime.now(UTC) + timedelta(minutes=1)  # J+0 of the dunning cases
    when = opened + timedelta(days=7, hours=1)
    built = Round(number, w, when)

    # Dunning: a milestone charge declined at J+0 opens the case (notice sent).
    for n in range(DUNNING_DECLINING + DUNNING_RECOVERING):
        amount = 40_000 + 1_000 * n
        quoted = approved_quote(w, amount, DECLINED_LATER)
        [milestone_id] = quoted.milestone_ids
        run_one(w, "quotes-charge", milestone_id, opened)
        session.rollback()
        case = session.scalar(
            select(DunningCase).where(
                DunningCase.subject_type == "milestone",
                DunningCase.subject_id == str(milestone_id),
            )
        )
        assert case is not None and case.status == "open", f"no case for milestone {milestone_id}"
        recovers = n >= DUNNING_DECLINING
        if recovers:
            # The client's bank replaced the card: the case's card is now a
            # Visa saved on the same Stripe customer.
            customer = session.get(PaymentCustomer, case.customer_id)
            method = w.stripe.post(
                "/v1/payment_methods",
                {
                    "type": "card",
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": 12,
                        "exp_year": 2034,
                        "cvc": "123",
                    },
                },
            )
            w.stripe.post(
                f"/v1/payment_methods/{method['id']}/attach",
                {"customer": customer.stripe_customer_id},
            )
            case.payment_method_id = method["id"]
            session.commit()
        built.dunned.append(Dunned(quoted, amount, milestone_id, case.id, recovers))

    # Sessions back to back, the last ending 2 h before T (collected 1 h after its end).
    last_start = (when - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    starts = [last_start - timedelta(hours=i) for i in range(HOLDS + DEPOSITS)]
    for start in starts[:HOLDS]:
        booked = book_at(w, "hold", start)
        due_at = booked.booking().hold_due_at
        assert due_at is not None and due_at < when, "a hold placed later, off-session"
        run_one(w, "booking-holds", booked.id, due_at)
        assert [i.status for i in w.stripe.intents_of(booked.email)] == ["requires_capture"]
        built.holds.append(booked)
    for start in starts[HOLDS:]:
        built.deposits.append(book_at(w, "deposit", start, deposit_percent=30))

    for n in range(MILESTONES):
        amount = 20_000 + 1_000 * n
        # Due on T's date, not before: the consumers' periodic task runs at
        # the real time all along and must leave these to the round.
        built.milestones.append((dated_quote(w, amount, "pm_card_visa", when.date()), amount))
    return built


# --- the concurrent run ----------------------------------------------------------------


@dataclass
class Ran:
    worker_logs: list[str]
    run_due_outputs: list[str]
    phases: dict[str, float]  # seconds from the start of the run to each phase's end

    def text(self) -> str:
        """What the processes said, without the per-request chatter of Huey and Stripe."""
        quiet = (" INFO huey", " INFO stripe:")
        parts = [
            f"--- worker {n}\n"
            + "\n".join(line for line in log.splitlines() if not any(q in line for q in quiet))
            for n, log in enumerate(self.worker_logs)
        ]
        parts += [f"--- run-due {n}\n{out}" for n, out in enumerate(self.run_due_outputs)]
        return "\n".join(parts)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for(condition, what: str, logs: list[Path], timeout: float = TIMEOUT) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s:\n" + "\n".join(p.read_text() for p in logs))
        time.sleep(0.1)


STARTED = re.compile(r"run-due: (nothing due at|\d+ item\(s\) enqueued at)")


def started(logs: list[Path]) -> int:
    """How many periodic enqueues the consumers' logs show."""
    return sum(len(STARTED.findall(log.read_text())) for log in logs)


def connected(session: Session, names: list[str]) -> bool:
    """Whether a backend of every application name in `names` is on the server."""
    found = session.scalars(
        text(
            "SELECT DISTINCT application_name FROM pg_stat_activity"
            " WHERE application_name = ANY(:n)"
        ),
        {"n": names},
    ).all()
    session.rollback()
    return len(found) == len(names)


def run_concurrently(  # noqa: ANN001 (the app)
    app,
    session: Session,
    env: dict[str, str],
    build: Callable[[], Round],
    folder: Path,
    delay: float,
) -> tuple[Round, Ran]:
    """Two consumers and two run-due children at the round's T; returns once all have exited.

    The consumers start first and boot while `build` makes the round's data;
    once they are up the children start.
    """
    folder.mkdir()
    worker_logs = [folder / "worker-a.log", folder / "worker-b.log"]
    run_due_logs = [folder / "run-due-a.log", folder / "run-due-b.log"]
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    processes: list[subprocess.Popen[bytes]] = []
    began, phases = time.monotonic(), {}

    def lap(name: str) -> None:
        phases[name] = round(time.monotonic() - began, 1)

    try:
        workers = [start([*flask, "worker", "--workers", "2"], env, log) for log in worker_logs]
        processes += workers
        built = build()
        when = built.when
        lap("built")
        # Ready: both consumers are up and both start-up periodic tasks (real
        # time) have run, whichever consumer took them.
        wait_for(lambda: started(worker_logs) >= 2, "the workers never started", worker_logs)
        lap("workers up")
        command = [*flask, "billing", "run-due", "--now", when.isoformat()]
        names = [f"acompte-run-due-{folder.name}-{n}" for n in range(len(run_due_logs))]
        children = [
            start(command, {**env, "PGAPPNAME": name}, log)
            for name, log in zip(names, run_due_logs, strict=True)
        ]
        processes += children
        # Enqueue once both children have reached the database (their app is
        # loaded and their first kind is being found), `delay` later.
        wait_for(lambda: connected(session, names), "run-due never connected", run_due_logs)
        lap("run-due up")
        time.sleep(delay)
        # The periodic task's own code, as two schedulers would run it at `when`.
        with app.app_context(), clock.frozen(when):
            for _ in range(2):
                tasks.enqueue_due_work.call_local()
        for child, log in zip(children, run_due_logs, strict=True):
            try:
                code = child.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"run-due did not finish within {TIMEOUT} s:\n{log.read_text()}")
            assert code == 0, log.read_text()
        lap("run-due done")
        wait_for(lambda: tasks.huey.pending_count() == 0, "the queue did not drain", worker_logs)
        lap("drained")
        for process in workers:
            process.send_signal(signal.SIGINT)  # graceful: running tasks finish first
        for process, log in zip(workers, worker_logs, strict=True):
            assert process.wait(timeout=TIMEOUT) == 0, log.read_text()
        lap("workers stopped")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = [p.read_text() for p in run_due_logs]
    return built, Ran([p.read_text() for p in worker_logs], outputs, phases)


# --- what must hold ---------------------------------------------------------------------


def check_round(built: Round, ran: Ran, session: Session, stripe: RoundView) -> list[str]:
    """Every disagreement of the round with "each amount once, each step once"."""
    context = ran.text()
    stripe.refresh()
    problems: list[str] = []

    def agree(
        email: str, captured: list[int], what: str, purpose: str | None = None, declined: int = 0
    ) -> None:
        # The money itself: Stripe's charges of the client, paid and declined.
        charges = stripe.charges_of(email)
        paid = sorted(int(c["amount"]) for c in charges if c.get("status") == "succeeded")
        failed = [c for c in charges if c.get("status") == "failed"]
        if paid != sorted(captured) or len(failed) != declined:
            problems.append(
                f"{what}: Stripe's charges: paid {paid} (expected {sorted(captured)}), "
                f"{len(failed)} declined (expected {declined})"
            )
        try:
            result = assert_agree(session, stripe, email, captured=captured, context=what)
        except AssertionError as exc:
            problems.append(f"{what}:\n{exc}")
            return
        if purpose is not None and len(result.intents_for(purpose)) != 1:
            problems.append(
                f"{what}: {len(result.intents_for(purpose))} {purpose} PaymentIntents\n"
                f"{result.report()}"
            )

    for booked in built.deposits:
        agree(booked.email, [DEPOSIT, BALANCE], f"deposit booking {booked.id}", "balance")
    for booked in built.holds:
        agree(booked.email, [PRICE], f"hold booking {booked.id}", "hold")
        held = session.scalars(
            select(Payment.id).where(
                Payment.subject_type == "booking", Payment.subject_id == str(booked.id)
            )
        ).all()
        captures = session.scalar(
            select(func.count()).where(
                Event.subject_type == "payment",
                Event.subject_id.in_([str(i) for i in held]),
                Event.action == "payment_succeeded",
            )
        )
        if captures != 1:
            problems.append(f"hold booking {booked.id}: {captures} payment_succeeded events")
    for booked in built.deposits + built.holds:
        booking = booked.booking()
        if booking.status != "completed":
            problems.append(f"booking {booking.id}: {booking.status}, {booking.payment_state}")
    for quoted, amount in built.milestones:
        agree(quoted.email, [amount], f"milestone {quoted.milestone_ids[0]}", "milestone")
        if [m["status"] for m in quoted.detail()["milestones"]] != ["paid"]:
            problems.append(f"milestone {quoted.milestone_ids[0]}: {quoted.detail()['milestones']}")

    for dunned in built.dunned:
        what = f"dunning case {dunned.case_id} ({'recovers' if dunned.recovers else 'declines'})"
        agree(
            dunned.quoted.email,
            [dunned.amount] if dunned.recovers else [],
            what,
            "dunning_retry",
            # the J+0 charge, and the J+5 retry unless the card now works
            declined=1 if dunned.recovers else 2,
        )
        steps = {
            s.step: s.outcome
            for s in session.scalars(
                select(DunningStep).where(DunningStep.case_id == dunned.case_id)
            )
        }
        expected = {**STEPS_AT_J7, "retry_3": "charged" if dunned.recovers else "failed"}
        if steps != expected:
            problems.append(f"{what}: steps {steps}, expected {expected}")
        timeline = Counter(
            session.scalars(
                select(Event.action).where(
                    Event.subject_type == "dunning_case", Event.subject_id == str(dunned.case_id)
                )
            )
        )
        outcome = "dunning_retry_charged" if dunned.recovers else "dunning_retry_failed"
        for action in [f"dunning_step_{step}" for step in expected] + [outcome]:
            if timeline[action] != 1:
                problems.append(f"{what}: {timeline[action]} {action} events: {dict(timeline)}")
        case = session.get(DunningCase, dunned.case_id)
        status = "paid" if dunned.recovers else "open"
        if case.status != status:
            problems.append(f"{what}: {case.status}, expected {status}")
        subjects = Counter(
            re.sub(r"invoice \S+", "invoice N", subject)
            for subject in session.scalars(
                select(OutboundEmail.subject).where(OutboundEmail.to_addr == dunned.quoted.email)
            )
        )
        for subject in (
            "Your payment did not go through — invoice N",
            "Friendly reminder: invoice N",
        ):
            if subjects[subject] != 1:
                problems.append(f"{what}: {subjects[subject]} × {subject!r}: {dict(subjects)}")

    failures = session.execute(
        select(Event.subject_type, Event.subject_id, Event.data).where(
            Event.action == due.FAILED_ACTION
        )
    ).all()
    if failures:
        problems.append(f"due_work_failed events: {failures}")
    failed_lines = [
        line for line in context.splitlines() if ": failed:" in line or "Traceback" in line
    ]
    if failed_lines:
        problems.append("failed items in the output:\n" + "\n".join(failed_lines))
    return problems


def test_two_workers_and_two_run_dues_move_each_amount_once_and_each_step_once(
    app,
    client,
    localstripe_url,
    make_freelancer,
    app_config,
    database_url,
    db_session,
    redis_url,
    tmp_path,
):  # noqa: ANN001
    stripe = RoundView(localstripe_url)  # judging: PaymentIntents listed once per round
    env = run_due.child_env(database_url, tmp_path, localstripe_url, app_config)
    env["HUEY_URL"] = redis_url
    import redis

    queue = redis.Redis.from_url(redis_url)
    summary: list[str] = []
    failed: list[str] = []
    try:
        for number in range(ROUNDS):
            # given a fresh freelancer and fresh due work, all due at T (built
            # while the consumers boot), when two consumers and two run-due
            # children run it at T, concurrently
            limiter.reset()  # the public endpoints' per-client limits, not under test
            w = make_world(app, client, StripeView(localstripe_url), make_freelancer)
            queue.flushdb()
            began = time.monotonic()
            with run_due_queue(redis_url):
                built, ran = run_concurrently(
                    app,
                    db_session,
                    env,
                    lambda number=number, w=w: build_round(number, w, db_session),
                    tmp_path / f"round-{number}",
                    ENQUEUE_DELAYS[number],
                )
            ran_in = time.monotonic() - began
            # then each amount moved once, each step happened once
            db_session.rollback()
            problems = check_round(built, ran, db_session, stripe)
            shares = work_shares(ran)
            summary.append(f"round {number}: {ran_in:.1f} s {ran.phases}, work done by {shares}")
            if problems:
                failed.append(
                    f"=== round {number} at {built.when.isoformat()}:\n"
                    + "\n\n".join(problems)
                    + f"\n\n{ran.text()}"
                )
    finally:
        queue.close()
        print("\n".join(summary))
    # Every round runs (fresh data each), then every disagreement is shown.
    assert not failed, "\n\n".join(failed)


def run_due_queue(url: str):  # noqa: ANN201
    """Enqueue from this process into the Redis queue the consumers read."""
    from tests.integration.test_worker import queue_at

    return queue_at(url)


MONEY = re.compile(r"(booking-collect|quotes-charge|dunning-sweep): ")


def work_shares(ran: Ran) -> dict[str, int]:
    """How many money items each process did (its output's lines for them)."""
    shares = {}
    for n, log in enumerate(ran.worker_logs):
        shares[f"worker {n}"] = sum(1 for line in log.splitlines() if MONEY.search(line))
    for n, out in enumerate(ran.run_due_outputs):
        shares[f"run-due {n}"] = sum(1 for line in out.splitlines() if MONEY.match(line))
    return shares
