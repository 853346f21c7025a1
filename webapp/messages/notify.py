"""The e-mails of paid questions: to the client (sent, answered, declined, expired) and to
the freelancer (a new question, a capture that failed). Queued in the caller's transaction,
so an e-mail leaves only if what it announces is committed.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from webapp.accounts.models import Freelancer
from webapp.mail.service import send_email
from webapp.messages.models import Answer, Question
from webapp.messages.threads import thread_link, thread_root
from webapp.notifications.service import LocalMoney


def asked(session: Session, question: Question) -> None:
    """The hold is placed: the client's receipt, and the freelancer's new question."""
    to_client(session, question, "message_received", _l("Your question was sent"))
    new_question(session, question)


def new_question(session: Session, question: Question) -> None:
    """Tell the freelancer a question (paid, or a free follow-up) awaits their answer."""
    from webapp.notifications.service import to_freelancer

    to_freelancer(
        session,
        question.freelancer_id,
        "question_asked",
        question=question,
        client=question.client_name,
    )


def answered(session: Session, question: Question, reply: Answer) -> None:
    """Send the client the answer (the money is captured by now)."""
    to_client(
        session, question, "message_answered", _l("Your question has been answered"), answer=reply
    )


def capture_failed(session: Session, question: Question) -> None:
    """Tell the freelancer the capture failed, so their answer is saved but not sent."""
    freelancer = session.get(Freelancer, question.freelancer_id)
    assert freelancer is not None
    send_email(
        session,
        to=freelancer.email,
        subject=_l("Payment not captured: your answer was not sent"),
        template="message_capture_failed",
        context={"question": question, "freelancer": freelancer},
        locale=freelancer.locale,
        freelancer_id=freelancer.id,
    )


def to_client(
    session: Session, question: Question, template: str, subject: Any, **extra: Any
) -> None:
    """One e-mail to the client, in their language, with the link to their thread."""
    root = thread_root(session, question)
    freelancer = session.get(Freelancer, question.freelancer_id)
    send_email(
        session,
        to=question.client_email,
        subject=subject,
        template=template,
        context={
            "question": question,
            "root": root,
            "freelancer": freelancer,
            "amount": LocalMoney(question.amount_minor, question.currency),
            "link": thread_link(session, question),
            **extra,
        },
        locale=question.client_locale,
        freelancer_id=question.freelancer_id,
    )
