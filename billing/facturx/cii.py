"""The Cross Industry Invoice (Factur-X, EN 16931 profile) of an issued document.

Made from what the invoice froze at issue — its row, its lines, the seller
and buyer snapshots and its mentions — never from the live profile, so the
XML says what the PDF says, amount for amount. The XML itself is written by
the `factur-x` package (`generate_cii_xml`, fed its BT-keyed data dict); this
module only decides what goes in each business term.

French rules met here (XP Z12-012, the BR-FR schematron): the notes PMD
(late penalties), PMT (recovery indemnity), AAB (no early-payment discount)
and BAR (B2B / B2BINT / B2C); the billing framework BT-23 from the operation
category (S1 services, B1 goods, M1 mixed; S4/B4/M4 a final invoice after
deposits); the SIREN as legal identifier (scheme 0002) and as electronic
address (scheme 0225), the SIRET as identifier (scheme 0009).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.invoicing.amounts import vat_summary
from billing.invoicing.models import (
    KIND_CREDIT_NOTE,
    KIND_DEBIT_NOTE,
    KIND_DEPOSIT,
    KIND_FINAL,
    Invoice,
)
from billing.invoicing.pdf_labels import LABELS
from billing.money import minor_exponent
from billing.typography import Formatter

EN16931 = "urn:cen.eu:en16931:2017"
# UNTDID 1001: 380 commercial invoice, 386 prepayment (deposit) invoice, 381 credit
# note. The French list (BR-FR-04) has no debit note code (383): a debit note of
# late-payment penalties is an invoice (380) that references the unpaid one.
TYPE_CODES = {KIND_DEPOSIT: "386", KIND_CREDIT_NOTE: "381"}
FRAMEWORK = {"services": "S", "goods": "B", "mixed": "M"}
FRANCHISE_REASON = "TVA non applicable, art. 293 B du CGI"
FRANCHISE_CODE = "VATEX-FR-FRANCHISE"
REVERSE_CHARGE_CODE = "VATEX-EU-AE"
OUT_OF_SCOPE_CODE = "VATEX-EU-O"
NO_INDEMNITY = (
    "Pas d’indemnité forfaitaire pour frais de recouvrement : client non professionnel "
    "(art. D441-5 du Code de commerce)."
)


def amount(minor: int, currency: str) -> str:
    """Minor units as the XML's decimal string ("1234.50")."""
    exp = minor_exponent(currency)
    return f"{Decimal(minor).scaleb(-exp):.{exp}f}"


def percent(rate_bp: int) -> str:
    """Basis points as the XML's percentage ("20.00", "5.50")."""
    return f"{Decimal(rate_bp).scaleb(-2):.2f}"


def type_code(invoice: Invoice) -> str:
    """The UNTDID 1001 document type of the invoice's kind."""
    return TYPE_CODES.get(invoice.kind, "380")


def mentions_of(invoice: Invoice) -> dict[str, Any]:
    """The invoice's frozen mentions; a credit note takes the VAT treatment and category
    of the invoice it cancels (it reverses it exactly)."""
    own = dict(invoice.mentions or {})
    credited = invoice.credited_invoice if invoice.kind == KIND_CREDIT_NOTE else None
    if credited is not None:
        for key in ("category", "reverse_charge", "vat_on_debits"):
            if key not in own and key in (credited.mentions or {}):
                own[key] = credited.mentions[key]
    return own


def vat_category(invoice: Invoice, rate_bp: int) -> tuple[str, str, str]:
    """(category, exemption reason, exemption code) of a line at `rate_bp`."""
    mentions = mentions_of(invoice)
    if invoice.kind == KIND_DEBIT_NOTE:
        return "O", LABELS["fr"]["out_of_scope"], OUT_OF_SCOPE_CODE
    if invoice.vat_regime == "franchise":
        return "E", FRANCHISE_REASON, FRANCHISE_CODE
    if mentions.get("reverse_charge"):
        return "AE", LABELS["fr"]["reverse_charge"], REVERSE_CHARGE_CODE
    if rate_bp == 0:
        return "Z", "", ""
    return "S", "", ""


def _address(party: dict[str, Any]) -> dict[str, str]:
    address = party.get("postal_address") or {}
    out = {
        "addr_l1": address.get("line1") or "",
        "addr_l2": address.get("line2") or "",
        "postcode": address.get("postal_code") or "",
        "city": address.get("city") or "",
        "country_code": (address.get("country") or "").upper(),
    }
    if not address and party.get("address"):
        # Older snapshots have the address as text only: its first line, in France.
        lines = [x for x in str(party["address"]).splitlines() if x.strip()]
        out["addr_l1"] = lines[0] if lines else ""
        out["city"] = lines[-1] if len(lines) > 1 else ""
    if not out["country_code"]:
        vat = party.get("vat_number") or ""
        out["country_code"] = vat[:2].upper() if vat[:2].isalpha() else "FR"
        if out["country_code"] == "EL":
            out["country_code"] = "GR"
    return {k: v for k, v in out.items() if v}


