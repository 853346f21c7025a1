"""Receiving a supplier's invoice: a Factur-X PDF, a CII XML or a UBL XML.

The file is read with the `factur-x` package (`get_xml_from_pdf`, its flavour
and level detection, `parse_ubl_cii_xml`) and checked against the XSD and the
EN 16931 schematron of its profile: a failure there refuses it, with the rules
listed. The French CTC rules (BR-FR-*) are run too and reported as warnings:
what a supplier's platform should have refused is not for the receiver to
reject, but the freelancer sees it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from facturx import get_flavor, get_level
from facturx.parse_xml import parse_ubl_cii_xml
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.errors import NotAllowed
from billing.facturx import pdfa, rules
from billing.facturx.models import SupplierInvoice
from billing.money import minor_exponent

MAX_BYTES = 8 * 1024 * 1024
# Profiles that are a full invoice (MINIMUM and BASIC WL carry no lines: not invoices).
CII_LEVELS = ("basic", "en16931", "extended")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


class ReceptionRefused(NotAllowed):
    """The file is not an invoice we can accept; `.failures` lists the rules it breaks."""

    code = "einvoice_invalid"

    def __init__(self, message: str, failures: list[rules.Failure] | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


@dataclass(slots=True)
class Received:
    """What a checked file says: its format, XML and the fields the list shows."""

    format: str
    xml: bytes
    fields: dict[str, Any]
    rule_sets: list[str] = field(default_factory=list)
    warnings: list[rules.Failure] = field(default_factory=list)


def _xml_tree(xml: bytes) -> etree._Element:
    if b"<!DOCTYPE" in xml[:2048] or b"<!ENTITY" in xml:
        raise ReceptionRefused("XML with a DOCTYPE or entities is not accepted.")
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ReceptionRefused(f"The file is not well-formed XML: {exc}") from None


def _minor(value: Any, currency: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return int((number.scaleb(minor_exponent(currency or "eur"))).to_integral_value())


def _fields(tree: etree._Element, flavor: str, level: str) -> dict[str, Any]:
    data = parse_ubl_cii_xml(tree, flavor=flavor, level=level, check_xsd=False)
    seller = data.get("BG-4") or {}
    currency = str(data.get("BT-5") or "").lower()[:3]

    def day(value: Any) -> date | None:
        return value if isinstance(value, date) else None

    return {
        "number": str(data.get("BT-1") or "")[:100],
        "type_code": str(data.get("BT-3") or "")[:10],
        "seller_name": str(seller.get("name") or "")[:300],
        "seller_siren": str(seller.get("legal_identifier") or "")[:20],
        "seller_vat_number": str(seller.get("vat_identifier") or "")[:40],
        "issue_date": day(data.get("BT-2")),
        "due_date": day(data.get("BT-9")),
        "currency": currency,
        "total_excl_vat_minor": _minor(data.get("BT-109"), currency),
        "total_vat_minor": _minor(data.get("BT-110"), currency),
        "total_incl_vat_minor": _minor(data.get("BT-112"), currency),
        "due_payable_minor": _minor(data.get("BT-115"), currency),
    }


def _check(xml: bytes, tree: etree._Element) -> tuple[str, str, rules.Report]:
    try:
        flavor = get_flavor(tree)
    except Exception:
        flavor = ""
    if flavor in ("factur-x", "facturx"):
        try:
            level = get_level(tree, "factur-x")
        except Exception:
            level = ""
        if level not in CII_LEVELS:
            raise ReceptionRefused(
                f"This CII document's profile ({level or 'unknown'}) is not a full invoice: "
                "Factur-X BASIC, EN 16931 or EXTENDED is needed."
            )
        return "cii", level, rules.check(xml, "factur-x", level=level)
    if flavor in ("ubl-2.1-invoice", "ubl-2.1-creditnote"):
        return "ubl", flavor, rules.check(xml, "ubl", level=flavor)
    raise ReceptionRefused(
        "The file is neither a Factur-X PDF nor a CII or UBL invoice (XML root not recognised)."
    )


def read(content: bytes) -> Received:
    """Check a received file; `ReceptionRefused` with the failed rules when it is not valid."""
    if not content:
        raise ReceptionRefused("The file is empty.")
    if len(content) > MAX_BYTES:
        raise ReceptionRefused("The file is over 8 MiB.")
    fmt = "xml"
    if content.lstrip()[:5] == b"%PDF-":
        try:
            _name, xml = pdfa.extract_xml(content)
        except Exception:
            raise ReceptionRefused("The PDF could not be read.") from None
        if not xml:
            raise ReceptionRefused("This PDF carries no invoice XML: it is not a Factur-X invoice.")
        fmt = "factur-x"
    else:
        xml = content
    tree = _xml_tree(xml)
    kind, level, report = _check(xml, tree)
    fmt = fmt if fmt == "factur-x" else kind
    fatal = [f for f in report.failures if not f.rule_set.startswith("br-fr")]
    if fatal:
        raise ReceptionRefused(
            "This invoice breaks the EN 16931 rules: "
            + "; ".join(f"{f.rule}: {f.text}" for f in fatal[:10]),
            fatal,
        )
    french = [f for f in report.failures if f.rule_set.startswith("br-fr")]
    flavor = "factur-x" if kind == "cii" else level
    parse_level = level if kind == "cii" else "en16931"
    try:
        fields = _fields(tree, flavor, parse_level)
    except Exception as exc:
        raise ReceptionRefused(f"The invoice's content could not be read: {exc}") from None
    return Received(fmt, xml, fields, report.rule_sets, french + report.warnings)


def receive(
    session: Session, freelancer_id: int, content: bytes, filename: str = ""
) -> tuple[SupplierInvoice, bool]:
    """Check and keep a supplier's invoice; (row, created). The same file twice is the
    same row. Flushed, not committed."""
    digest = hashlib.sha256(content).hexdigest()
    existing = session.scalar(
        select(SupplierInvoice).where(
            SupplierInvoice.freelancer_id == freelancer_id, SupplierInvoice.sha256 == digest
        )
    )
    if existing is not None:
        return existing, False
    received = read(content)
    row = SupplierInvoice(
        freelancer_id=freelancer_id,
        filename=(filename or "")[:255],
        format=received.format,
        content=content,
        xml=received.xml,
        sha256=digest,
        rule_sets=received.rule_sets,
        warnings=[asdict(w) for w in received.warnings[:50]],
        **received.fields,
    )
    session.add(row)
    session.flush()
    return row, True


def list_received(session: Session, freelancer_id: int) -> list[SupplierInvoice]:
    """The freelancer's received invoices, newest first."""
    return list(
        session.scalars(
            select(SupplierInvoice)
            .where(SupplierInvoice.freelancer_id == freelancer_id)
            .order_by(SupplierInvoice.received_at.desc(), SupplierInvoice.id.desc())
        )
    )


def get_received(session: Session, freelancer_id: int, row_id: int) -> SupplierInvoice | None:
    """One received invoice of this freelancer (None for another's)."""
    row = session.get(SupplierInvoice, row_id)
    return row if row is not None and row.freelancer_id == freelancer_id else None
