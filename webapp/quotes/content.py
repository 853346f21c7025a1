"""What a quote version says, computed without I/O: totals, milestone amounts, the hash.

Money is integer minor units. A milestone given as a percentage is converted
to minor units when the version is made; the shares must add up to the total
exactly, and the rounding remainder (at most a few minor units) goes to the
last percentage milestone, so the client is never charged a cent more or
less than the quote's total.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from webapp.validation import N_

BP_100 = 10_000  # 100 % in basis points


class ContentError(ValueError):
    """The quote's figures do not hold together; `fields` says where (marshmallow's shape).

    `fields` is in English, as the JSON API answers; `words`, when given, is the
    same in the page's language (a message with amounts cannot be looked up in
    the catalog afterwards).
    """

    def __init__(self, fields: dict[str, Any], words: dict[str, Any] | None = None) -> None:
        super().__init__("invalid quote content")
        self.fields = fields
        self.words = words or fields


class MilestonesMismatch(ContentError):
    """The milestones add up to `given`, not to the quote's `total` (minor units)."""

    def __init__(self, given: int, total: int) -> None:
        super().__init__({"milestones": [N_("The milestones do not add up to the total.")]})
        self.given = given
        self.total = total


@dataclass(frozen=True, slots=True)
class Totals:
    excl_vat_minor: int
    vat_minor: int
    total_minor: int


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def line_amounts(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each line with its `amount_minor` (quantity × unit price)."""
    return [
        {
            "description": line["description"],
            "quantity": line["quantity"],
            "unit_amount_minor": line["unit_amount_minor"],
            "amount_minor": line["quantity"] * line["unit_amount_minor"],
        }
        for line in lines
    ]


def totals_from_lines(lines: list[dict[str, Any]], vat_rate_bp: int) -> Totals:
    """Lines are priced excluding VAT; VAT (0 under the franchise) is added, rounded half up."""
    excl = sum(line["amount_minor"] for line in lines)
    vat = _half_up(excl * vat_rate_bp, BP_100)
    return Totals(excl, vat, excl + vat)


def totals_from_total(total_minor: int, vat_rate_bp: int) -> Totals:
    """Without line items the milestones are the price, VAT included; split it back."""
    excl = _half_up(total_minor * BP_100, BP_100 + vat_rate_bp)
    return Totals(excl, total_minor - excl, total_minor)


def milestone_amounts(milestones: list[dict[str, Any]], total_minor: int | None) -> list[int]:
    """The amount of each milestone in minor units, adding up to `total_minor` exactly.

    `total_minor` None: there are no line items, the fixed amounts are the
    total and percentages have nothing to be a share of.
    """
    fixed = sum(m["amount_minor"] for m in milestones if m.get("amount_minor") is not None)
    percents = [i for i, m in enumerate(milestones) if m.get("percent_bp") is not None]
    if total_minor is None:
        if percents:
            needs_lines = N_("A percentage needs line items to be a share of.")
            raise ContentError({"milestones": [needs_lines]})
        return [m["amount_minor"] for m in milestones]
    share_bp = sum(milestones[i]["percent_bp"] for i in percents)
    # Exact test in integers: fixed + total × share / 100 % == total.
    if fixed * BP_100 + total_minor * share_bp != total_minor * BP_100:
        raise MilestonesMismatch(fixed + _half_up(total_minor * share_bp, BP_100), total_minor)
    amounts = [m["amount_minor"] if m.get("amount_minor") is not None else None for m in milestones]
    for i in percents:
        amounts[i] = _half_up(total_minor * milestones[i]["percent_bp"], BP_100)
    if percents:
        # Rounding each share may leave a remainder of a few minor units: the last
        # percentage milestone absorbs it, so the sum is the total to the cent.
        amounts[percents[-1]] += total_minor - sum(a for a in amounts if a is not None)
    result = [a for a in amounts if a is not None]
    if any(a <= 0 for a in result):
        raise ContentError({"milestones": [N_("Every milestone must be above zero.")]})
    return result


def canonical_json(content: dict[str, Any]) -> bytes:
    """The bytes the SHA-256 is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_sha256(content: dict[str, Any]) -> str:
    """The acceptance evidence's fingerprint of one exact version."""
    return hashlib.sha256(canonical_json(content)).hexdigest()
