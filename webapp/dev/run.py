"""`make run`: the whole app on one machine, for development and demos.

    .venv/bin/python -m webapp.dev.run

Migrates the database, starts the fake Stripe server (unless real keys or
another STRIPE_API_BASE are configured) and registers our webhook with it,
starts the web app (gunicorn) and the worker, seeds the demo freelancer, then
prints the URLs. Ctrl-C (or SIGTERM) stops every child; if any child dies, the
rest are stopped and the exit status is 1.

Every child gets its own process group, so a stop reaches gunicorn's workers
too, and the terminal's Ctrl-C reaches only this supervisor, which stops the
children in order. Every child also gets the same environment, including one
SECRET_KEY (persisted in the instance folder) so sessions signed by one
gunicorn worker are valid in the other.

Environment, besides the app's own (CONTRACT.md): ACOMPTE_PORT (5000),
FAKE_STRIPE_PORT (8420), ACOMPTE_INSTANCE (instance/: secret key, SQLite
files, the fake Stripe store).
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from webapp.config import PROJECT_ROOT, from_environment

HOST = "127.0.0.1"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 8.0
POLL = 0.1


class StartupError(Exception):
    """Something the developer must fix before `make run` can start (a busy port…)."""


class StopRequested(Exception):
    """Ctrl-C or SIGTERM."""


class ChildDied(Exception):
    """A child exited while it should be running."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited with status {returncode}")
        self.name = name
        self.returncode = returncode


@dataclass
class Settings:
    """What the supervisor starts, and the environment every child shares."""

    web_port: int
    fake_stripe_port: int
    instance: Path
    start_fake_stripe: bool
    webhook_secret: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    @property
    def fake_stripe_url(self) -> str:
        return f"http://{HOST}:{self.fake_stripe_port}"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Ports and paths from `environ`, and the children's environment built from it."""
        web_port = int(environ.get("ACOMPTE_PORT", "5000"))
        fake_port = int(environ.get("FAKE_STRIPE_PORT", "8420"))
        instance = Path(environ.get("ACOMPTE_INSTANCE", PROJECT_ROOT / "instance")).resolve()
        instance.mkdir(parents=True, exist_ok=True)
        env = dict(environ)
        # Absolute paths: every child sees the same files whatever its cwd.
        env.setdefault("DATABASE_URL", f"sqlite:///{instance / 'acompte.sqlite'}")
        env.setdefault("HUEY_URL", f"sqlite:///{instance / 'huey.sqlite'}")
        env.setdefault("BASE_URL", f"http://{HOST}:{web_port}")
        env["PYTHONUNBUFFERED"] = "1"
        fake_url = f"http://{HOST}:{fake_port}"
        start_fake = _wants_fake_stripe(environ, fake_port)
        if start_fake:
            env["STRIPE_API_BASE"] = fake_url
        # One key for every process (see the module docstring); the app's own
        # rule: SECRET_KEY from the environment, else the instance file. (It
        # reads os.environ, which is what `main` passes as `environ`.)
        app_config = from_environment(instance)
        env["SECRET_KEY"] = app_config["SECRET_KEY"]
        return cls(
            web_port, fake_port, instance, start_fake, app_config["STRIPE_WEBHOOK_SECRET"], env
        )


def _wants_fake_stripe(environ: Mapping[str, str], port: int) -> bool:
    api_base = environ.get("STRIPE_API_BASE")
    if api_base is None:
        # No base and real keys: real Stripe test mode (webapp.config's rule).
        return not environ.get("STRIPE_SECRET_KEY")
    parsed = urllib.parse.urlsplit(api_base)
    return parsed.hostname in (HOST, "localhost") and parsed.port == port


@dataclass
class Child:
    """A process we started, in its own process group, and how it likes to be stopped."""

    name: str
    process: subprocess.Popen[bytes]
    stop_signal: signal.Signals

    def signal_group(self, signum: signal.Signals) -> bool:
        """Signal the whole group (gunicorn's workers too); False when it is empty."""
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            return False
        return True


