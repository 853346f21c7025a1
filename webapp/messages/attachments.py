"""Files joined to questions: size and type checked by content, stored under random names.

Never served statically: only the two parties download them, as attachments,
with `nosniff`, so a file can never run as a page of ours.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import IO

from flask import Response, current_app, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from billing import events
from webapp.messages.models import Attachment, Question

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_QUESTION = 3
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "text/plain": ".txt",
}


class AttachmentRefused(Exception):
    """The file is refused; `status` is 413 (too large), 415 (type) or 422 (other)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def sniff(head: bytes) -> str | None:
    """The allowed content type the bytes really are, whatever the file is called."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    return "text/plain" if controls == 0 else None


def upload_folder() -> Path:
    """Where message files live: `UPLOAD_FOLDER`, default instance/uploads, then messages/."""
    base = current_app.config.get("UPLOAD_FOLDER") or str(
        Path(current_app.instance_path) / "uploads"
    )
    folder = Path(base) / "messages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store(
    session: Session, question: Question, stream: IO[bytes], filename: str, *, actor: str
) -> Attachment:
    """Check and keep one file for `question`; `AttachmentRefused` says why not. Flushes."""
    count = session.scalar(
        select(func.count(Attachment.id)).where(Attachment.question_id == question.id)
    )
    if (count or 0) >= MAX_PER_QUESTION:
        raise AttachmentRefused(
            422, str(_l("At most %(n)s files per question.", n=MAX_PER_QUESTION))
        )
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise AttachmentRefused(413, str(_l("The file is larger than 5 MB.")))
    if not data:
        raise AttachmentRefused(422, str(_l("The file is empty.")))
    content_type = sniff(data[:4096])
    if content_type is None:
        raise AttachmentRefused(
            415, str(_l("Only PDF, PNG, JPEG or plain-text files are accepted."))
        )
    stem = Path(secure_filename(filename or "") or "file").stem[:100] or "file"
    key = secrets.token_hex(24)
    (upload_folder() / key).write_bytes(data)
    attachment = Attachment(
        freelancer_id=question.freelancer_id,
        question_id=question.id,
        filename=stem + EXTENSIONS[content_type],
        content_type=content_type,
        size_bytes=len(data),
        storage_key=key,
    )
    session.add(attachment)
    session.flush()
    events.record(
        session,
        subject_type="message",
        subject_id=question.id,
        action="message_attachment_added",
        actor=actor,
        freelancer_id=question.freelancer_id,
        data={"attachment_id": attachment.id, "size": len(data), "content_type": content_type},
    )
    return attachment


def download(attachment: Attachment) -> Response:
    """The file as a download that browsers will neither sniff nor render."""
    # Read whole (5 MB at most): no file handle outlives the request.
    data = (upload_folder() / attachment.storage_key).read_bytes()
    response = send_file(
        io.BytesIO(data),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
