"""The seller's legal identity on invoices, and what the profile still lacks to issue one.

Mandatory on every invoice of a French business (issue 11): the legal name
and form ("EI" after a sole trader's name, Code de commerce R526-26), the
SIRET, the address (CGI ann. II art. 242 nonies A), the intra-EU VAT number
when VAT is charged; for a company its share capital and registration
(RCS/RM city and number, R123-237). An invoice is refused while one is
missing, and the freelancer is told which.
"""

from __future__ import annotations

from billing.invoicing.validation import Party
from webapp.accounts.models import VAT_STANDARD, Freelancer
from webapp.clients import format_address

COMPANY_FORMS = ("eurl", "sasu", "sas", "sarl", "other")

# Profile field → how the freelancer reads it (in the refusal and on the profile page).
LABELS = {
    "legal_name": "legal name",
    "legal_form": "legal form",
    "siret": "SIRET",
    "postal_address": "postal address",
    "vat_number": "intra-EU VAT number",
    "share_capital_minor": "share capital",
    "registration": "registration (RCS or RM)",
}


def missing_for_invoicing(freelancer: Freelancer) -> list[str]:
    """The profile fields an invoice needs that are still empty (API field names)."""
    missing = []
    if not freelancer.legal_name.strip():
        missing.append("legal_name")
    if not freelancer.legal_form:
        missing.append("legal_form")
    if len(freelancer.siret or "") != 14:
        missing.append("siret")
    if not freelancer.postal_address and not freelancer.address.strip():
        missing.append("postal_address")
    if freelancer.vat_regime == VAT_STANDARD and not freelancer.vat_number:
        missing.append("vat_number")
    if freelancer.legal_form in COMPANY_FORMS:
        if freelancer.share_capital_minor is None:
            missing.append("share_capital_minor")
        if not freelancer.registration.strip():
            missing.append("registration")
    return missing


def missing_message(missing: list[str]) -> str:
    """The refusal the freelancer reads: which fields of the profile to fill in."""
    names = ", ".join(LABELS[m] for m in missing)
    return (
        f"Complete your business profile before invoicing; missing: {names} ({', '.join(missing)})"
    )


def seller_party(freelancer: Freelancer) -> Party:
    """The freelancer's business profile as the seller side of an invoice."""
    address = (
        format_address(freelancer.postal_address) if freelancer.postal_address else ""
    ) or freelancer.address
    return Party(
        name=freelancer.display_name,
        legal_name=freelancer.legal_name,
        siret=freelancer.siret,
        address=address,
        email=freelancer.email,
        is_business=True,
        vat_number=freelancer.vat_number or None,
        siren=(freelancer.siret or "")[:9],
        postal_address=freelancer.postal_address,
        legal_form=freelancer.legal_form,
        share_capital_minor=freelancer.share_capital_minor,
        registration=freelancer.registration,
        insurance=freelancer.insurance,
        mediator=freelancer.mediator,
    )
