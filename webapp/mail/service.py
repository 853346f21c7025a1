"""E-mail: render in the recipient's language, store, then deliver by SMTP.

Every e-mail is an `OutboundEmail` row first. Without `SMTP_URL` it stays in
the outbox (`/dev/outbox`); with it, a Huey task delivers it once the
surrounding transaction has committed, and the `mail` due runner sweeps up
whatever the worker missed. Delivery never raises: failures land on the row.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from billing import events
from billing.db import utcnow
from webapp.mail.models import OutboundEmail

if TYPE_CHECKING:
    from webapp.accounts.models import Freelancer

log = logging.getLogger(__name__)

OUTBOX, QUEUED, SENT, FAILED = "outbox", "queued", "sent", "failed"
SMTP_TIMEOUT_SECONDS = 20
_PENDING_KEY = "acompte_mail_pending"
_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def send_email(
    session: Session,
    *,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    locale: str | None,
    freelancer_id: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
    reply_to: str | None = None,
) -> OutboundEmail:
    """Render `templates/email/<template>.{txt,html}` in `locale` and store the e-mail.

    `subject` may be a lazy string (`lazy_gettext`): it is translated here, in
    the recipient's locale, not the current request's. Flushes; the caller
    commits, and delivery starts only after that commit, so a rolled-back
    transaction never sends anything. `attachments`: [{filename, content_type,
    data_b64}]. `reply_to`: by default, an e-mail sent for a freelancer to
    someone else answers to the freelancer (`notifications.reply_to_of`).
    """
    config = current_app.config
    env = current_app.jinja_env
    values = {"base_url": config["BASE_URL"], **context}
    with force_locale(locale or "fr"):
        # A header may not span lines; user text in a subject must not inject one.
        subject_text = " ".join(str(subject).split())[:300]
        body_text = env.get_template(f"email/{template}.txt").render(values)
        body_html = env.get_template(f"email/{template}.html").render(values)
    to = to.strip()
    if reply_to is None and freelancer_id is not None:
        reply_to = _freelancer_reply_to(session, freelancer_id, to)
    if any("\n" in a or "\r" in a for a in (to, reply_to or "")):
        raise ValueError("recipient address spans several lines")
    email = OutboundEmail(
        freelancer_id=freelancer_id,
        to_addr=to,
        reply_to=reply_to or None,
        subject=subject_text,
        body_text=body_text,
        body_html=body_html,
        attachments=list(attachments or []),
        status=QUEUED if config.get("SMTP_URL") else OUTBOX,
        # Fixed at creation so a retry after an unclear failure reuses it and
        # receivers can recognise the duplicate.
        message_id=make_msgid(domain=_sender_domain(config["MAIL_FROM"])),
    )
    session.add(email)
    session.flush()
    if email.status == QUEUED:
        session.info.setdefault(_PENDING_KEY, set()).add(email.id)
    return email


def send_welcome(session: Session, freelancer: Freelancer) -> OutboundEmail:
    """The welcome e-mail after sign-up, in the freelancer's own language."""
    return send_email(
        session,
        to=freelancer.email,
        subject=_l("Welcome to Acompte"),
        template="welcome",
        context={"freelancer": freelancer},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


# --- after commit: hand the e-mails to the worker ---------------------------


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    # Enqueued only now: a worker must never look for a row that is not committed.
    for email_id in sorted(session.info.pop(_PENDING_KEY, ())):
        try:
            _delivery_task()(email_id)
        except Exception:
            # A broken queue must not fail the request whose data is already
            # committed; the `mail` due runner delivers the row later.
            log.exception("could not enqueue e-mail %s; the due runner will send it", email_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def deliver_email_queued(email_id: int) -> None:
    """Deliver one stored e-mail (retries belong to the due runner, bounded there).

    The body of the Huey task `deliver_email_task`, which `webapp.tasks` makes
    from it: Huey (and, through it, redis and psycopg) is imported with the
    first e-mail handed to the worker, not with this module, which every
    command loads. Runs in the app context `webapp.tasks` pushes around every task.
    """
    # Logged, not returned: Huey would keep every returned value in its store.
    log.info(deliver_email(email_id))


def _delivery_task() -> Any:
    # `deliver_email_task` set on this module (a test's broken queue) wins.
    return globals().get("deliver_email_task") or __getattr__("deliver_email_task")


def __getattr__(name: str) -> Any:
    # `service.deliver_email_task(email_id)` enqueues, as when it was defined here.
    if name == "deliver_email_task":
        from webapp.tasks import deliver_email_task

        return deliver_email_task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- delivery ---------------------------------------------------------------


def deliver_email(email_id: int) -> str:
    """Send one e-mail by SMTP at most once; returns what happened. Never raises for SMTP.

    The conditional UPDATE that marks the row sent is both the claim and the
    lock: it is held across the SMTP conversation and committed only after the
    server accepted the message. A second worker's UPDATE waits for it, then
    finds the row sent and skips it; if the send fails the claim is rolled
    back. A crash after the server accepted but before the commit sends the
    e-mail again later, with the same Message-ID. On SQLite the claim holds the
    database's single write lock for the SMTP conversation (at most
    `SMTP_TIMEOUT_SECONDS`, below SQLite's 30 s busy timeout): other writers wait
    rather than fail.
    """
    from webapp.extensions import db

    config = current_app.config
    if not config.get("SMTP_URL"):
        return f"e-mail {email_id}: SMTP_URL unset, kept in the outbox"
    with db.new_session() as session:
        claimed = session.execute(
            update(OutboundEmail)
            .where(OutboundEmail.id == email_id, OutboundEmail.status.in_((QUEUED, FAILED)))
            .values(status=SENT, sent_at=utcnow(), error=None)
        ).rowcount
        if not claimed:
            session.rollback()
            return f"e-mail {email_id}: already sent or not to be sent"
        email = session.scalars(
            select(OutboundEmail)
            .where(OutboundEmail.id == email_id)
            .execution_options(populate_existing=True)
        ).one()
        try:
            transmit(config["SMTP_URL"], build_message(email, config["MAIL_FROM"], session))
        except Exception as exc:
            # Whatever goes wrong (server, network, a malformed attachment) is
            # written on the row; the caller and the other e-mails carry on.
            session.rollback()
            error = f"{type(exc).__name__}: {exc}"[:2000]
            _mark_failed(session, email_id, error)
            log.warning("e-mail %s not delivered: %s", email_id, error)
            return f"e-mail {email_id} to {email.to_addr} failed: {error}"
        _record(session, email, "email_sent", {"message_id": email.message_id})
        session.commit()
        return f"e-mail {email_id} sent to {email.to_addr}"


def _mark_failed(session: Session, email_id: int, error: str) -> None:
    # Conditional, so a concurrent success is never turned back into a failure.
    failed = session.execute(
        update(OutboundEmail)
        .where(OutboundEmail.id == email_id, OutboundEmail.status != SENT)
        .values(status=FAILED, error=error, sent_at=None)
    ).rowcount
    if failed:
        email = session.get(OutboundEmail, email_id)
        # The failure events are the attempt counter the due runner bounds retries with.
        _record(session, email, "email_delivery_failed", {"error": error})
    session.commit()


def _record(session: Session, email: Any, action: str, data: dict[str, Any]) -> None:
    events.record(
        session,
        subject_type="outbound_email",
        subject_id=email.id,
        action=action,
        freelancer_id=email.freelancer_id,
        data=data,
    )


def build_message(
    email: OutboundEmail, mail_from: str, session: Session | None = None
) -> EmailMessage:
    """The MIME message: text, its HTML alternative, then the attachments.

    An invoice attachment is stored by reference and its PDF made now
    (`notifications.receipts.invoice_pdf`), outside the transaction that
    enqueued the e-mail.
    """
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to_addr
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = email.message_id
    message.set_content(email.body_text)
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    for attachment in email.attachments or []:
        maintype, _, subtype = attachment.get("content_type", "").partition("/")
        message.add_attachment(
            _attachment_bytes(attachment, session),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment["filename"],
        )
    return message


@dataclass(frozen=True)
class SmtpSettings:
    """`SMTP_URL` taken apart."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://`, `smtp+starttls://` or `smtps://` (implicit TLS), `user:pass@host:port`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp[s|+starttls]://user:pass@host:port")
    return SmtpSettings(
        scheme=scheme,
        host=parts.hostname,
        port=parts.port or _DEFAULT_PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def transmit(url: str, message: EmailMessage) -> None:
    """Hand one message to the SMTP server of `url`; raises smtplib/OS errors."""
    settings = parse_smtp_url(url)
    tls = ssl.create_default_context()
    if settings.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS, context=tls
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if settings.scheme == "smtp+starttls":
            client.starttls(context=tls)
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


def _attachment_bytes(attachment: dict[str, Any], session: Session | None) -> bytes:
    if "data_b64" in attachment:
        return base64.b64decode(attachment["data_b64"])
    from webapp.notifications.receipts import INVOICE_PDF, invoice_pdf

    if attachment.get("kind") != INVOICE_PDF or session is None:
        raise ValueError(f"attachment {attachment.get('filename')!r} has no content")
    return invoice_pdf(session, int(attachment["invoice_id"]), attachment.get("locale"))


def _freelancer_reply_to(session: Session, freelancer_id: int, to: str) -> str | None:
    from webapp.accounts.models import Freelancer
    from webapp.notifications.service import reply_to_of

    freelancer = session.get(Freelancer, freelancer_id)
    if freelancer is None or freelancer.email.lower() == to.lower():
        return None
    return reply_to_of(freelancer)


def _sender_domain(mail_from: str) -> str:
    # Message-IDs use the sender's domain, as receivers expect.
    return parseaddr(mail_from)[1].rpartition("@")[2] or "acompte.localhost"
