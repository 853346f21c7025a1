"""Counting the fault scenarios: each test of the suite is one, printed at the end of the run.

Each fault module calls `count_scenario(request)` from an autouse fixture; it
tags the test (a user property, which travels in every report, so the count is
also right when pytest-xdist runs the tests in worker processes). The plugin,
loaded by the root conftest, records each tagged test's outcome and writes
"fault scenarios: N run, …" in the terminal summary (so CI logs show it).
"""

from __future__ import annotations

import pytest

TAG = ("fault_scenario", True)
SCENARIOS: dict[str, str] = {}  # node id → outcome, in the order they ran


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if TAG not in report.user_properties:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        SCENARIOS[report.nodeid] = report.outcome
    elif report.when == "teardown" and report.failed:
        SCENARIOS[report.nodeid] = "error"


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if not SCENARIOS:
        return
    outcomes = list(SCENARIOS.values())
    counts = ", ".join(
        f"{outcomes.count(kind)} {kind}"
        for kind in ("passed", "failed", "error", "skipped")
        if outcomes.count(kind)
    )
    terminalreporter.section("fault injection")
    terminalreporter.write_line(f"fault scenarios: {len(SCENARIOS)} run ({counts})")
    for nodeid, outcome in SCENARIOS.items():
        terminalreporter.write_line(f"  {outcome:7} {nodeid}")


def count_scenario(request: pytest.FixtureRequest) -> None:
    """Tag the current test as a fault scenario: its outcome is counted in the summary."""
    if TAG not in request.node.user_properties:
        request.node.user_properties.append(TAG)
