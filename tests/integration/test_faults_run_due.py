"""Fault injection, off-session: `billing run-due` killed (SIGKILL) at each Stripe write.

Each scenario builds its data through the app's API, then runs
`flask --app webapp billing run-due --now T` as a child process whose Stripe
traffic goes through `FaultProxy`. The proxy holds the scenario's write:

- `after_write`: forwarded, localstripe acted (charged, captured, released),
  the answer held while the child is killed — the crash between Stripe's
  answer and our commit;
- `before_write`: never forwarded — the child dies before anything happened.

Then the sweep (`run-due` at later times, no fault) runs twice, and Stripe's
own records (read from localstripe directly) must agree with our rows, with
each amount moved exactly once. localstripe ignores idempotency keys: a
blind repeat of the write really charges, captures or refunds twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.faults import run_due
from tests.faults.agreement import assert_agree
from tests.faults.report import count_scenario
from tests.faults.stripe_truth import StripeView
from tests.faults.world import DECLINED_LATER, World, make_world, ok
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.stripe

CREATE = r"/v1/payment_intents"
CAPTURE = r"/v1/payment_intents/[^/]+/capture"
CANCEL = r"/v1/payment_intents/[^/]+/cancel"


@pytest.fixture(autouse=True)
def _scenario(request: pytest.FixtureRequest) -> None:
    count_scenario(request)


@pytest.fixture
def proxy(localstripe_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(localstripe_url) as proxy:
        yield proxy


@pytest.fixture
def app_config(app_config: dict[str, Any], proxy: FaultProxy) -> dict[str, Any]:
    return {
        **app_config,
        "STRIPE_API_BASE": proxy.url,
        "STRIPE_SECRET_KEY": "sk_test_faults",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_faults",
    }


@pytest.fixture
def database_url(request, migrated_sqlite_template, tmp_path) -> str:  # noqa: ANN001
    """A SQLite file per test, or the PostgreSQL database for tests marked `postgres`."""
    if request.node.get_closest_marker("postgres"):
        return own_postgres(request.getfixturevalue("pg_url"))
    import shutil

    path = tmp_path / "acompte.sqlite"
    shutil.copy(migrated_sqlite_template, path)
    return f"sqlite:///{path}"


def own_postgres(base_url: str) -> str:
    """A migrated, empty database of the suite's own (`<name>_faults`) on the same server.

    Other test runs on this server reset TEST_DATABASE_URL's schema whenever
    they start a PostgreSQL test; a killed child and its sweep need the tables
    to stay put for the whole scenario.
    """
    from tests.conftest import reset_postgres, sibling_database
    from webapp.migrate import upgrade

    own = sibling_database(base_url, "faults")
    reset_postgres(own)
    upgrade(own)
    return own


@pytest.fixture
def world(app, client, localstripe_url, make_freelancer) -> World:  # noqa: ANN001
    return make_world(app, client, StripeView(localstripe_url), make_freelancer)


@dataclass
class Setup:
    """What one scenario built: whose money, when run-due acts, which write to fault."""

    email: str
    when: datetime
    path: str
    captured: list[int]  # what Stripe must have kept at the end, one amount per intent
    check: Callable[[], None] = lambda: None
    refunded: list[int] = field(default_factory=list)
    purpose: str | None = None  # exactly one PaymentIntent of this purpose at Stripe
    authorized: list[int] = field(default_factory=list)  # holds left in place at Stripe
    describe: Callable[[], str] = lambda: ""  # the subject's state, for failure messages


# --- the scenarios -------------------------------------------------------------


def deposit_balance(w: World) -> Setup:
    """A deposit booking's balance, charged off-session after the session."""
    booked = w.book("deposit", deposit_percent=30)
    assert ok(booked.confirm())["status"] == "confirmed"

    def check() -> None:
        assert booked.booking().status == "completed"

    return Setup(
        booked.email,
        booked.start + timedelta(hours=2),
        CREATE,
        [3_000, 7_000],
        check,
        purpose="balance",
    )


