"""Counting the fault scenarios: each test of the suite is one, printed at the end of the run.

Each fault module calls `count_scenario(request)` from an autouse fixture; the
first call registers a small plugin that records every scenario's outcome and
writes "fault scenarios: N run, …" in the terminal summary (so CI logs show it).
"""

from __future__ import annotations

import pytest

PLUGIN_NAME = "acompte-fault-scenarios"
SCENARIOS: dict[str, str] = {}  # node id → outcome, in the order they ran


class _ScenarioReport:
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in SCENARIOS:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            SCENARIOS[report.nodeid] = report.outcome
        elif report.when == "teardown" and report.failed:
            SCENARIOS[report.nodeid] = "error"

    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001
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
    """Record the current test as a fault scenario (and make sure the summary is printed)."""
    manager = request.config.pluginmanager
    if not manager.has_plugin(PLUGIN_NAME):
        manager.register(_ScenarioReport(), PLUGIN_NAME)
    SCENARIOS[request.node.nodeid] = "running"
