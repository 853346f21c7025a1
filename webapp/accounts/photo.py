"""The freelancer's photo on their booking page: checked by its bytes, stored on the row.

Only PNG, JPEG and WebP are kept, recognised by their first bytes (never by the
name or the browser's claimed type), at most `MAX_BYTES`. The public address
carries the bytes' hash, so a new photo is a new address and the old one can
be cached for long.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from webapp.accounts.models import Freelancer

MAX_BYTES = 1024 * 1024
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


class PhotoRefused(ValueError):
    """Not an image we keep: `reason` is `too_large` or `not_an_image`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def image_type(data: bytes) -> str | None:
    """The media type of a PNG, JPEG or WebP by its first bytes; None for anything else."""
    for magic, media_type in SIGNATURES:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def set_photo(session: Session, freelancer: Freelancer, data: bytes | None) -> None:
    """Store `data` as the photo (None or empty: remove it); PhotoRefused when unfit."""
    if not data:
        freelancer.photo, freelancer.photo_type, freelancer.photo_sha256 = None, "", ""
        session.flush()
        return
    if len(data) > MAX_BYTES:
        raise PhotoRefused("too_large")
    media_type = image_type(data)
    if media_type is None:
        raise PhotoRefused("not_an_image")
    freelancer.photo = data
    freelancer.photo_type = media_type
    freelancer.photo_sha256 = hashlib.sha256(data).hexdigest()
    session.flush()
