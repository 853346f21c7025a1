"""Run the real `localstripe` fake Stripe server, bound to loopback, with a store we choose.

    python -m webapp.dev.fakestripe --host 127.0.0.1 --port 8420 [--store PATH | --no-store]

Why not `localstripe`'s own entry point:
- its `start()` binds `::` (every interface, IPv4 and IPv6); a fake payment
  server that accepts any `sk_...` key has no business on the network;
- its `Store` pickles the *whole* store to the hard-coded `/tmp/localstripe.pickle`
  after every write: slow as the store grows, and two servers on one machine
  (a dev server plus a test run, or parallel test sessions) clobber each other.
  We patch `Store.try_load_from_disk` / `Store.dump_to_disk` to use a path of
  our own (default `instance/localstripe.pickle`), or to do nothing (`--no-store`,
  what tests use: every test session starts empty and fast).
"""

from __future__ import annotations

import argparse
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STORE = PROJECT_ROOT / "instance" / "localstripe.pickle"


def redirect_store(path: Path | None) -> None:
    """Point localstripe's persistence at `path`, or switch it off when `path` is None."""
    from localstripe.resources import Store

    if path is None:
        Store.try_load_from_disk = lambda self: None
        Store.dump_to_disk = lambda self: None
        return

    def try_load_from_disk(self: Store) -> None:
        if path.exists():
            with path.open("rb") as f:
                # Our own file, written by this launcher: trusted input.
                old = pickle.load(f)  # noqa: S301
            self.clear()
            self.update(old)

    def dump_to_disk(self: Store) -> None:
        # Write then rename, so a server killed mid-write leaves the previous store intact.
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with tmp.open("wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    Store.try_load_from_disk = try_load_from_disk
    Store.dump_to_disk = dump_to_disk


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: loopback host, port, and where (or whether) to persist."""
    parser = argparse.ArgumentParser(prog="python -m webapp.dev.fakestripe", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8420)
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--store", type=Path, default=DEFAULT_STORE, help="pickle file to use")
    store.add_argument("--no-store", action="store_true", help="keep everything in memory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Start localstripe's aiohttp app until SIGINT/SIGTERM."""
    args = parse_args(argv)
    redirect_store(None if args.no_store else args.store.resolve())

    # Imported after patching so nothing reaches the default pickle first.
    from aiohttp import web
    from localstripe.resources import store
    from localstripe.server import app

    from webapp.dev import fakestripe_extras

    fakestripe_extras.install(app)
    store.try_load_from_disk()
    where = "memory only" if args.no_store else args.store
    print(f"localstripe on http://{args.host}:{args.port} (store: {where})", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
