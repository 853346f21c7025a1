"""The app class: a Flask app whose web layer may be installed on first need.

The web layer is everything only a request, a URL or a page needs: every
blueprint and the view modules behind it (the pages, the JSON API), CSRF,
log-in, rate limits, the error pages, the security headers and the template
filters (`webapp.web.install_web`). A CLI command such as `flask billing
run-due` with nothing due needs none of it, so the app the `flask` command
loads defers it (issue 14: the command's start-up); apps built for gunicorn and
the tests install it at once.

A deferred web layer is installed, once, before the first of:

- a read of `app.url_map`: `url_for`, matching a request, `flask routes`;
- a template load (`render_template`, `jinja_env.get_template`): blueprint
  template folders and the filters are then in place before it compiles;
- a WSGI call (`flask run`).

`app.view_functions` and `app.blueprints` are not guarded: read `url_map`
first, or call `complete_web()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from flask.templating import DispatchingJinjaLoader
from jinja2 import Environment
from werkzeug.routing import Map

WebInstaller = Callable[[Flask], None]


class AcompteFlask(Flask):
    """Flask with `defer_web` / `complete_web` (see the module's docstring)."""

    _web_pending: WebInstaller | None = None
    _web_installing = False

    def defer_web(self, install: WebInstaller) -> None:
        """Install the web layer with `install(app)` on first need instead of now."""
        self._web_lock = threading.RLock()
        self._web_pending = install

    def complete_web(self) -> None:
        """Install a deferred web layer now (once; nothing if it is installed)."""
        if self._web_pending is None:
            return
        # Re-entrant: installing reads url_map and loads nothing else; another
        # thread waits here until the layer is complete.
        with self._web_lock:
            install = self._web_pending
            if install is None or self._web_installing:
                return
            self._web_installing = True
            try:
                install(self)
            finally:
                self._web_pending = None
                self._web_installing = False

    @property  # type: ignore[override]
    def url_map(self) -> Map:
        self.complete_web()
        return self.__dict__["_url_map"]

    @url_map.setter
    def url_map(self, value: Map) -> None:
        self.__dict__["_url_map"] = value

    def create_global_jinja_loader(self) -> DispatchingJinjaLoader:
        return _CompletingLoader(self)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.complete_web()
        return super().__call__(environ, start_response)


class _CompletingLoader(DispatchingJinjaLoader):
    """Flask's loader (app, then blueprint folders), after the web layer is complete."""

    app: AcompteFlask

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        self.app.complete_web()
        return super().get_source(environment, template)

    def list_templates(self) -> list[str]:
        self.app.complete_web()
        return super().list_templates()
