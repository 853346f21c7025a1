"""E-mail: outbox without SMTP, exactly-once delivery to a real SMTP server, retries, escaping."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import func, select

from billing.db import utcnow
from billing.models import Event
from webapp.accounts.models import Freelancer
from webapp.mail import service
from webapp.mail.due import MAX_ATTEMPTS, QUEUED_GRACE, RETRY_DELAYS, deliver_due_email
from webapp.mail.models import OutboundEmail
from webapp.mail.service import deliver_email, parse_smtp_url, send_email, send_welcome
from webapp.tasks import huey

_seq = count(1)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@pytest.fixture(autouse=True)
def immediate_huey() -> Iterator[None]:
    """Tasks run at enqueue, in the caller's thread, with in-memory storage: no consumer."""
    previous = huey.immediate
    huey.immediate = True
    yield
    huey.immediate = previous


@pytest.fixture
def make_freelancer_row(app_ctx, db_session) -> Callable[..., Freelancer]:
    """Freelancers inserted directly, so no sign-up side effect (a welcome e-mail) interferes."""

    def make(**overrides: Any) -> Freelancer:
        n = next(_seq)
        values = {
            "email": f"mail{n}@example.test",
            "password_hash": "unused",
            "display_name": f"Camille {n}",
            "slug": f"camille-{n}",
            "locale": "fr",
        }
        values.update(overrides)
        freelancer = Freelancer(**values)
        db_session.add(freelancer)
        db_session.commit()
        return freelancer

    return make


def reload(db_session, email_id: int) -> OutboundEmail:
    # End the test session's snapshot (a SQLite transaction reads one
    # snapshot), then forget what it holds.
    db_session.rollback()
    db_session.expire_all()
    return db_session.get(OutboundEmail, email_id)


def failure_events(db_session, email_id: int) -> list[Event]:
    db_session.rollback()  # a fresh snapshot, as every run-due gets
    return list(
        db_session.scalars(
            select(Event)
            .where(
                Event.subject_type == "outbound_email",
                Event.subject_id == str(email_id),
                Event.action == "email_delivery_failed",
            )
            .order_by(Event.id)
        )
    )


# --- no SMTP_URL: the outbox ------------------------------------------------


def test_without_smtp_url_the_email_waits_in_the_outbox(
    client, db_session, make_freelancer_row, smtp_server
):
    # given
    freelancer = make_freelancer_row(display_name="Léa Martin")
    # when
    email = send_welcome(db_session, freelancer)
    db_session.commit()
    # then
    row = reload(db_session, email.id)
    assert row.status == "outbox"
    assert row.message_id and row.message_id.startswith("<")
    assert row.to_addr == freelancer.email
    assert smtp_server.messages == []
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert freelancer.email in page
    assert row.subject in page
    detail = client.get(f"/dev/outbox/{row.id}").get_data(as_text=True)
    assert "Léa Martin" in detail
    assert f"/dev/outbox/{row.id}/html" in detail


def test_outbox_lists_newest_first(client, db_session, make_freelancer_row):
    first = send_welcome(db_session, make_freelancer_row(email="first@example.test"))
    second = send_welcome(db_session, make_freelancer_row(email="second@example.test"))
    db_session.commit()
    assert first.id < second.id
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert page.index("second@example.test") < page.index("first@example.test")


def test_html_part_is_served_sandboxed(client, db_session, make_freelancer_row):
    email = send_welcome(db_session, make_freelancer_row())
    db_session.commit()
    answer = client.get(f"/dev/outbox/{email.id}/html")
    assert answer.status_code == 200
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "sandbox" in csp
    assert "script-src" not in csp  # falls back to 'none'
    assert answer.get_data(as_text=True) == email.body_html


