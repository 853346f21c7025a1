"""`make run` end to end: `python -m webapp.dev.run` starts everything, serves, and stops clean.

Not skippable: it is the contract's first command. Free ports and a throwaway
database, queue and instance folder, so it runs beside a developer's own
`make run`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp.config import PROJECT_ROOT
from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD

STARTUP_TIMEOUT = 60.0  # three test workers share the CI machine
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class Output:
    """The supervisor's output (its children's too: they share the pipe), read in a thread."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            with self.changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.changed.notify_all()

    def text(self) -> str:
        with self.changed:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                match = re.search(pattern, "\n".join(self.lines), re.MULTILINE)
                if match:
                    return match
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no {pattern!r} within {timeout} s; output:\n{self.text()}")
                self.changed.wait(left)


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    """A fresh machine's environment, on free ports and throwaway files."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STRIPE_") and key not in ("SECRET_KEY", "BASE_URL", "SMTP_URL")
    }
    env.update(
        ACOMPTE_PORT=str(free_port()),
        FAKE_STRIPE_PORT=str(free_port()),
        ACOMPTE_INSTANCE=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'acompte.sqlite'}",
        HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite'}",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def supervisor(run_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], Output]]:
    """`python -m webapp.dev.run`; whatever happens, nothing it started survives the test."""
    with subprocess.Popen(
        [sys.executable, "-m", "webapp.dev.run"],
        env=run_env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        output = Output(process.stdout)
        try:
            yield process, output
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for pid in child_pids(output.text()):
                if group_alive(pid):
                    os.killpg(pid, signal.SIGKILL)
            output.thread.join(timeout=5)


def child_pids(text: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"started .+ \(pid (\d+)\)", text)]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def test_make_run_serves_everything_and_ctrl_c_stops_it_all(supervisor, run_env):
    process, output = supervisor
    web_port, stripe_port = int(run_env["ACOMPTE_PORT"]), int(run_env["FAKE_STRIPE_PORT"])

    # when it has started, it prints the URLs and the demo login
    app_url = output.wait_for(r"^\s+app\s+(http://\S+)/$", STARTUP_TIMEOUT).group(1)
    stripe_url = output.wait_for(r"^\s+fake Stripe\s+(http://\S+?)/?\s", 1).group(1)
    assert app_url == f"http://127.0.0.1:{web_port}"
    assert stripe_url == f"http://127.0.0.1:{stripe_port}"
    text = output.text()
    assert f"{app_url}/camille" in text
    assert f"{app_url}/dev/outbox" in text
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in text
    pids = child_pids(text)
    assert len(pids) == 3, text  # fake Stripe, web app, worker

    # then the pages, the fake Stripe.js and the demo login work
    status, page = get(f"{app_url}/login")
    assert status == 200 and b"<form" in page
    status, script = get(f"{stripe_url}/js.stripe.com/v3/")
    assert status == 200 and script
    status, token = post_json(
        f"{app_url}/api/v1/tokens", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert status == 201 and token["token"]
    # one secret key for every process, kept in the instance folder
    assert (Path(run_env["ACOMPTE_INSTANCE"]) / "secret_key").exists()

    # when Ctrl-C is pressed
    process.send_signal(signal.SIGINT)
    # then it exits cleanly and nothing it started is left
    assert process.wait(timeout=STOP_TIMEOUT) == 0, output.text()
    output.thread.join(timeout=STOP_TIMEOUT)
    assert not output.thread.is_alive(), "a child still holds the output pipe open"
    assert [pid for pid in pids if group_alive(pid)] == []
    assert not listening(web_port)
    assert not listening(stripe_port)


def test_make_run_refuses_a_busy_port(run_env):
    # given something already listening on the web port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {**run_env, "ACOMPTE_PORT": str(busy.getsockname()[1])}
        done = subprocess.run(
            [sys.executable, "-m", "webapp.dev.run"],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    # then a clear message, exit 1, and nothing was started
    assert done.returncode == 1
    assert f"port {env['ACOMPTE_PORT']}" in done.stderr
    assert "already in use" in done.stderr
    assert "started" not in done.stdout
