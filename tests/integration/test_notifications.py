"""Who is told what happened to their money, read from a real SMTP server (aiosmtpd).

Each test drives a money event through the API and localstripe, runs the
due work as `run-due` does, then reads the received messages: recipient,
language, amounts, Reply-To and the invoice PDF attached by its number.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
import stripe
from sqlalchemy import select

from billing.db import utcnow
from billing.invoicing.models import Invoice
from tests.integration.test_booking_stripe import ALL_WEEK, Flow, hour_in
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.booking import closing
from webapp.due import run_due
from webapp.extensions import db
from webapp.mail.models import OutboundEmail
from webapp.mail.service import deliver_email

pytestmark = pytest.mark.stripe


class Inbox:
    """The SMTP server's messages, after delivering every queued e-mail (as the worker would)."""

    def __init__(self, app, server) -> None:
        self.app, self.server = app, server

    def deliver(self) -> None:
        with self.app.app_context():
            ids = db.session.scalars(
                select(OutboundEmail.id).where(OutboundEmail.status == "queued")
            ).all()
            db.session.rollback()
            for email_id in ids:
                assert "sent to" in deliver_email(email_id)

    def to(self, address: str) -> list[EmailMessage]:
        self.deliver()
        return [m.message for m in self.server.messages if address in m.rcpt_tos]


@pytest.fixture
def inbox(app, smtp_server) -> Inbox:
    return Inbox(app, smtp_server)


