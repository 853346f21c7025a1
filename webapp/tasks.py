"""Background work with Huey.

Storage from `HUEY_URL`: a SQLite file by default (one machine), `redis://…`
to scale out to many consumers on many machines. Every task is idempotent:
it may run twice, or on two consumers at once, and still do its work once.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from huey import Huey, RedisHuey, SqliteHuey

from webapp.config import PROJECT_ROOT


def make_huey(url: str | None) -> Huey:
    """A Huey instance for `url` (sqlite:///path or redis://host:port/db)."""
    url = url or "sqlite:///instance/huey.sqlite"
    if url.startswith("redis://") or url.startswith("rediss://"):
        return RedisHuey("acompte", url=url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("acompte", filename=str(path))
    raise ValueError(f"HUEY_URL must be sqlite:///… or redis://…, got {urlparse(url).scheme}://")


huey = make_huey(os.environ.get("HUEY_URL"))
