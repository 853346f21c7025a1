"""URL rules whose builders are compiled on first use.

Werkzeug compiles two URL builders per rule (Python source through `ast` and
`compile`) when the rule is added: about 400 of them at every start-up, a
noticeable part of a CLI command's start-up that never builds a URL
(`flask billing run-due`). Matching is unchanged; a builder is made the first
time `url_for` needs it, then kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A `Rule` that compiles each URL builder on its first `build`."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not compiled:
                # Two threads may both compile it: the same pure function, either wins.
                compiled.append(Rule._compile_builder(rule, append_unknown).__get__(rule, None))
            return compiled[0](**values)

        return build