@pytest.fixture
def app_config(app_config, localstripe_url, smtp_server):
    return {
        **app_config,
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_SECRET_KEY": "sk_test_notify",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_notify",
        "SMTP_URL": smtp_server.url,
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture
def sdk(localstripe_url):
    return stripe.StripeClient("sk_test_notify", base_addresses={"api": localstripe_url})


@pytest.fixture
def seller(client, make_freelancer):
    """A French-speaking freelancer with a complete profile (invoices are issued)."""
    freelancer = make_freelancer(locale="fr")
    headers = freelancer["headers"]
    assert client.patch("/api/v1/me", headers=headers, json=PROFILE).status_code == 200
    answer = client.put(
        "/api/v1/availability",
        json={"timezone": "Europe/Paris", "weekly": ALL_WEEK, "exceptions": []},
        headers=headers,
    )
    assert answer.status_code == 200

    def offering(policy, **overrides):
        body = {
            "title": f"Séance {policy}",
            "duration_minutes": 60,
            "amount_minor": 24_000,
            "currency": "eur",
            "payment_policy": policy,
            "free_cancel_hours": 24,
            "late_cancel_fee_percent": 50,
            "no_show_fee_percent": 100,
            "min_notice_minutes": 0,
            **overrides,
        }
        created = client.post("/api/v1/offerings", json=body, headers=headers)
        assert created.status_code == 201, created.get_json()
        return created.get_json()

    freelancer["offering"] = offering
    return freelancer


class ClientFlow(Flow):
    """A booking whose client gives a language (the API's `client.locale`)."""

    def __init__(self, client, app, sdk, seller, offering, start, locale):
        client.set_cookie("lang", locale)
        super().__init__(client, app, sdk, seller, offering, start)
        client.delete_cookie("lang")


@pytest.fixture
def flow(client, app, sdk, seller):
    def make(policy, days=2.0, locale="en", **overrides):
        offering = seller["offering"](policy, **overrides)
        return ClientFlow(client, app, sdk, seller, offering, hour_in(days), locale)

    return make


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def subjects(messages: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in messages]


def attachment_names(message: EmailMessage) -> list[str]:
    return [part.get_filename() for part in message.iter_attachments()]


def invoice_numbers(app) -> list[str]:
    with app.app_context():
        return [i.number for i in db.session.scalars(select(Invoice).order_by(Invoice.id))]


def test_deposit_booking_tells_both_sides_with_true_amounts_and_receipts(flow, app, seller, inbox):
    # given a 30 % deposit on €240, booked by an English-speaking client
    f = flow("deposit", deposit_percent=30, locale="en")
    f.save_card()
    # when they pay
    assert f.confirm().get_json()["status"] == "confirmed"
    # the booking keeps the client's language (the freelancer's API shows it)
    listed = f.client.get(f"/api/v1/bookings/{f.id}", headers=seller["headers"]).get_json()
    assert listed["client"]["locale"] == "en"
    # then the client's confirmation says €72 now and €168 after the session, in English
    client_mails = inbox.to("camille@example.test")
    confirmation = next(m for m in client_mails if "is booked" in str(m["Subject"]))
    text = body_of(confirmation)
    assert "Charged now: €72.00" in text
    assert "Charged after the session" in text and "€168.00" in text
    assert "Paid" not in text
    assert confirmation["Reply-To"] == seller["email"]
    # and a receipt for the €72 with its invoice attached, named by its number
    receipt = next(m for m in client_mails if str(m["Subject"]).startswith("Receipt"))
    [deposit_invoice] = invoice_numbers(app)
    assert "€72.00" in str(receipt["Subject"])
    assert deposit_invoice in body_of(receipt)
    assert attachment_names(receipt) == [f"{deposit_invoice}.pdf"]
    pdf = next(receipt.iter_attachments()).get_content()
    assert pdf.startswith(b"%PDF")
    # the invoice exactly as issued: the bytes its SHA-256 was taken of
    import hashlib

    from billing.invoicing import documents

    with app.app_context():
        invoice = db.session.scalars(select(Invoice)).one()
        assert hashlib.sha256(pdf).hexdigest() == documents.pdf_sha256(db.session, invoice)
    # and the French-speaking freelancer hears of the booking and the payment, in French
    mine = subjects(inbox.to(seller["email"]))
    assert any(s.startswith("Nouvelle réservation") for s in mine), mine
    # (a header's spaces are plain ones: "72,00 €")
    assert any(s.startswith("Paiement reçu") and "72,00 €" in s for s in mine), mine

    # when the balance is charged after the session
    f.run_due(f.start + timedelta(hours=2))
    # then the client has a second receipt for €168 with the balance invoice
    receipts = [m for m in inbox.to("camille@example.test") if "Receipt" in m["Subject"]]
    assert len(receipts) == 2
    balance_invoice = invoice_numbers(app)[1]
    assert "€168.00" in str(receipts[1]["Subject"])
    assert attachment_names(receipts[1]) == [f"{balance_invoice}.pdf"]


def test_late_cancellation_of_a_hold_states_fee_and_release(flow, seller, inbox):
    # given a €240 hold, 50 % late fee, booked by a French-speaking client
    f = flow("hold", locale="fr")
    f.save_card()
    f.confirm()
    late = f.start - timedelta(hours=2)
    # when the client cancels late
    answer = f.call(closing.cancel_by_client, f.id, f.token, now=late)
    assert (answer["fee_amount_minor"], answer["released_amount_minor"]) == (12_000, 12_000)
    # then the client's e-mail, in French, says the fee kept and the hold released
    cancelled = next(m for m in inbox.to("camille@example.test") if "annulée" in str(m["Subject"]))
    text = body_of(cancelled)
    assert "120,00\u00a0€" in text
    assert "Empreinte levée" in text
    # and a receipt for the fee, with its invoice
    receipts = [m for m in inbox.to("camille@example.test") if "Reçu" in m["Subject"]]
    assert len(receipts) == 1 and attachment_names(receipts[0])[0].endswith(".pdf")
    # and the freelancer is told who cancelled and the fee
    notice = next(m for m in inbox.to(seller["email"]) if "Réservation annulée" in m["Subject"])
    assert "Camille" in body_of(notice) and "120,00\u00a0€" in body_of(notice)


def test_failed_late_hold_then_automatic_cancellation_tells_the_freelancer(flow, seller, inbox):
    f = flow("hold", days=20, locale="en")
    f.save_card("pm_card_chargeCustomerFail")
    f.confirm()
    f.run_due(f.booking().hold_due_at)
    fix = next(m for m in inbox.to("camille@example.test") if "Action needed" in m["Subject"])
    assert f"/b/{f.id}/card?token=" in body_of(fix)
    assert any(
        "charge failed" in s.lower() or "échec" in s.lower()
        for s in subjects(inbox.to(seller["email"]))
    )
    f.run_due(f.start - timedelta(hours=24))
    assert f.booking().status == "cancelled"
    mine = subjects(inbox.to(seller["email"]))
    assert any("annulée automatiquement" in s for s in mine), mine


# --- quotes and milestones ----------------------------------------------------


def test_quote_events_reach_the_freelancer_and_the_client_in_their_languages(
    app, client, make_freelancer, sdk, inbox
):
    # given a French freelancer and a quote to an English-speaking client
    freelancer = make_freelancer(locale="fr")
    headers = freelancer["headers"]
    assert client.patch("/api/v1/me", headers=headers, json=PROFILE).status_code == 200
    body = quote_body(
        client={"name": "Claire Client", "email": "claire@example.test", "locale": "en"},
        lines=[{"description": "Site", "quantity": 1, "unit_amount_minor": 100_000}],
        milestones=[
            {"title": "Deposit", "percent": 30, "trigger": "on_acceptance"},
            {"title": "Mock-ups", "amount_minor": 40_000, "trigger": "on_approval"},
            {"title": "Launch", "amount_minor": 30_000, "trigger": "on_approval"},
        ],
    )
    quote = client.post("/api/v1/quotes", headers=headers, json=body).get_json()
    token = quote["public_token"]
    assert client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers).status_code == 200
    # when the client opens, accepts and pays the deposit
    assert client.get(f"/q/{token}").status_code == 200
    signed = client.post(
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    ).get_json()
    seti = signed["setup_intent_client_secret"].split("_secret_")[0]
    sdk.v1.setup_intents.confirm(seti, params={"payment_method": "pm_card_visa"})
    assert client.post(f"/api/v1/public/quotes/{token}/accept/confirm", json={}).status_code == 200
    # then the freelancer, in French, hears the quote was viewed and accepted
    mine = subjects(inbox.to(freelancer["email"]))
    assert any(s.startswith("Devis consulté") for s in mine), mine
    assert any(s.startswith("Devis accepté") for s in mine), mine
    # and the client, in English, got the quote and a receipt of €300 with its invoice
    theirs = inbox.to("claire@example.test")
    assert any(str(m["Subject"]).startswith("Quote from") for m in theirs)
    receipt = next(m for m in theirs if str(m["Subject"]).startswith("Receipt"))
    assert "€300.00" in body_of(receipt)
    [number] = invoice_numbers(app)
    assert attachment_names(receipt) == [f"{number}.pdf"]

    # when a milestone is delivered, approved and charged; another objected to
    ms = [m["id"] for m in quote["milestones"]]
    client.post(f"/api/v1/milestones/{ms[1]}/deliver", headers=headers, json={"note": "v1"})
    delivered = [m for m in inbox.to("claire@example.test") if "Delivered" in m["Subject"]]
    assert delivered and "€400.00" in body_of(delivered[0])
    client.post(f"/api/v1/public/milestones/{ms[1]}/approve", json={"token": token})
    client.post(f"/api/v1/milestones/{ms[2]}/deliver", headers=headers, json={"note": "prod"})
    client.post(f"/api/v1/public/milestones/{ms[2]}/object", json={"token": token, "reason": "bug"})
    with app.app_context():
        run_due(utcnow())
    # then the freelancer hears of the approval, the objection and the payment
    mine = subjects(inbox.to(freelancer["email"]))
    assert any(s.startswith("Jalon validé") for s in mine), mine
    assert any("Launch" in s and "ontestation" in s for s in mine), mine
    assert any(s.startswith("Paiement reçu") and "400,00 €" in s for s in mine), mine
    # and the client has a second receipt, with the milestone's invoice
    receipts = [m for m in inbox.to("claire@example.test") if "Receipt" in m["Subject"]]
    assert len(receipts) == 2 and "€400.00" in str(receipts[1]["Subject"])
    assert attachment_names(receipts[1]) == [f"{invoice_numbers(app)[1]}.pdf"]


