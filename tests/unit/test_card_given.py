"""The card given with the payment (one 3-D Secure), on the in-memory gateway: no I/O."""

from __future__ import annotations

import pytest

from billing.errors import CardError, GatewayRejected
from billing.gateway.memory import InMemoryGateway
from billing.money import Money


@pytest.fixture
def gateway() -> InMemoryGateway:
    return InMemoryGateway(honour_idempotency=False)


def test_attaching_a_card_twice_to_its_client_changes_nothing(gateway):
    customer = gateway.create_customer(email="a@example.test", name="A", idempotency_key="c")
    first = gateway.attach_payment_method("pm_card_visa", customer_id=customer, idempotency_key="1")
    again = gateway.attach_payment_method("pm_card_visa", customer_id=customer, idempotency_key="2")
    assert first == again
    assert (first.brand, first.last4) == ("visa", "4242")
    assert gateway.attached == {"pm_card_visa": customer}


def test_a_card_of_another_client_or_refused_by_the_bank_is_not_attached(gateway):
    one = gateway.create_customer(email="a@example.test", name="A", idempotency_key="c1")
    other = gateway.create_customer(email="b@example.test", name="B", idempotency_key="c2")
    gateway.attach_payment_method("pm_card_visa", customer_id=one, idempotency_key="1")
    with pytest.raises(GatewayRejected):
        gateway.attach_payment_method("pm_card_visa", customer_id=other, idempotency_key="2")
    with pytest.raises(CardError):
        gateway.attach_payment_method(
            "pm_card_visa_chargeDeclined", customer_id=one, idempotency_key="3"
        )
    assert gateway.attached == {"pm_card_visa": one}


@pytest.mark.parametrize("usage", ["off_session", None])
def test_a_payment_records_whether_it_keeps_its_card(gateway, usage):
    customer = gateway.create_customer(email="a@example.test", name="A", idempotency_key="c")
    intent = gateway.create_payment_intent(
        amount=Money(1_000, "eur"),
        customer_id=customer,
        payment_method_id="pm_card_visa",
        capture_method="automatic",
        off_session=False,
        idempotency_key="p",
        setup_future_usage=usage,
    )
    assert intent.status == "succeeded"
    assert gateway.future_usage.get(intent.id) == usage