def siren_of(party: dict[str, Any]) -> str:
    """The party's SIREN: as recorded, else the first 9 digits of its SIRET (INSEE builds
    every SIRET as SIREN + establishment number)."""
    siret = (party.get("siret") or "").replace(" ", "")
    return party.get("siren") or (siret[:9] if len(siret) == 14 and siret.isdigit() else "")


def seller_party(invoice: Invoice, identity: list[str]) -> dict[str, Any]:
    """BG-4: name, SIRET (0009), SIREN (0002, and the e-invoicing address 0225), VAT number."""
    seller = invoice.seller
    siret = (seller.get("siret") or "").replace(" ", "")
    siren = siren_of(seller)
    party: dict[str, Any] = {"name": seller.get("legal_name") or seller.get("name") or ""}
    if siret:
        party["identifiers"] = {"0009": siret}
    if siren:
        party["legal_identifier"] = siren
        party["legal_identifier_schemeid"] = "0002"
        party["einvoicing_addr"] = siren
        party["einvoicing_addr_schemeid"] = "0225"
    if identity:
        party["legal_info"] = " — ".join(identity)
    party.update(_address(seller))
    category, _, _ = vat_category(invoice, 0)
    if seller.get("vat_number") and category != "O":
        party["vat_identifier"] = seller["vat_number"]
    elif siret:
        # A seller without a VAT number (franchise en base) is identified to the tax
        # office by its SIRET: the tax registration identifier (BT-32, scheme FC).
        party["tax_identifier"] = siret
    return party


def buyer_kind(buyer: dict[str, Any]) -> str:
    """BAR: B2B (a business in France), B2BINT (a business abroad), B2C (a consumer)."""
    if not buyer.get("is_business"):
        return "B2C"
    return "B2B" if _address(buyer).get("country_code") == "FR" else "B2BINT"


def buyer_party(invoice: Invoice) -> dict[str, Any]:
    """BG-7: name, SIREN (0002 and address 0225) for a French business, VAT number, e-mail."""
    buyer = invoice.buyer
    party: dict[str, Any] = {"name": buyer.get("legal_name") or buyer.get("name") or ""}
    siren = siren_of(buyer)
    if siren:
        party["legal_identifier"] = siren
        party["legal_identifier_schemeid"] = "0002"
    if buyer_kind(buyer) == "B2B":
        # The French directory addresses a business by its SIREN (BR-FR-21).
        party["einvoicing_addr"] = siren
        party["einvoicing_addr_schemeid"] = "0225"
    elif buyer.get("email"):
        party["einvoicing_addr"] = buyer["email"]
        party["einvoicing_addr_schemeid"] = "EM"
    party.update(_address(buyer))
    category, _, _ = vat_category(invoice, 0)
    if buyer.get("vat_number") and category != "O":
        party["vat_identifier"] = buyer["vat_number"]
    return party


def notes(invoice: Invoice, penalties: str) -> list[dict[str, str]]:
    """BG-1: the mandatory mentions as coded notes (BR-FR-05), and the BAR treatment."""
    t = LABELS["fr"]
    mentions = mentions_of(invoice)
    out = [
        {"BT-21": "PMD", "BT-22": penalties},
        {"BT-21": "PMT", "BT-22": t["indemnity"] if invoice.recovery_indemnity else NO_INDEMNITY},
        {"BT-21": "AAB", "BT-22": t["no_discount"]},
        {"BT-21": "BAR", "BT-22": buyer_kind(invoice.buyer)},
    ]
    if mentions.get("vat_on_debits") and invoice.kind != KIND_DEBIT_NOTE:
        out.append({"BT-21": "AAI", "BT-22": t["vat_on_debits"]})
    if invoice.reason:
        out.append({"BT-21": "AAI", "BT-22": invoice.reason})
    for deposit in mentions.get("deposits") or []:
        out.append(
            {
                "BT-21": "AAI",
                "BT-22": t["deposit_row"].format(
                    number=deposit["number"], date=deposit["issue_date"]
                ),
            }
        )
    return out


def penalties_text(invoice: Invoice) -> str:
    """The late-penalty mention as the PDF prints it (French)."""
    t = LABELS["fr"]
    if invoice.penalty_rate_bp is not None and invoice.buyer.get("is_business"):
        rate = Formatter("fr", invoice.currency).rate(invoice.penalty_rate_bp)
        return t["penalties_rate"].format(rate=rate)
    return t["penalties_legal"] if invoice.buyer.get("is_business") else t["penalties_consumer"]


