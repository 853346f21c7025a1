"""A crash between a status change and its notice loses nothing: the sweep tells, once.

The cancellation e-mail (fee, refund, release) is written after the money has
moved, the fix-my-card e-mail after the failed hold's own commit. Here the
process "dies" right there — the function that enqueues the e-mail raises, so
its transaction rolls back while the status change stays committed — then the
due work runs (`booking-notices`), as often as it likes. The e-mails are read
from a real SMTP server (aiosmtpd): each arrives exactly once, in the client's
language, with the true amounts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration import test_notifications as notifications
from tests.integration.test_notifications import body_of, subjects
from webapp.booking import closing, emails

pytestmark = pytest.mark.stripe

# The SMTP inbox, localstripe, a French-speaking freelancer, and bookings through the API.
inbox, app_config, sdk, seller, flow = (
    notifications.inbox,
    notifications.app_config,
    notifications.sdk,
    notifications.seller,
    notifications.flow,
)


class Killed(Exception):
    """The process dies here (the transaction that enqueues the e-mail never commits)."""


def die_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Make `emails.<name>` die on its first call; the calls that reached it."""
    real = getattr(emails, name)
    calls: list[int] = []

    def dying(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(emails, name, dying)
    return calls


def run_due(f, at) -> str:  # noqa: ANN001
    """The due work at `at`, its lines as one text."""
    return "\n".join(f.run_due(at))


def cancellations(inbox, address: str) -> list:  # noqa: ANN001
    return [m for m in inbox.to(address) if "cancelled" in str(m["Subject"]).lower()]


def test_a_cancellation_whose_notice_died_is_told_once_by_the_sweep(
    flow, seller, inbox, monkeypatch
):
    # given a prepaid €240 session five days away, paid by an English-speaking client
    f = flow("prepay", days=5, locale="en")
    f.save_card()
    assert f.confirm().get_json() == {"status": "confirmed"}
    calls = die_once(monkeypatch, "send_cancellation")
    # when the client cancels in time and the process dies before the notice is committed
    with pytest.raises(Killed):
        f.call(closing.cancel_by_client, f.id, f.token, now=None)
    # then the booking is cancelled and refunded, and nobody was told yet
    assert f.booking().status == "cancelled"
    assert [p[1] for p in f.payments()] == ["succeeded"]
    assert cancellations(inbox, "camille@example.test") == []
    # when the due work runs, twice
    said = run_due(f, f.booking().cancelled_at + timedelta(minutes=2))
    again = run_due(f, f.booking().cancelled_at + timedelta(minutes=3))
    # then the client is told once, with the refund, and the freelancer once too
    assert f"booking-notices: booking {f.id}: cancellation notice sent" in said, said
    assert "booking-notices" not in again, again
    [told] = cancellations(inbox, "camille@example.test")
    assert "Refunded to your card: €240.00" in body_of(told)
    mine = [s for s in subjects(inbox.to(seller["email"])) if "annulée" in s.lower()]
    assert len(mine) == 1, mine
    assert len(calls) == 2


def test_a_cancellation_told_by_its_request_is_not_told_again(flow, inbox):
    f = flow("prepay", days=5, locale="en")
    f.save_card()
    f.confirm()
    f.call(closing.cancel_by_client, f.id, f.token, now=None)
    said = run_due(f, f.booking().cancelled_at + timedelta(minutes=2))
    assert "booking-notices" not in said, said
    assert len(cancellations(inbox, "camille@example.test")) == 1


def test_a_failed_hold_whose_fix_card_notice_died_is_asked_once_by_the_sweep(
    flow, inbox, monkeypatch
):
    # given a session 20 days away, its card saved, declined when the hold is placed
    f = flow("hold", days=20, locale="en")
    f.save_card("pm_card_chargeCustomerFail")
    f.confirm()
    due = f.booking().hold_due_at
    calls = die_once(monkeypatch, "send_fix_card")
    # when the hold fails and the process dies before the notice is committed
    said = run_due(f, due)
    assert "failed" in said, said
    assert f.booking().payment_state == "failed"
    assert [m for m in inbox.to("camille@example.test") if "Action needed" in m["Subject"]] == []
    # when the due work runs again, twice
    later = run_due(f, due + timedelta(minutes=2))
    again = run_due(f, due + timedelta(minutes=3))
    # then the client is asked once to fix the card, with the card page's link
    assert f"booking-notices: booking {f.id}: fix-card notice sent" in later, later
    assert "booking-notices" not in again, again
    [fix] = [m for m in inbox.to("camille@example.test") if "Action needed" in m["Subject"]]
    assert f"/b/{f.id}/card?token=" in body_of(fix)
    assert len(calls) == 2


def test_a_cancellation_waits_for_its_refund_before_it_is_told(flow, inbox, app, monkeypatch):
    # given a cancellation whose refund's answer was lost (still `created`), notice died
    from billing import refunds
    from billing.errors import GatewayUnavailable

    f = flow("prepay", days=5, locale="en")
    f.save_card()
    f.confirm()
    die_once(monkeypatch, "send_cancellation")

    def lost(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise GatewayUnavailable("the refund's answer was lost")

    monkeypatch.setattr(refunds, "send_refund", lost)
    with pytest.raises((Killed, GatewayUnavailable)):
        f.call(closing.cancel_by_client, f.id, f.token, now=None)
    monkeypatch.undo()
    cancelled_at = f.booking().cancelled_at
    # when the sweep runs while the refund is still in doubt: nothing is told yet
    early = run_due(f, cancelled_at + timedelta(minutes=2))
    assert "booking-notices" not in early, early
    assert cancellations(inbox, "camille@example.test") == []
    # when it runs after the refund's lease: the refund is looked up and made, then told
    said = run_due(f, cancelled_at + timedelta(minutes=10))
    said += run_due(f, cancelled_at + timedelta(minutes=11))
    [told] = cancellations(inbox, "camille@example.test")
    assert "Refunded to your card: €240.00" in body_of(told), said
    assert f"booking-notices: booking {f.id}: cancellation notice sent" in said, said
