"""Reading the public JSON API from inside the app, so the pages and the browser
see exactly the same data (one source of truth: the booking feature's API).

The call is dispatched to the WSGI app in a short-lived thread: the database
session is scoped per thread, so the inner request opens and closes its own
session and never touches the outer request's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app, request


@dataclass(frozen=True)
class ApiAnswer:
    """What the API answered: the status code and the decoded JSON body (or None)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def get_json(path: str, params: dict[str, str] | None = None) -> ApiAnswer:
    """GET `path` (an `/api/v1/public/...` path) on this app, as the current client."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = {"Accept-Language": request.headers.get("Accept-Language", "")}
    # The client's own address, so per-client rate limits count the page views too.
    environ = {"REMOTE_ADDR": request.remote_addr or "127.0.0.1"}
    answer: dict[str, ApiAnswer] = {}
    failure: list[BaseException] = []

    def call() -> None:
        try:
            client = app.test_client()
            response = client.get(
                path, query_string=params or {}, headers=headers, environ_base=environ
            )
            answer["value"] = ApiAnswer(response.status_code, response.get_json(silent=True))
            response.close()
        except BaseException as exc:  # re-raised in the calling thread
            failure.append(exc)

    thread = threading.Thread(target=call, name="public-api-read")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return answer["value"]
