"""The one error a quote or milestone request answers with, and how state errors become it."""

from __future__ import annotations

from typing import Any

from billing.errors import AlreadyDone, NotAllowed


class QuoteError(Exception):
    """A client or freelancer request that cannot be honoured; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def as_quote_error(fn: Any, *args: Any, **kwargs: Any) -> None:
    """Run a state move; its `AlreadyDone` / `NotAllowed` become a 409 `QuoteError`.

    "Already done" included: the client learns the state did not change
    because of this request.
    """
    try:
        fn(*args, **kwargs)
    except AlreadyDone as exc:
        raise QuoteError(409, str(exc), code="already_done") from None
    except NotAllowed as exc:
        raise QuoteError(409, str(exc), code="not_allowed") from None
