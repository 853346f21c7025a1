"""The one client identity (webapp.clients): consumer, French business, EU business."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from webapp.clients import ClientSchema, buyer_party, details, reverse_charge

LYON = {"line1": "3 avenue Foch", "postal_code": "69006", "city": "Lyon", "country": "FR"}
BERLIN = {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}
BASE = {"name": "Jean Dupont", "email": "Jean@Example.test"}


def load(**fields):
    return ClientSchema().load({**BASE, **fields})


def errors(**fields) -> dict:
    with pytest.raises(ValidationError) as refused:
        load(**fields)
    return refused.value.messages


def test_a_consumer_needs_only_a_name_and_an_email():
    data = load()
    assert data["is_business"] is False and data["email"] == "jean@example.test"
    assert details(data) == {"company": "", "siren": "", "vat_number": "", "postal_address": None}


def test_L441_9_french_business_needs_company_siren_and_address():
    assert set(errors(is_business=True)) == {"company", "siren", "postal_address"}
    data = load(is_business=True, company="ACME SAS", siren="552 032 534", postal_address=LYON)
    assert data["siren"] == "552032534"


@pytest.mark.parametrize("siren, valid", [("552032534", True), ("552032535", False)])
def test_siren_luhn_check_digit(siren, valid):
    if valid:
        assert load(siren=siren)["siren"] == siren
    else:
        assert "siren" in errors(siren=siren)


def test_CGI_283_2_eu_business_needs_vat_number_and_address_and_is_reverse_charged():
    assert set(errors(is_business=True, postal_address=BERLIN)) == {"vat_number"}
    data = load(is_business=True, vat_number="DE136695976", postal_address=BERLIN)
    assert reverse_charge(True, details(data)) is True
    # a French business is never reverse-charged, nor a consumer
    assert reverse_charge(True, {"vat_number": "FR40303265045", "postal_address": LYON}) is False
    assert reverse_charge(False, details(data)) is False


def test_address_rules():
    assert "postal_code" in errors(postal_address={**LYON, "postal_code": "6900"})["postal_address"]
    assert "country" in errors(postal_address={**LYON, "country": "XX"})["postal_address"]
    assert "unexpected" in errors(postal_address={**LYON, "unexpected": 1})["postal_address"]


def test_buyer_party_carries_the_structure_for_the_invoice():
    data = load(is_business=True, company="ACME SAS", siren="552032534", postal_address=LYON)
    party = buyer_party(data["name"], data["email"], True, details(data))
    assert party.legal_name == "ACME SAS" and party.siren == "552032534"
    assert party.address == "3 avenue Foch\n69006 Lyon"
    assert party.postal_address["country"] == "FR"


def test_a_failed_charges_invoice_bills_the_same_client_identity():
    from webapp.dunning.case_invoice import Buyer

    details = details_of_company = {
        "company": "ACME SAS",
        "siren": "552032534",
        "vat_number": "",
        "postal_address": LYON,
    }
    party = Buyer("Jean Dupont", "jean@acme.test", True, details=details_of_company).party()
    assert (party.legal_name, party.siren, party.postal_address) == ("ACME SAS", "552032534", LYON)
    assert details["company"] == "ACME SAS"
    # an older quote: no structured address, its text address is kept
    old = Buyer("C", "c@x.fr", True, "ACME", "55203253400646", "1 rue B", details={}).party()
    assert old.address == "1 rue B" and old.siret == "55203253400646"