def _price(line: Any, currency: str) -> str:
    """BT-146, the net unit price: the line's amount excluding VAT per unit (a consumer
    price is stored VAT included; the line total stays the one the PDF prints)."""
    if not line.unit_includes_vat:
        return amount(line.unit_amount_minor, currency)
    exp = minor_exponent(currency)
    per_unit = Decimal(line.total_excl_vat_minor * 1000) / Decimal(line.quantity_milli)
    return f"{per_unit.scaleb(-exp):.4f}"


def data_dict(invoice: Invoice, identity: list[str]) -> dict[str, Any]:
    """The BT-keyed dictionary `factur-x` turns into the CII XML."""
    cur = invoice.currency
    mentions = mentions_of(invoice)
    deposits = mentions.get("deposits") or []
    prepaid = sum(d["total_incl_vat_minor"] for d in deposits) if invoice.kind == KIND_FINAL else 0
    framework = FRAMEWORK.get(mentions.get("category", "services"), "S")
    framework += "4" if invoice.kind == KIND_FINAL and deposits else "1"
    lines = []
    for line in invoice.lines:
        category, _, _ = vat_category(invoice, line.vat_rate_bp)
        row: dict[str, Any] = {
            "BT-126": str(line.position),
            "BT-153": line.description[:500],
            "BT-146": _price(line, cur),
            "BT-129": f"{Decimal(line.quantity_milli).scaleb(-3):.3f}",
            "BT-130": "C62",
            "BT-151": category,
            "BT-131": amount(line.total_excl_vat_minor, cur),
        }
        if category in ("S", "Z", "E", "AE"):
            row["BT-152"] = percent(line.vat_rate_bp)
        lines.append(row)
    taxes = []
    for row in vat_summary(invoice):
        category, reason, code = vat_category(invoice, row["rate_bp"])
        tax: dict[str, Any] = {
            "BT-116": amount(row["base_minor"], cur),
            "BT-117": amount(row["vat_minor"], cur),
            "BT-118": category,
        }
        if category != "O":
            tax["BT-119"] = percent(row["rate_bp"])
        if reason:
            tax["BT-120"] = reason
        if code:
            tax["BT-121"] = code
        taxes.append(tax)
    data: dict[str, Any] = {
        "BT-1": invoice.number,
        "BT-2": invoice.issue_date,
        "BT-3": type_code(invoice),
        "BT-5": cur.upper(),
        "BT-23": framework,
        "BT-24": EN16931,
        "BT-72": invoice.service_date,
        "BG-1": notes(invoice, penalties_text(invoice)),
        "BG-4": seller_party(invoice, identity),
        "BG-7": buyer_party(invoice),
        "BG-23": taxes,
        "BG-25": lines,
        "BT-106": amount(invoice.total_excl_vat_minor, cur),
        "BT-109": amount(invoice.total_excl_vat_minor, cur),
        "BT-110": amount(invoice.total_vat_minor, cur),
        "BT-112": amount(invoice.total_incl_vat_minor, cur),
        "BT-115": amount(invoice.total_incl_vat_minor - prepaid, cur),
        "BT-9": invoice.due_date,
        "BT-20": penalties_text(invoice),
    }
    if prepaid:
        data["BT-113"] = amount(prepaid, cur)
    if mentions.get("vat_on_debits") and invoice.kind != KIND_DEBIT_NOTE:
        data["BT-8"] = "invoice"  # VAT due on the issue date: the débits option
    if invoice.iban:
        data["BT-81"] = "58"  # SEPA credit transfer
        data["BT-84"] = invoice.iban
        if invoice.bic:
            data["BT-86"] = invoice.bic
    else:
        data["BT-81"] = "1"  # not defined: paid by card through the booking or quote page
    original = _preceding(invoice)
    if original:
        data["BG-3"] = [original]
    return data


def _preceding(invoice: Invoice) -> dict[str, Any] | None:
    """BG-3: the invoice a credit note cancels, or the one a debit note's penalties are on."""
    if invoice.kind == KIND_CREDIT_NOTE and invoice.credited_invoice is not None:
        credited = invoice.credited_invoice
        return {"BT-25": credited.number, "BT-26": credited.issue_date}
    original = (invoice.mentions or {}).get("original")
    if invoice.kind == KIND_DEBIT_NOTE and original:
        from datetime import date

        return {"BT-25": original["number"], "BT-26": date.fromisoformat(original["issue_date"])}
    return None


def build_xml(invoice: Invoice, identity: list[str]) -> bytes:
    """The invoice's CII XML (UTF-8 bytes), EN 16931 profile; not yet validated."""
    # Imported here: factur-x (and pypdf) load only when an e-invoice is made.
    from facturx.generate_xml import generate_cii_xml

    return generate_cii_xml(
        data_dict(invoice, identity), level="en16931", check_xsd=False, check_schematron=False
    )
