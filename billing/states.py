"""One state-machine helper for every aggregate: a table of allowed moves.

`StateMachine.check(old, new)` says whether a move is new (True), already
done (False, a duplicate to ignore) or refused (`NotAllowed`);
`StateMachine.require` is the strict form for user actions: `AlreadyDone`
for a duplicate, `NotAllowed` for a refused move. Each aggregate
(payment, booking, quote, milestone, question, dunning case) writes its own
table and its own event; the rule of what "already done" and "not allowed"
mean is written here once.
"""

from __future__ import annotations

from collections.abc import Mapping

from billing.errors import AlreadyDone, NotAllowed


class StateMachine:
    """Allowed moves between named states."""

    def __init__(self, name: str, table: Mapping[str, frozenset[str] | set[str]]) -> None:
        self.name = name
        self.table = {state: frozenset(targets) for state, targets in table.items()}
        unknown = {t for targets in self.table.values() for t in targets} - set(self.table)
        if unknown:
            raise ValueError(f"{name}: moves to unknown states {sorted(unknown)}")

    def allows(self, old: str, new: str) -> bool:
        """Whether `old → new` is in the table (a move to the same state is not)."""
        return new in self.table.get(old, frozenset())

    def check(self, old: str, new: str, *, what: str = "") -> bool:
        """True for an allowed move, False when already there; `NotAllowed` otherwise."""
        if new == old:
            return False
        if not self.allows(old, new):
            label = what or self.name
            raise NotAllowed(f"{label}: {old} → {new} is not allowed")
        return True

    def require(self, old: str, new: str, *, what: str = "") -> None:
        """Allow `old → new` or raise: `AlreadyDone` when already there, else `NotAllowed`."""
        label = what or self.name
        if new == old:
            raise AlreadyDone(f"{label} is already {old}")
        if not self.allows(old, new):
            raise NotAllowed(f"{label} is {old}; it cannot become {new}")

    def terminal(self) -> frozenset[str]:
        """The states nothing leaves."""
        return frozenset(state for state, targets in self.table.items() if not targets)