# --- reminders, choices, a move ------------------------------------------------


def test_session_reminders_24_h_and_1_h_before_once_each(flow, inbox):
    f = flow("prepay", days=3, locale="en")
    f.save_card()
    f.confirm()

    def reminders() -> list[EmailMessage]:
        return [m for m in inbox.to("camille@example.test") if "Reminder" in m["Subject"]]

    f.run_due(f.start - timedelta(hours=24, seconds=1))
    assert reminders() == []
    f.run_due(f.start - timedelta(hours=24))
    f.run_due(f.start - timedelta(hours=23))
    assert len(reminders()) == 1
    assert f"/b/{f.id}/manage?token=" in body_of(reminders()[0])
    f.run_due(f.start - timedelta(hours=1))
    f.run_due(f.start - timedelta(minutes=30))
    assert len(reminders()) == 2


def test_a_notice_switched_off_is_not_sent_and_the_client_is_still_told(
    flow, client, seller, inbox
):
    login = client.post("/login", data={"email": seller["email"], "password": seller["password"]})
    assert login.status_code == 302
    page = client.get("/settings/notifications")
    assert page.status_code == 200 and "Une nouvelle réservation" in page.get_data(as_text=True)
    # every notice but the new booking's stays ticked
    events = re.findall(r'name="notice" value="([a-z_]+)"', page.get_data(as_text=True))
    assert "booking_new" in events and "payment_received" in events
    data = {"notice": [e for e in events if e != "booking_new"]}
    assert client.post("/settings/notifications", data=data).status_code == 302
    client.post("/logout")
    f = flow("prepay", locale="fr")
    f.save_card()
    f.confirm()
    mine = subjects(inbox.to(seller["email"]))
    assert not any(s.startswith("Nouvelle réservation") for s in mine), mine
    assert any(s.startswith("Paiement reçu") for s in mine), mine
    assert any("réservée" in s for s in subjects(inbox.to("camille@example.test")))