def test_user_text_is_escaped_in_html_and_left_plain_in_text(
    client, db_session, make_freelancer_row
):
    freelancer = make_freelancer_row(display_name="<script>alert(1)</script>")
    email = send_welcome(db_session, freelancer)
    db_session.commit()
    assert "<script>" not in email.body_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.body_html
    # Plain text has no markup to escape: the name reads as typed.
    assert "<script>alert(1)</script>" in email.body_text
    detail = client.get(f"/dev/outbox/{email.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in detail
    assert "&lt;script&gt;" in detail


def test_a_rolled_back_email_is_never_stored(db_session, make_freelancer_row):
    email = send_welcome(db_session, make_freelancer_row())
    email_id = email.id
    db_session.rollback()
    assert db_session.get(OutboundEmail, email_id) is None


def test_subject_cannot_inject_headers(db_session, app_ctx):
    email = send_email(
        db_session,
        to="client@example.test",
        subject="Hello\r\nBcc: victim@example.test",
        template="welcome",
        context={"freelancer": Freelancer(display_name="X", slug="x")},
        locale="en",
    )
    assert "\n" not in email.subject and "\r" not in email.subject


# --- a real SMTP server -----------------------------------------------------


class TestWithSmtpServer:
    @pytest.fixture
    def app_config(self, app_config, smtp_server):
        return {**app_config, "SMTP_URL": smtp_server.url}

    def send(self, db_session, freelancer: Freelancer) -> OutboundEmail:
        email = send_welcome(db_session, freelancer)
        db_session.commit()
        return email

    def test_delivered_once_after_commit(self, db_session, make_freelancer_row, smtp_server):
        # given
        freelancer = make_freelancer_row(display_name="Léa Martin", email="lea@example.test")
        attachment = {
            "filename": "rendez-vous.ics",
            "content_type": "text/calendar",
            "data_b64": base64.b64encode(ICS).decode(),
        }
        # when
        email = send_email(
            db_session,
            to=freelancer.email,
            subject="Votre rendez-vous",
            template="welcome",
            context={"freelancer": freelancer},
            locale="fr",
            freelancer_id=freelancer.id,
            attachments=[attachment],
        )
        # then: nothing leaves before the commit
        assert email.status == "queued"
        assert smtp_server.messages == []
        db_session.commit()
        assert len(smtp_server.messages) == 1
        received = smtp_server.messages[0]
        assert received.rcpt_tos == ["lea@example.test"]
        message = received.message
        assert message["To"] == "lea@example.test"
        assert message["Subject"] == "Votre rendez-vous"
        assert message["From"] == "Acompte <no-reply@acompte.localhost>"
        assert "Léa Martin" in message.get_body(("plain",)).get_content()
        assert "Léa Martin" in message.get_body(("html",)).get_content()
        [part] = list(message.iter_attachments())
        assert part.get_filename() == "rendez-vous.ics"
        assert part.get_content_type() == "text/calendar"
        assert part.get_payload(decode=True) == ICS
        row = reload(db_session, email.id)
        assert row.status == "sent"
        assert row.sent_at is not None
        assert row.error is None
        assert message["Message-ID"] == row.message_id

    def test_delivering_twice_sends_once(self, app, db_session, make_freelancer_row, smtp_server):
        email = self.send(db_session, make_freelancer_row())
        assert len(smtp_server.messages) == 1
        # when: the task runs again (a retry), and the sweep runs much later
        assert "already sent" in deliver_email(email.id)
        service.deliver_email_task(email.id)
        assert deliver_due_email(db_session, utcnow() + timedelta(days=2)) == []
        # then
        assert len(smtp_server.messages) == 1

    def test_two_workers_at_once_send_once(self, app, db_session, make_freelancer_row, smtp_server):
        # given: a row queued, but its task not yet run
        email = send_welcome(db_session, make_freelancer_row())
        db_session.info.pop(service._PENDING_KEY)
        db_session.commit()
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker() -> None:
            with app.app_context():
                barrier.wait()
                outcomes.append(deliver_email(email.id))

        # when
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        # then
        assert len(smtp_server.messages) == 1
        assert sorted("already sent" in outcome for outcome in outcomes) == [False, True]
        assert reload(db_session, email.id).status == "sent"

    def test_server_down_marks_failed_then_the_due_runner_delivers(
        self, db_session, make_freelancer_row, smtp_server
    ):
        # given: the server is down
        smtp_server.stop()
        # when: no exception reaches the caller
        email = self.send(db_session, make_freelancer_row())
        # then
        row = reload(db_session, email.id)
        assert row.status == "failed"
        assert "Connection" in row.error
        [failure] = failure_events(db_session, email.id)
        # the first retry waits RETRY_DELAYS[0]: one second early, nothing
        retry_at = failure.occurred_at + RETRY_DELAYS[0]
        smtp_server.start()
        assert deliver_due_email(db_session, retry_at - timedelta(seconds=1)) == []
        assert smtp_server.messages == []
        # on time, the server being up again: delivered, once
        [line] = deliver_due_email(db_session, retry_at)
        assert "sent" in line
        assert len(smtp_server.messages) == 1
        row = reload(db_session, email.id)
        assert row.status == "sent"
        assert row.error is None
        assert deliver_due_email(db_session, retry_at + timedelta(days=1)) == []
        assert len(smtp_server.messages) == 1

    def test_retries_stop_after_max_attempts(self, db_session, make_freelancer_row, smtp_server):
        smtp_server.stop()
        email = self.send(db_session, make_freelancer_row())
        now = utcnow()
        for _ in range(MAX_ATTEMPTS - 1):
            now += timedelta(days=1)
            db_session.rollback()  # each run of the due work starts a fresh transaction
            [line] = deliver_due_email(db_session, now)
            assert "failed" in line
        assert len(failure_events(db_session, email.id)) == MAX_ATTEMPTS
        assert deliver_due_email(db_session, now + timedelta(days=30)) == []
        assert reload(db_session, email.id).status == "failed"

    def test_queue_down_leaves_the_row_queued_for_the_due_runner(
        self, db_session, make_freelancer_row, smtp_server, monkeypatch, caplog
    ):
        # given: enqueueing fails (the queue's storage is unreachable)
        def broken_queue(email_id: int) -> None:
            raise ConnectionError("queue unreachable")

        monkeypatch.setattr(service, "deliver_email_task", broken_queue)
        # when: the commit still succeeds
        with caplog.at_level(logging.ERROR, logger="webapp.mail.service"):
            email = self.send(db_session, make_freelancer_row())
        assert "could not enqueue" in caplog.text
        row = reload(db_session, email.id)
        assert row.status == "queued"
        assert smtp_server.messages == []
        # then: the sweep leaves a young row to its task, then sends it
        grace_end = row.created_at + QUEUED_GRACE
        assert deliver_due_email(db_session, grace_end - timedelta(seconds=1)) == []
        [line] = deliver_due_email(db_session, grace_end)
        assert "sent" in line
        assert len(smtp_server.messages) == 1

    def test_outbox_page_shows_sent_status(self, client, db_session, make_freelancer_row):
        email = self.send(db_session, make_freelancer_row())
        page = client.get("/dev/outbox").get_data(as_text=True)
        assert email.to_addr in page
        assert "sent" in page


def test_due_runner_does_nothing_without_smtp(db_session, make_freelancer_row):
    send_welcome(db_session, make_freelancer_row())
    db_session.commit()
    assert deliver_due_email(db_session, utcnow() + timedelta(days=1)) == []
    assert db_session.scalar(select(func.count()).where(OutboundEmail.status == "outbox")) == 1


# --- the outbox hidden ------------------------------------------------------


class TestOutboxHidden:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "SHOW_OUTBOX": False}

    def test_outbox_pages_are_404(self, client, db_session, make_freelancer_row):
        email = send_welcome(db_session, make_freelancer_row())
        db_session.commit()
        for path in (
            "/dev/outbox",
            f"/dev/outbox/{email.id}",
            f"/dev/outbox/{email.id}/html",
            f"/dev/outbox/{email.id}/attachments/0",
        ):
            assert client.get(path).status_code == 404, path


# --- SMTP_URL ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "username", "password"),
    [
        ("smtp://127.0.0.1:2525", "smtp", "127.0.0.1", 2525, None, None),
        ("smtp://mail.example.test", "smtp", "mail.example.test", 25, None, None),
        (
            "smtp+starttls://u:p@mail.example.test",
            "smtp+starttls",
            "mail.example.test",
            587,
            "u",
            "p",
        ),
        (
            "smtps://me%40x.fr:p%3Ass@mail.example.test:465",
            "smtps",
            "mail.example.test",
            465,
            "me@x.fr",
            "p:ss",
        ),
    ],
)
def test_parse_smtp_url(url, scheme, host, port, username, password):
    settings = parse_smtp_url(url)
    assert (settings.scheme, settings.host, settings.port) == (scheme, host, port)
    assert (settings.username, settings.password) == (username, password)


@pytest.mark.parametrize("url", ["http://mail.example.test", "smtp://", "mail.example.test:25"])
def test_parse_smtp_url_refuses_other_shapes(url):
    with pytest.raises(ValueError):
        parse_smtp_url(url)
