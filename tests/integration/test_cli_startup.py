"""Issue 14: `flask billing run-due` starts without the web layer, which comes on first need.

The app the `flask` command loads defers its pages, API and request hooks
(`webapp.deferred`); these tests pin what run-due does not import, and that a
deferred app, once something needs it, is the app `create_app` builds at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from flask import Flask, render_template_string, url_for

from tests.integration.test_cli import flask_env
from webapp import create_app
from webapp.config import PROJECT_ROOT
from webapp.extensions import db

# What only pages, the API or request hooks use: none of it is imported by run-due.
WEB_ONLY = (
    "marshmallow",
    "flask_wtf",
    "flask_login",
    "webapp.web",
    "webapp.api",
    "webapp.accounts.routes",
    "webapp.booking.api",
    "webapp.booking.routes",
    "webapp.invoices.api",
    "webapp.public.routes",
)

# Runs the real `flask` entry point in a child, then reports what it imported.
CHILD = """
import json, sys
from flask.cli import main
sys.argv = ["flask", "--app", "webapp", "billing", "run-due"]
try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite file with nothing in it, and the environment that points at it."""
    tmp_path = tmp_path_factory.mktemp("cli")
    env = flask_env(tmp_path, f"sqlite:///{tmp_path / 'cli.sqlite'}")
    upgrade = [sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"]
    done = subprocess.run(  # noqa: S603
        upgrade, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return env


def _child(env: dict[str, str], source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", source],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_due_with_nothing_due_imports_no_page_and_no_schema(cli_env):
    # when the real command runs with nothing due
    done = _child(cli_env, CHILD % (WEB_ONLY,))
    # then it says so, and nothing of the web layer was imported
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("nothing due at ")
    report = json.loads(lines[-1])
    assert report == {"code": 0, "loaded": []}


def test_the_flask_command_still_lists_every_route(cli_env):
    # `flask routes` reads the URL map, which installs the deferred web layer first
    source = (
        "import sys\nfrom flask.cli import main\n"
        "sys.argv = ['flask', '--app', 'webapp', 'routes']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    done = _child(cli_env, source)
    assert done.returncode == 0, done.stderr
    assert "accounts.login" in done.stdout
    assert "/api/v1/openapi.json" in done.stdout


def _name(hook: Any) -> str:
    return getattr(hook, "__qualname__", None) or _name(hook.func)  # a functools.partial


def _shape(app: Flask) -> dict[str, Any]:
    with app.app_context():
        rules = sorted(
            (rule.rule, rule.endpoint, tuple(sorted(rule.methods or ())))
            for rule in app.url_map.iter_rules()
        )
    return {
        "rules": rules,
        "filters": sorted(app.jinja_env.filters),
        "globals": sorted(app.jinja_env.globals),
        "before": {k: [_name(f) for f in v] for k, v in app.before_request_funcs.items()},
        "after": {k: [_name(f) for f in v] for k, v in app.after_request_funcs.items()},
        "errors": {
            str(k): sorted(str(code) for code in v) for k, v in app.error_handler_spec.items()
        },
        "blueprints": list(app.blueprints),
        "nav": sorted(app.jinja_env.globals["nav_endpoints"]),
    }


def test_a_deferred_app_becomes_the_app_built_at_once(app_config):
    eager = create_app(app_config)
    eager_shape = _shape(eager)
    deferred = create_app(app_config, defer_web=True)
    try:
        # before anything needs it: no page, no blueprint
        assert deferred.blueprints == {}
        # a URL built outside a request installs it...
        with deferred.test_request_context("/"):
            assert url_for("accounts.login") == "/login"
        # ...and then the app is the one built at once: routes, hooks, errors, filters
        assert _shape(deferred) == eager_shape
    finally:
        db.session.remove()
        db.engine.dispose()


def test_a_template_load_installs_the_filters_first(app_config):
    deferred = create_app(app_config, defer_web=True)
    try:
        with deferred.app_context():
            assert "money" not in deferred.jinja_env.filters
            # an e-mail (the app's own folder) loads its template: the layer comes first
            deferred.jinja_env.get_template("email/base.txt")
            assert "money" in deferred.jinja_env.filters
            assert render_template_string("{{ 120050|money('eur') }}").strip()
        # the blueprints' template folders are there too
        assert "accounts" in deferred.blueprints
    finally:
        db.session.remove()
        db.engine.dispose()
