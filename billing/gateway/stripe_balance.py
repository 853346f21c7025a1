"""Payouts and balance transactions on the Stripe SDK (the books, issue 17).

Used by `StripeGateway.list_payouts` / `list_payout_transactions`; nothing here is
seen above the adapter. Real Stripe filters payouts by `arrival_date` and lists an
automatic payout's transactions with `payout=`; localstripe knows neither filter
(400 "Unexpected …"): then payouts are filtered here, and a payout is taken to pay
out the charges and refunds created after the payout before it, up to its own
creation — what a manual payout of the whole available balance does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from billing.errors import GatewayRejected
from billing.gateway.port import BalanceTransactionResult, PayoutResult
from billing.gateway.stripe_objects import object_id

Call = Callable[[Callable[[], Any]], Any]
PAID_OUT_TYPES = frozenset({"payout", "payout_cancel", "payout_failure"})


def payout_result(data: Mapping[str, Any]) -> PayoutResult:
    """A payout as Stripe's JSON has it."""
    return PayoutResult(
        id=str(data["id"]),
        amount_minor=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        status=str(data.get("status") or ""),
        created=int(data.get("created") or 0),
        arrival_date=int(data.get("arrival_date") or data.get("created") or 0),
        statement_descriptor=str(data.get("statement_descriptor") or ""),
        automatic=bool(data.get("automatic")),
    )


def transaction_result(
    data: Mapping[str, Any], payment_intent_id: str | None
) -> BalanceTransactionResult:
    """A balance transaction as Stripe's JSON has it."""
    amount, fee = int(data["amount"]), int(data.get("fee") or 0)
    return BalanceTransactionResult(
        id=str(data["id"]),
        type=str(data.get("type") or ""),
        amount_minor=amount,
        fee_minor=fee,
        net_minor=int(data["net"]) if data.get("net") is not None else amount - fee,
        currency=str(data["currency"]).lower(),
        created=int(data.get("created") or 0),
        source_id=object_id(data.get("source")),
        payment_intent_id=payment_intent_id,
        description=str(data.get("description") or ""),
    )


def _unfiltered(exc: GatewayRejected) -> bool:
    return "Unexpected" in str(exc)


def _dicts(page: Any) -> Iterable[dict[str, Any]]:
    return (item.to_dict() for item in page.auto_paging_iter())


def list_payouts(client: Any, call: Call, arrival_from: int, arrival_to: int) -> list[PayoutResult]:
    """Payouts arriving in the window, oldest first."""
    params = {"arrival_date": {"gte": arrival_from, "lte": arrival_to}, "limit": 100}
    try:
        rows = list(_dicts(call(lambda: client.v1.payouts.list(params=params))))
    except GatewayRejected as exc:
        if not _unfiltered(exc):
            raise
        rows = list(_dicts(call(lambda: client.v1.payouts.list(params={"limit": 100}))))
    found = [payout_result(r) for r in rows]
    inside = [p for p in found if arrival_from <= p.arrival_date <= arrival_to]
    return sorted(inside, key=lambda p: (p.created, p.id))


def _payment_intent(client: Any, call: Call, data: Mapping[str, Any]) -> str | None:
    source = data.get("source")
    if isinstance(source, Mapping):
        return object_id(source.get("payment_intent"))
    source_id = object_id(source)
    if not source_id:
        return None
    if source_id.startswith(("ch_", "py_")):
        found = call(lambda: client.v1.charges.retrieve(source_id)).to_dict()
    elif source_id.startswith("re_"):
        found = call(lambda: client.v1.refunds.retrieve(source_id)).to_dict()
    else:
        return None
    return object_id(found.get("payment_intent"))


def list_payout_transactions(
    client: Any, call: Call, payout_id: str
) -> list[BalanceTransactionResult]:
    """What one payout pays out, oldest first (its own transaction left out)."""
    params = {"payout": payout_id, "limit": 100, "expand": ["data.source"]}
    try:
        rows = list(_dicts(call(lambda: client.v1.balance_transactions.list(params=params))))
    except GatewayRejected as exc:
        # localstripe knows no `payout=`; real Stripe refuses it for a manual payout.
        if not (_unfiltered(exc) or "automatic" in str(exc)):
            raise
        rows = _by_time(client, call, payout_id)
    rows = [r for r in rows if r.get("type") not in PAID_OUT_TYPES]
    out = [transaction_result(r, _payment_intent(client, call, r)) for r in rows]
    return sorted(out, key=lambda t: (t.created, t.type != "charge", t.id))


def _listed(call: Call, lister: Callable[..., Any], filtered: dict[str, Any]) -> list[dict]:
    """A list call with Stripe's filters, or unfiltered where the server knows none."""
    try:
        return list(_dicts(call(lambda: lister(params={"limit": 100, **filtered}))))
    except GatewayRejected as exc:
        if not _unfiltered(exc):
            raise
        return list(_dicts(call(lambda: lister(params={"limit": 100}))))


def _by_time(client: Any, call: Call, payout_id: str) -> list[dict[str, Any]]:
    # A manual payout (all of localstripe's) links no transactions: it pays out what was
    # made after the payout before it, up to its own creation.
    target = payout_result(call(lambda: client.v1.payouts.retrieve(payout_id)).to_dict())
    earlier = [
        payout_result(r)
        for r in _listed(call, client.v1.payouts.list, {"created": {"lte": target.created}})
        if r["id"] != payout_id and int(r.get("created") or 0) <= target.created
    ]
    before = [p for p in earlier if (p.created, p.id) < (target.created, target.id)]
    after = max((p.created for p in before), default=-1)
    window = {"created": {"gt": after, "lte": target.created}}
    every = _listed(call, client.v1.balance_transactions.list, window)
    return [r for r in every if after < int(r.get("created") or 0) <= target.created]
