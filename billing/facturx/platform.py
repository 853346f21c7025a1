"""The port to a *plateforme agréée* (PA): how issued e-invoices leave Acompte.

Under the French reform (CGI 289 bis), an invoice to a business in France
travels as an e-invoice through the seller's approved platform; sales to
consumers and to businesses abroad are not e-invoiced but *e-reported*
(transaction data per period, `billing.facturx.ereporting`).

`Platform` is the port: `transmit(flow)` hands one outgoing flow (the CII XML
and the Factur-X PDF, exactly as stored at issue) to the platform and returns
its reference for the flow. It must be idempotent per invoice number: the
transmission due work may hand the same flow again after a crash, and a
platform must then answer with the same reference rather than a second flow.
It raises `PlatformUnavailable` for a failure worth retrying later (the
platform is down), `PlatformRefused` for a flow the platform will never take.

The one adapter shipped, `FolderPlatform` (the default), writes each flow to a
folder: `<root>/<seller SIREN>/<invoice number>.xml`, `.pdf` and `.json` (a
manifest with both SHA-256), each written to a temporary name and renamed, so a
reader (a platform's folder-watching connector, or a person) never sees half a
file. What a real adapter needs is written in docs/design.md ("E-invoices").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol


class PlatformUnavailable(Exception):
    """The platform could not take the flow now: try again later."""


class PlatformRefused(Exception):
    """The platform will never take this flow as it is (the reason is the message)."""


@dataclass(frozen=True)
class OutgoingFlow:
    """One issued e-invoice as it leaves for the platform."""

    invoice_id: int
    number: str
    kind: str
    issue_date: date
    seller_siren: str
    buyer_siren: str
    xml: bytes
    pdf: bytes


class Platform(Protocol):
    """A transmission channel to an approved platform."""

    name: str

    def transmit(self, flow: OutgoingFlow) -> str:
        """Hand the flow over; the platform's reference for it (the same on a repeat)."""
        ...


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(part: str, fallback: str) -> str:
    cleaned = _SAFE.sub("-", part).strip(".-")
    return cleaned or fallback


def _write(path: Path, data: bytes) -> None:
    """`data` at `path`, all or nothing (a temporary file renamed over it)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FolderPlatform:
    """The default adapter: each flow as files in a folder (see the module's text)."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def transmit(self, flow: OutgoingFlow) -> str:
        folder = self.root / _safe(flow.seller_siren, "no-siren")
        stem = _safe(flow.number, f"invoice-{flow.invoice_id}")
        manifest = {
            "invoice_id": flow.invoice_id,
            "number": flow.number,
            "kind": flow.kind,
            "issue_date": flow.issue_date.isoformat(),
            "seller_siren": flow.seller_siren,
            "buyer_siren": flow.buyer_siren,
            "xml_sha256": hashlib.sha256(flow.xml).hexdigest(),
            "pdf_sha256": hashlib.sha256(flow.pdf).hexdigest(),
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            existing = folder / f"{stem}.json"
            if existing.exists():
                before = json.loads(existing.read_text())
                if before.get("xml_sha256") != manifest["xml_sha256"]:
                    raise PlatformRefused(
                        f"{flow.number} was already transmitted with another content"
                    )
            _write(folder / f"{stem}.xml", flow.xml)
            _write(folder / f"{stem}.pdf", flow.pdf)
            # The manifest last: its presence means both files are complete.
            _write(existing, json.dumps(manifest, indent=2, sort_keys=True).encode())
        except OSError as exc:
            raise PlatformUnavailable(f"cannot write to {folder}: {exc.strerror}") from exc
        return f"{folder.name}/{stem}"


def platform_from_config(config: dict) -> Platform:
    """The configured platform: a folder (`EINVOICE_OUTBOX`), or a test's own."""
    factory = config.get("EINVOICE_PLATFORM_FACTORY")
    if factory is not None:
        return factory()
    return FolderPlatform(Path(config["EINVOICE_OUTBOX"]))
