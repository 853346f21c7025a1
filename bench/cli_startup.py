"""CLI start-up: `flask billing run-due` with nothing due (issue 14: ≤ 1 s).

`python -m bench.cli_startup` migrates a throwaway SQLite database, then times
ROUNDS runs of the command as cron would start it (a new process each time),
next to a bare `python -c "import flask"` on the same interpreter (the floor
no Flask command can beat), and prints the medians with the goal.

Both run with bytecode caching on, as a deployed app runs (a private
`PYTHONPYCACHEPREFIX`, warmed by one untimed run): this sandbox sets
`PYTHONDONTWRITEBYTECODE`, which would recompile ~230 modules from source on
every start and measure the sandbox, not the command.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
GOAL = 1.0


def _seconds(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 (our own interpreter)
        command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - began


def main() -> None:
    """Print the command's median start-up next to the floor's, with the goal."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'cli.sqlite'}",
            "HUEY_URL": f"sqlite:///{Path(tmp) / 'huey.sqlite'}",
            "SECRET_KEY": "bench",
            "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        flask = [sys.executable, "-m", "flask", "--app", "webapp"]
        subprocess.run(  # noqa: S603
            [*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
        )
        _seconds([*flask, "billing", "run-due"], env)  # warms the bytecode cache
        _seconds([sys.executable, "-c", "import flask"], env)
        ours, floor = [], []
        for _ in range(ROUNDS):  # interleaved
            ours.append(_seconds([*flask, "billing", "run-due"], env))
            floor.append(_seconds([sys.executable, "-c", "import flask"], env))
        o, f = statistics.median(ours), statistics.median(floor)
        ok = "ok" if o <= GOAL else "MISSED"
        print(f"CLI start-up (billing run-due, nothing due), median of {ROUNDS}")
        print(f"{'run-due s':>10} {'import flask s':>15} goal")
        print(
            f"{o:>10.2f} {f:>15.2f} ≤ {GOAL} s {ok} (range {min(ours):.2f}–{max(ours):.2f}; "
            f"floor {min(floor):.2f}–{max(floor):.2f}; load {os.getloadavg()[0]:.2f})"
        )


if __name__ == "__main__":
    main()
