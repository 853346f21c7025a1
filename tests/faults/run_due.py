"""`billing run-due` as the suite runs it: a child process killed at a fault, or inline.

`killed_at(fault, env, now)` starts `flask --app webapp billing run-due --now …`
as a subprocess, waits until the proxy holds the chosen Stripe request (its
`Fault.reached`), kills the child with SIGKILL and only then lets the proxy
close the connection. `inline(app, now)` runs the same command in-process (the
sweep after the crash), through Click as the CLI does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask

from tests.support.fault_proxy import Fault
from webapp.config import PROJECT_ROOT

TIMEOUT = 60.0


def child_env(
    database_url: str, tmp_path: Path, stripe_base: str, config: dict[str, object]
) -> dict[str, str]:
    """The environment of a run-due child: the test app's settings, Stripe through the proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(
        DATABASE_URL=database_url,
        HUEY_URL=f"sqlite:///{tmp_path / 'huey-child.sqlite'}",
        SECRET_KEY=str(config["SECRET_KEY"]),
        BASE_URL=str(config["BASE_URL"]),
        STRIPE_API_BASE=stripe_base,
        STRIPE_SECRET_KEY=str(config["STRIPE_SECRET_KEY"]),
        STRIPE_PUBLISHABLE_KEY=str(config["STRIPE_PUBLISHABLE_KEY"]),
        STRIPE_WEBHOOK_SECRET=str(config["STRIPE_WEBHOOK_SECRET"]),
        RATELIMIT_STORAGE_URI="memory://",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SMTP_URL", None)
    env.pop("ENCRYPTION_KEYS", None)
    return env


def killed_at(fault: Fault, env: dict[str, str], now: datetime, log: Path) -> str:
    """Run run-due until `fault` fires, SIGKILL it, release the fault; returns its output."""
    command = [sys.executable, "-m", "flask", "--app", "webapp", "billing", "run-due"]
    command += ["--now", now.isoformat()]
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not fault.wait(0.05):
            if child.poll() is not None:
                pytest.fail(
                    f"run-due ended ({child.returncode}) before the fault on "
                    f"{fault.method} {fault.path.pattern}:\n{log.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"the fault never fired within {TIMEOUT} s:\n{log.read_text()}")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        fault.release()
    return log.read_text()


def inline(app: Flask, now: datetime) -> str:
    """`billing run-due --now` in this process; asserts it exits 0 and returns its output."""
    result = app.test_cli_runner().invoke(args=["billing", "run-due", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output
