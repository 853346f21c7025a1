"""The escalation plan: defaults, per-freelancer settings, late sweeps, transitions."""

from __future__ import annotations

import pytest

from billing.dunning import schedule
from billing.dunning.service import TRANSITIONS


def names(steps):
    return [s.name for s in steps]


def test_default_plan_follows_design():
    plan = schedule.plan(schedule.DEFAULT_CONFIG, amount_minor=999_99, retries=True)
    assert [(s.name, s.day) for s in plan] == [
        ("notice", 0),
        ("retry_1", 1),
        ("retry_2", 3),
        ("retry_3", 5),
        ("friendly", 7),
        ("formal", 15),
        ("formal_notice", 30),
        ("recourse", 45),
    ]


@pytest.mark.parametrize("amount, has_call", [(1_000_00 - 1, False), (1_000_00, True)])
def test_call_task_above_threshold(amount, has_call):
    plan = schedule.plan(schedule.DEFAULT_CONFIG, amount_minor=amount, retries=False)
    assert ("call" in names(plan)) is has_call
    assert not any(n.startswith("retry_") for n in names(plan))


def test_a_late_sweep_runs_the_latest_step_per_track_and_the_required_ones():
    plan = schedule.plan(schedule.DEFAULT_CONFIG, amount_minor=100_00, retries=True)
    run, skip = schedule.steps_to_run(plan, {"notice"}, elapsed_days=31)
    assert names(run) == ["retry_3", "formal_notice"]
    assert names(skip) == ["retry_1", "retry_2", "friendly", "formal"]


@pytest.mark.parametrize("elapsed, due", [(6, []), (7, ["friendly"])])
def test_step_due_boundary(elapsed, due):
    plan = schedule.plan(schedule.DEFAULT_CONFIG, amount_minor=100_00, retries=False)
    run, _ = schedule.steps_to_run(plan, {"notice"}, elapsed_days=elapsed)
    assert names(run) == due


@pytest.mark.parametrize(
    "stored, field",
    [
        ({"retry_days": [3, 1]}, "retry_days"),
        ({"formal_day": 5}, "formal_day"),
        ({"final_deadline_days": 7}, "final_deadline_days"),
        ({"final_deadline_days": 16}, "final_deadline_days"),
        ({"templates": {"nope": {}}}, "templates"),
    ],
)
def test_invalid_settings_are_refused_with_the_field(stored, field):
    with pytest.raises(schedule.InvalidConfig) as raised:
        schedule.config_from(stored)
    assert field in raised.value.fields


def test_settings_overlay_the_defaults():
    config = schedule.config_from({"retry_days": [2], "final_deadline_days": 8, "unknown": 1})
    assert config.retry_days == (2,)
    assert config.final_deadline_days == 8
    assert config.formal_notice_day == 30


def test_closed_cases_never_move():
    for status in ("resolved", "written_off"):
        assert TRANSITIONS[status] == frozenset()
    # a paid case only reopens, when the transfer that paid it is undone (issue 17)
    assert TRANSITIONS["paid"] == frozenset({"open"})