def hold_capture(w: World) -> Setup:
    """A hold booking captured after the session."""
    booked = w.book("hold")
    assert ok(booked.confirm())["status"] == "confirmed"

    def check() -> None:
        booking = booked.booking()
        assert (booking.status, booking.payment_state) == ("completed", "captured")

    def describe() -> str:
        booking = booked.booking()
        return f"booking {booking.id}: {booking.status}, {booking.payment_state}"

    return Setup(
        booked.email,
        booked.start + timedelta(hours=2),
        CAPTURE,
        [10_000],
        check,
        describe=describe,
    )


def far_hold_placement(w: World) -> Setup:
    """A far-away hold booking: the hold placed off-session at `hold_due_at`, captured after."""
    booked = w.book("hold", days=20)
    assert ok(booked.confirm())["status"] == "confirmed"
    due = booked.booking().hold_due_at
    assert due is not None

    def check() -> None:
        # the hold was placed once; collecting after the session captures it once
        run_due.inline(w.app, booked.start + timedelta(hours=2))
        booking = booked.booking()
        assert (booking.status, booking.payment_state) == ("completed", "captured")
        with w.app.app_context():
            from webapp.extensions import db

            with db.new_session() as session:
                assert_agree(session, w.stripe, booked.email, captured=[10_000])

    # after the sweep: one hold placed, nothing captured yet
    return Setup(booked.email, due, CREATE, [], check, purpose="hold", authorized=[10_000])


def expired_three_d_secure_release(w: World) -> Setup:
    """A prepay booking left at 3-D Secure: run-due expires it and cancels its PaymentIntent."""
    booked = w.book("prepay", card=None)
    card = w.stripe.three_d_secure_card()
    w.stripe.confirm_setup(booked.created["setup_intent_client_secret"], card)
    assert ok(booked.confirm())["status"] == "requires_action"

    def check() -> None:
        assert booked.booking().status == "expired"
        [intent] = w.stripe.intents_of(booked.email)
        assert intent.status == "canceled"

    return Setup(booked.email, _now() + timedelta(minutes=20), CANCEL, [], check)


def milestone_approved(w: World) -> Setup:
    """A milestone approved by the client, charged off-session by run-due."""
    quoted = w.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Maquettes", "amount_minor": 70_000, "trigger": "on_approval"},
        ]
    )
    quoted.accept()
    assert ok(quoted.confirm())["status"] == "accepted"
    quoted.deliver_and_approve(1)

    def check() -> None:
        assert [m["status"] for m in quoted.detail()["milestones"]] == ["paid", "paid"]

    return Setup(quoted.email, _now() + timedelta(minutes=1), CREATE, [30_000, 70_000], check)


def milestone_on_date(w: World) -> Setup:
    """An `on_date` milestone charged off-session on its date."""
    due = date.today() + timedelta(days=3)
    quoted = w.quote(
        [
            {"title": "Acompte", "percent": 30, "trigger": "on_acceptance"},
            {
                "title": "Solde",
                "amount_minor": 70_000,
                "trigger": "on_date",
                "due_date": due.isoformat(),
            },
        ]
    )
    quoted.accept()
    assert ok(quoted.confirm())["status"] == "accepted"

    def check() -> None:
        assert [m["status"] for m in quoted.detail()["milestones"]] == ["paid", "paid"]

    return Setup(quoted.email, _now() + timedelta(days=4), CREATE, [30_000, 70_000], check)


def dunning_retry(w: World) -> Setup:
    """A declined milestone charge opens a case; the J+1 card retry is the faulted write."""
    quoted = w.quote([{"title": "Livraison", "amount_minor": 100_000, "trigger": "on_approval"}])
    quoted.accept(DECLINED_LATER)
    assert ok(quoted.confirm())["status"] == "accepted"
    quoted.deliver_and_approve(0)
    run_due.inline(w.app, _now() + timedelta(minutes=1))  # the charge, declined: J+0
    [declined] = w.stripe.intents_of(quoted.email)
    assert declined.status == "requires_payment_method"

    def check() -> None:
        from sqlalchemy import select

        from billing.dunning.models import DunningStep
        from webapp.extensions import db

        with w.app.app_context():
            steps = [s.step for s in db.session.scalars(select(DunningStep))]
        assert steps.count("retry_1") == 1, steps

    # the declined charge and one retry (declined too): two attempts, no money
    return Setup(
        quoted.email,
        _now() + timedelta(days=1, hours=1),
        CREATE,
        [],
        check,
        purpose="dunning_retry",
    )


