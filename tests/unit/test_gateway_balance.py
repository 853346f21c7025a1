"""The in-memory Stripe's balance: a fee on each charge, refunds, payouts of the rest."""

from __future__ import annotations

import pytest

from billing.errors import GatewayRejected
from billing.gateway.memory import InMemoryGateway
from billing.money import Money


def _charge(gateway: InMemoryGateway, amount: int, key: str) -> str:
    customer = gateway.create_customer(email="c@example.test", name="C", idempotency_key=key)
    intent = gateway.create_payment_intent(
        amount=Money(amount, "eur"),
        customer_id=customer,
        payment_method_id="pm_card_visa",
        capture_method="automatic",
        off_session=True,
        idempotency_key=f"{key}-pi",
    )
    return intent.id


@pytest.mark.parametrize(("amount", "fee"), [(10_000, 175), (100, 27), (3_333, 75)])
def test_stripe_fee_is_one_and_a_half_percent_plus_25_cents(amount, fee):
    assert InMemoryGateway().charge_fee(amount) == fee


def test_a_payout_pays_out_net_of_fees_and_refunds_once():
    # given two charges, one partly refunded
    gateway = InMemoryGateway()
    first = _charge(gateway, 10_000, "a")
    second = _charge(gateway, 5_000, "b")
    gateway.refund(second, amount_minor=1_000, idempotency_key="r")
    # when Stripe pays out
    payout = gateway.create_payout(now=1_000)
    # then the payout is gross - fees - refunds, and lists what it paid
    assert payout.amount_minor == 15_000 - 175 - 100 - 1_000
    listed = gateway.list_payout_transactions(payout.id)
    assert [(t.type, t.payment_intent_id) for t in listed] == [
        ("charge", first),
        ("charge", second),
        ("refund", second),
    ]
    assert sum(t.net_minor for t in listed) == payout.amount_minor
    window = gateway.list_payouts(arrival_from=payout.arrival_date, arrival_to=payout.arrival_date)
    assert window == [payout]
    assert gateway.list_payouts(arrival_from=0, arrival_to=payout.arrival_date - 1) == []
    # nothing is paid out twice
    with pytest.raises(GatewayRejected):
        gateway.create_payout(now=2_000)
    third = _charge(gateway, 2_000, "c")
    later = gateway.create_payout(now=3_000)
    assert [t.payment_intent_id for t in gateway.list_payout_transactions(later.id)] == [third]
