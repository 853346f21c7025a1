"""The in-memory Stripe's balance: charges and refunds as balance transactions, with
Stripe's fee on each charge, and payouts of what is available (the books, issue 17).

Transactions are derived from the PaymentIntents and refunds the store holds, so a
test pays as usual, then calls `create_payout()` (what Stripe's payout schedule
does) and reads the payouts through the port.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from billing.gateway.memory_cards import rejected
from billing.gateway.memory_store import MemoryStore
from billing.gateway.port import BalanceTransactionResult, PayoutResult

TWO_DAYS = 2 * 24 * 3600


@dataclass(slots=True)
class _Balance:
    seen: dict[str, BalanceTransactionResult] = field(default_factory=dict)
    payouts: dict[str, tuple[PayoutResult, list[str]]] = field(default_factory=dict)
    paid_out: set[str] = field(default_factory=set)


class MemoryBalance(MemoryStore):
    """Payouts and balance transactions on top of `MemoryStore`."""

    # Stripe's standard European card pricing: 1.5 % + 0.25 € per charge.
    fee_bp = 150
    fee_fixed_minor = 25

    def _ledger(self) -> _Balance:
        balance = getattr(self, "_balance_state", None)
        if balance is None:
            balance = self._balance_state = _Balance()
        return balance

    def charge_fee(self, amount_minor: int) -> int:
        """Stripe's fee on a charge of `amount_minor`, rounded half up."""
        return (amount_minor * self.fee_bp + 5_000) // 10_000 + self.fee_fixed_minor

    def balance_transactions(self, now: int | None = None) -> list[BalanceTransactionResult]:
        """Every charge and refund so far as a balance transaction, oldest first."""
        stamp = int(time.time()) if now is None else now
        with self._lock:
            seen = self._ledger().seen
            for pi_id, intent in self._intents.items():
                received = intent.result.amount_received_minor
                if received > 0 and f"txn_{pi_id}" not in seen:
                    fee = self.charge_fee(received)
                    currency = intent.result.amount.currency
                    seen[f"txn_{pi_id}"] = BalanceTransactionResult(
                        f"txn_{pi_id}", "charge", received, fee, received - fee, currency, stamp,
                        f"ch_{pi_id}", pi_id,
                    )  # fmt: skip
            for re_id, refund in self.refunds.items():
                if f"txn_{re_id}" not in seen:
                    currency = self._intents[refund.payment_intent_id].result.amount.currency
                    seen[f"txn_{re_id}"] = BalanceTransactionResult(
                        f"txn_{re_id}", "refund", -refund.amount_minor, 0, -refund.amount_minor,
                        currency, stamp, re_id, refund.payment_intent_id,
                    )  # fmt: skip
            return list(seen.values())

    def create_payout(
        self, *, now: int | None = None, arrival_date: int | None = None
    ) -> PayoutResult:
        """Pay out everything not paid out yet (a test's stand-in for Stripe's schedule)."""
        stamp = int(time.time()) if now is None else now
        with self._lock:
            ledger = self._ledger()
            due = [t for t in self.balance_transactions(stamp) if t.id not in ledger.paid_out]
            amount = sum(t.net_minor for t in due)
            if amount <= 0:
                raise rejected("Nothing is available to pay out.", "balance_insufficient")
            payout = PayoutResult(
                id=self._new_id("po"),
                amount_minor=amount,
                currency=due[0].currency,
                status="paid",
                created=stamp,
                arrival_date=stamp + TWO_DAYS if arrival_date is None else arrival_date,
                statement_descriptor="STRIPE",
            )
            ledger.payouts[payout.id] = (payout, [t.id for t in due])
            ledger.paid_out.update(t.id for t in due)
            return payout

    # --- the port -------------------------------------------------------------

    def list_payouts(self, *, arrival_from: int, arrival_to: int) -> list[PayoutResult]:
        """The payouts arriving in the window (Unix seconds, inclusive), oldest first."""

        def run() -> list[PayoutResult]:
            found = [p for p, _ in self._ledger().payouts.values()]
            inside = [p for p in found if arrival_from <= p.arrival_date <= arrival_to]
            return sorted(inside, key=lambda p: (p.created, p.id))

        return self._read("list_payouts", run)

    def list_payout_transactions(self, payout_id: str) -> list[BalanceTransactionResult]:
        """What one payout paid out, oldest first."""

        def run() -> list[BalanceTransactionResult]:
            ledger = self._ledger()
            if payout_id not in ledger.payouts:
                raise rejected(f"No such payout: '{payout_id}'", "resource_missing", 404)
            return [ledger.seen[t] for t in ledger.payouts[payout_id][1]]

        return self._read("list_payout_transactions", run)