def question_released(w: World) -> Setup:
    """A paid question never answered: its hold is released at the deadline."""
    asked = w.ask()
    assert ok(asked.confirm())["status"] == "awaiting_answer"
    deadline = asked.question().deadline_at

    def check() -> None:
        assert asked.question().status == "expired"
        [intent] = w.stripe.intents_of(asked.email)
        assert intent.status == "canceled"

    return Setup(asked.email, deadline, CANCEL, [], check)


def _now() -> datetime:
    from billing.db import utcnow

    return utcnow()


SCENARIOS: dict[str, Callable[[World], Setup]] = {
    "booking-deposit-balance": deposit_balance,
    "booking-hold-capture": hold_capture,
    "booking-far-hold-placement": far_hold_placement,
    "booking-expired-3ds-release": expired_three_d_secure_release,
    "milestone-approved-charge": milestone_approved,
    "milestone-on-date-charge": milestone_on_date,
    "dunning-retry-j1": dunning_retry,
    "question-hold-release": question_released,
}
KILL_POINTS = {"after_write": True, "before_write": False}


@pytest.mark.parametrize("forward", KILL_POINTS.values(), ids=KILL_POINTS.keys())
@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_run_due_killed_at_the_write_then_the_sweep_converges(
    scenario, forward, world, proxy, app, app_config, database_url, db_session, tmp_path
):  # noqa: ANN001
    killed_then_swept(
        scenario, forward, world, proxy, app, app_config, database_url, db_session, tmp_path
    )


ON_POSTGRES = {k: SCENARIOS[k] for k in ("booking-deposit-balance", "milestone-approved-charge")}


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", ON_POSTGRES.values(), ids=ON_POSTGRES.keys())
def test_on_postgres_run_due_killed_after_the_write_then_the_sweep_converges(
    scenario, world, proxy, app, app_config, database_url, db_session, tmp_path
):  # noqa: ANN001
    assert database_url.startswith("postgresql")
    killed_then_swept(
        scenario, True, world, proxy, app, app_config, database_url, db_session, tmp_path
    )


def killed_then_swept(
    scenario, forward, world, proxy, app, app_config, database_url, db_session, tmp_path
):  # noqa: ANN001
    # given the scenario's data, and run-due killed at its Stripe write
    setup = scenario(world)
    fault = proxy.hold("POST", setup.path, forward=forward)
    env = run_due.child_env(database_url, tmp_path, proxy.url, app_config)
    killed = run_due.killed_at(fault, env, setup.when, tmp_path / "killed.log")
    assert fault.request is not None
    if forward:
        assert fault.upstream_status is not None and fault.upstream_status < 500, (
            fault.upstream_body
        )
    # when the sweep runs after the crash, twice
    outputs = [
        run_due.inline(app, setup.when + timedelta(minutes=5)),
        run_due.inline(app, setup.when + timedelta(hours=1, minutes=15)),
    ]
    # then Stripe and our rows agree, each amount moved once
    context = f"killed run-due said:\n{killed}\nthe sweep said:\n" + "\n".join(outputs)
    context += f"\n{setup.describe()}"
    result = assert_agree(
        db_session,
        world.stripe,
        setup.email,
        captured=setup.captured,
        refunded=setup.refunded,
        context=context,
    )
    held = sorted(i.amount for i in result.intents if i.status == "requires_capture")
    assert held == setup.authorized, f"{result.report()}\n{context}"
    if setup.purpose is not None:
        made = result.intents_for(setup.purpose)
        assert len(made) == 1, f"{result.report()}\n{context}"
    rejected = [line for line in "\n".join(outputs).splitlines() if "GatewayRejected" in line]
    assert not rejected, context
    setup.check()