class Supervisor:
    """Starts children, watches them, and stops every one of them, whatever happens."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.children: list[Child] = []
        self.stop_signal: int | None = None

    # -- signals -------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """Turn SIGINT/SIGTERM into a flag the waits below check (no async exceptions)."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_signal = signum

    def checkpoint(self) -> None:
        """Raise if a stop was asked for or a child died."""
        if self.stop_signal is not None:
            raise StopRequested
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildDied(child.name, code)

    def sleep(self, seconds: float) -> None:
        """Sleep, staying responsive to Ctrl-C and to dying children."""
        deadline = time.monotonic() + seconds
        while True:
            self.checkpoint()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL, left))

    # -- children ------------------------------------------------------------

    def start(
        self, name: str, argv: Sequence[str], stop_signal: signal.Signals = signal.SIGTERM
    ) -> Child:
        """Start a long-running child in its own process group."""
        process = subprocess.Popen(  # noqa: S603 (our own fixed commands)
            list(argv),
            cwd=PROJECT_ROOT,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # single-threaded: safe
        )
        child = Child(name, process, stop_signal)
        self.children.append(child)
        print(f"acompte: started {name} (pid {process.pid})", flush=True)
        return child

    def run_once(self, name: str, argv: Sequence[str], timeout: float = READY_TIMEOUT) -> str:
        """Run a short command to completion (still stoppable by Ctrl-C); its standard output."""
        process = subprocess.Popen(  # noqa: S603 (our own fixed commands)
            list(argv),
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # single-threaded: safe
        )
        child = Child(name, process, signal.SIGTERM)
        self.children.append(child)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    output, _ = process.communicate(timeout=POLL)
                    break
                except subprocess.TimeoutExpired:
                    if self.stop_signal is not None:
                        raise StopRequested from None
                    if time.monotonic() > deadline:
                        raise StartupError(f"{name} did not finish in {timeout:.0f} s") from None
        finally:
            if process.returncode is not None:
                self.children.remove(child)
        text = output.decode(errors="replace")
        if process.returncode != 0:
            sys.stdout.write(text)
            raise ChildDied(name, process.returncode)
        return text

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop every child: its polite signal, a wait, then SIGKILL for what is left."""
        # A second Ctrl-C while stopping must not abort the stop itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(self.children):
            child.signal_group(child.stop_signal)
        deadline = time.monotonic() + timeout
        for child in self.children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                print(f"acompte: {child.name} did not stop in time, killing it", flush=True)
        for child in self.children:
            # Kills stragglers of a group whose leader already exited, too.
            child.signal_group(signal.SIGKILL)
            child.process.wait()
            if child.process.stdout is not None:
                child.process.stdout.close()
        self.children.clear()


_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the supervisor itself is SIGKILLed,
    # so not even that leaves a server running on the port.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# --- readiness ----------------------------------------------------------------


def check_port_free(port: int, what: str) -> None:
    """`StartupError` with a clear message when something already listens on `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise StartupError(
                f"port {port} ({what}) is already in use on {HOST}: stop what runs there "
                f"(another `make run`?), e.g. `ss -ltnp 'sport = :{port}'` shows it"
            ) from None


def answers(url: str) -> bool:
    """True once `url` gives any HTTP answer (even an error status)."""
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http URL)
            return True
    except urllib.error.HTTPError as exc:
        exc.close()
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_until_answers(supervisor: Supervisor, name: str, url: str) -> None:
    """Wait for `url` to answer, failing fast if a child dies or Ctrl-C is pressed."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not answers(url):
        if time.monotonic() > deadline:
            raise StartupError(f"{name} did not answer at {url} within {READY_TIMEOUT:.0f} s")
        supervisor.sleep(0.2)


def register_webhook(fake_stripe_url: str, webhook_url: str, secret: str) -> None:
    """Tell localstripe where to send signed events (its `/_config/webhooks/{id}`)."""
    body = urllib.parse.urlencode({"url": webhook_url, "secret": secret}).encode()
    request = urllib.request.Request(  # noqa: S310 (our own http URL)
        f"{fake_stripe_url}/_config/webhooks/acompte", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
    except OSError as exc:
        raise StartupError(f"could not register the webhook with fake Stripe: {exc}") from exc


# --- the run ------------------------------------------------------------------


def run(settings: Settings, supervisor: Supervisor) -> None:
    """Start everything, print the banner, then watch until a stop or a death."""
    from webapp.migrate import upgrade

    check_port_free(settings.web_port, "web app, ACOMPTE_PORT")
    if settings.start_fake_stripe:
        check_port_free(settings.fake_stripe_port, "fake Stripe, FAKE_STRIPE_PORT")

    env = settings.env
    print(f"acompte: migrating {env['DATABASE_URL']}", flush=True)
    upgrade(env["DATABASE_URL"])
    supervisor.checkpoint()

    python = sys.executable
    if settings.start_fake_stripe:
        supervisor.start(
            "fake Stripe",
            [
                python,
                "-m",
                "webapp.dev.fakestripe",
                "--host",
                HOST,
                "--port",
                str(settings.fake_stripe_port),
                "--store",
                str(settings.instance / "localstripe.pickle"),
            ],
        )
        wait_until_answers(
            supervisor, "fake Stripe", f"{settings.fake_stripe_url}/js.stripe.com/v3/"
        )
        register_webhook(
            settings.fake_stripe_url,
            f"{settings.web_url}/stripe/webhook",
            settings.webhook_secret,
        )

    supervisor.start(
        "web app",
        [
            python,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{settings.web_port}",
            "--workers",
            "2",
            # Ctrl-C should not wait gunicorn's default 30 s for idle keep-alives.
            "--graceful-timeout",
            "5",
            # Its default socket in ~/.gunicorn is shared by every run on the
            # machine (a test run would take over a developer's); not needed here.
            "--no-control-socket",
            "webapp:create_app()",
        ],
    )
    # SIGINT is Huey's graceful stop: running tasks finish, then it exits.
    supervisor.start("worker", [python, "-m", "flask", "--app", "webapp", "worker"], signal.SIGINT)
    seeded = supervisor.run_once(
        "demo seed", [python, "-m", "flask", "--app", "webapp", "demo", "seed"]
    )
    wait_until_answers(supervisor, "web app", f"{settings.web_url}/login")

    print(banner(settings, seeded), flush=True)
    while True:
        supervisor.sleep(1.0)


def banner(settings: Settings, seeded: str) -> str:
    """What to open, and how to log in."""
    lines = [
        "",
        "Acompte is running. Ctrl-C stops everything.",
        f"  app          {settings.web_url}/",
        f"  public page  {settings.web_url}/camille",
        f"  dev outbox   {settings.web_url}/dev/outbox",
    ]
    if settings.start_fake_stripe:
        lines.append(f"  fake Stripe  {settings.fake_stripe_url}/  (webhooks → /stripe/webhook)")
    else:
        lines.append(f"  Stripe       {settings.env.get('STRIPE_API_BASE') or 'api.stripe.com'}")
    lines += ["", "Demo data:", *(f"  {line}" for line in seeded.splitlines() if line.strip())]
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Run until Ctrl-C (exit 0), a child's death or a startup problem (exit 1)."""
    supervisor = Supervisor({})
    supervisor.install_signal_handlers()
    try:
        settings = Settings.from_environment(os.environ)
        supervisor.env = settings.env
        run(settings, supervisor)
    except StopRequested:
        print("\nacompte: stopping…", flush=True)
        return 0
    except ChildDied as exc:
        print(
            f"acompte: {exc.name} exited with status {exc.returncode}; stopping everything",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except StartupError as exc:
        print(f"acompte: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        supervisor.stop_all()
        print("acompte: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