def test_a_reschedule_tells_both_and_the_invite_keeps_its_uid(flow, client, seller, inbox):
    f = flow("hold", days=3, locale="en")
    f.save_card()
    f.confirm()
    moved = client.post(
        f"/api/v1/public/bookings/{f.id}/reschedule",
        json={"manage_token": f.token, "start": (f.start + timedelta(hours=2)).isoformat()},
    )
    assert moved.status_code == 200, moved.get_json()
    theirs = inbox.to("camille@example.test")
    booked = next(m for m in theirs if "is booked" in m["Subject"])
    move = next(m for m in theirs if "is moved" in m["Subject"])
    assert "Held on your card (not charged yet): €240.00" in body_of(move)
    invites = [
        next(p for p in m.iter_attachments() if p.get_filename() == "invite.ics").get_content()
        for m in (booked, move)
    ]
    invites = [i.decode() if isinstance(i, bytes) else i for i in invites]
    assert (
        f"UID:booking-{f.id}@acompte" in invites[0] and f"UID:booking-{f.id}@acompte" in invites[1]
    )
    assert "SEQUENCE:0" in invites[0] and "SEQUENCE:1" in invites[1]
    assert "LOCATION:" not in invites[0]
    assert any(s.startswith("Réservation déplacée") for s in subjects(inbox.to(seller["email"])))


# --- paid questions, failed charges and recovery ------------------------------


def test_a_paid_question_tells_the_freelancer_and_its_answer_sends_a_receipt(
    client, make_freelancer, sdk, inbox, app
):
    freelancer = make_freelancer(locale="fr")
    headers = freelancer["headers"]
    assert client.patch("/api/v1/me", headers=headers, json=PROFILE).status_code == 200
    settings = {
        "enabled": True,
        "price_minor": 2_500,
        "currency": "eur",
        "answer_delay_hours": 72,
        "free_follow_up": False,
    }
    assert (
        client.put("/api/v1/messages/settings", json=settings, headers=headers).status_code == 200
    )
    client.set_cookie("lang", "en")  # the client's page is in English
    asked = client.post(
        f"/api/v1/public/freelancers/{freelancer['slug']}/messages",
        json={"name": "Claire", "email": "claire@example.test", "text": "How do I invoice?"},
    ).get_json()
    client.delete_cookie("lang")
    seti = asked["setup_intent_client_secret"].split("_secret_")[0]
    sdk.v1.setup_intents.confirm(seti, params={"payment_method": "pm_card_visa"})
    confirmed = client.post(
        f"/api/v1/public/messages/{asked['message_id']}/confirm", json={"token": asked["token"]}
    )
    assert confirmed.status_code == 200, confirmed.get_json()
    mine = subjects(inbox.to(freelancer["email"]))
    assert any(s.startswith("Nouvelle question payante de Claire") for s in mine), mine
    answered = client.post(
        f"/api/v1/messages/{asked['message_id']}/answer",
        json={"text": "Like this."},
        headers=headers,
    )
    assert answered.status_code == 200, answered.get_json()
    receipt = next(m for m in inbox.to("claire@example.test") if "Receipt" in m["Subject"])
    assert "€25.00" in str(receipt["Subject"])
    assert attachment_names(receipt) == [f"{invoice_numbers(app)[0]}.pdf"]
    assert any(
        s.startswith("Paiement reçu : 25,00 €") for s in subjects(inbox.to(freelancer["email"]))
    )


@pytest.mark.parametrize("paid_by", ["transfer", "link"])
def test_a_failed_charge_opens_recovery_and_each_step_and_the_payment_are_told(
    app, client, make_freelancer, sdk, inbox, paid_by
):
    from billing.dunning.models import DunningCase
    from billing.invoicing import service as invoicing
    from tests.integration.test_dunning_flow import fail_off_session_charge

    freelancer = make_freelancer(locale="fr")
    assert (
        client.patch("/api/v1/me", headers=freelancer["headers"], json=PROFILE).status_code == 200
    )
    # given an off-session charge of €1,200 that the bank declines
    fail_off_session_charge(app, sdk, freelancer["id"])
    # then the freelancer hears of the failure and of the recovery started, and of J+0 sent
    mine = subjects(inbox.to(freelancer["email"]))
    assert any(s.startswith("Échec d’un prélèvement : 1 200,00 €") for s in mine), mine
    assert any(s.startswith("Impayé : relance lancée pour 1 200,00 €") for s in mine), mine
    assert any(s.startswith("Relance envoyée à") for s in mine), mine
    assert any("F20" in str(m["Subject"]) for m in inbox.to("client@example.test"))
    with app.app_context():
        case = db.session.scalars(select(DunningCase)).one()
        number = db.session.get(Invoice, case.invoice_id).number
    if paid_by == "transfer":
        # when the client pays by transfer
        with app.app_context():
            invoicing.record_payment(
                db.session,
                case.invoice_id,
                amount_minor=1200_00,
                method="transfer",
                paid_at=utcnow(),
                reference="VIR 42",
            )
            db.session.commit()
    else:
        # when the client pays with a new card through the e-mail's link
        notice = next(m for m in inbox.to("client@example.test") if "F20" in m["Subject"])
        token = re.search(r"/pay/(pay_[A-Za-z0-9_\-]+)", body_of(notice)).group(1)
        data = client.get(f"/api/v1/public/pay/{token}").get_json()
        seti = data["setup_intent_client_secret"].split("_secret_")[0]
        sdk.v1.setup_intents.confirm(seti, params={"payment_method": "pm_card_visa"})
        assert client.post(f"/api/v1/public/pay/{token}/confirm", json={}).get_json() == {
            "status": "paid"
        }
        # then the client has a receipt for it, with the case's invoice attached
        receipt = next(m for m in inbox.to("client@example.test") if "Reçu" in m["Subject"])
        assert "1 200,00 €" in str(receipt["Subject"])
        assert attachment_names(receipt) == [f"{number}.pdf"]
    # then the freelancer is told it is recovered
    assert any(
        s.startswith("Recouvré : 1 200,00 € payé") for s in subjects(inbox.to(freelancer["email"]))
    )


def test_the_language_chosen_on_the_quote_page_is_the_clients(app, client, make_freelancer):
    from webapp.quotes.models import Quote

    freelancer = make_freelancer(locale="fr")
    headers = freelancer["headers"]
    assert client.patch("/api/v1/me", headers=headers, json=PROFILE).status_code == 200
    quote = client.post("/api/v1/quotes", headers=headers, json=quote_body()).get_json()
    client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    with app.app_context():
        assert db.session.get(Quote, quote["id"]).client_locale == "fr"  # the freelancer's
    client.get(f"/q/{quote['public_token']}?lang=en")  # the FR/EN switch sets the cookie
    signed = client.post(
        f"/api/v1/public/quotes/{quote['public_token']}/accept",
        json={"signer_name": "Claire", "accept_terms": True},
    )
    assert signed.status_code == 200, signed.get_json()
    with app.app_context():
        assert db.session.get(Quote, quote["id"]).client_locale == "en"


def test_a_hold_captured_after_the_session_sends_its_receipt_once(flow, app, inbox):
    f = flow("hold", locale="en")
    f.save_card()
    f.confirm()
    assert not [m for m in inbox.to("camille@example.test") if "Receipt" in m["Subject"]]
    f.run_due(f.start + timedelta(hours=2))
    f.run_due(f.start + timedelta(hours=3))  # again: nothing more
    receipts = [m for m in inbox.to("camille@example.test") if "Receipt" in m["Subject"]]
    assert len(receipts) == 1 and "€240.00" in str(receipts[0]["Subject"])
    assert attachment_names(receipts[0]) == [f"{invoice_numbers(app)[0]}.pdf"]


def test_reminder_hours_come_from_the_environment(monkeypatch, tmp_path):
    from webapp.config import from_environment

    monkeypatch.setenv("SESSION_REMINDER_HOURS", "48, 2")
    assert from_environment(tmp_path)["SESSION_REMINDER_HOURS"] == "48, 2"
    from flask import Flask

    from webapp.notifications.reminders import reminder_hours

    app = Flask(__name__)
    with app.app_context():
        app.config["SESSION_REMINDER_HOURS"] = "48, 2"
        assert reminder_hours() == [48, 2]
        app.config["SESSION_REMINDER_HOURS"] = ""
        assert reminder_hours() == []
