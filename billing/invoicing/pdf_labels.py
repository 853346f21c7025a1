"""The wording of invoices, deposits, finals, credit and debit notes.

Not in the gettext catalogue: the French mentions are legal texts (CGI art.
242 nonies A, 289, 293 B, 283-2; Code de commerce L441-9, L441-10, D441-5,
R123-237, R526-26; loi 96-603 art. 22-2; Code de la consommation L616-1;
Code civil 1231-6) that must read exactly so; the English version is a
courtesy rendering. French typography: typographic apostrophes, a narrow
no-break space before ":" and "%" (the formatter adds it to numbers).
"""

from __future__ import annotations

NNBSP = "\u202f"  # espace fine insécable

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "invoice": "Facture",
        "deposit": "Facture d’acompte",
        "final": "Facture de solde",
        "credit_note": "Avoir",
        "debit_note": "Note de débit",
        "number": "N°",
        "issue_date": "Date d’émission",
        "service_date": "Date de la prestation",
        "due_date": "Date d’échéance",
        "seller": "Émetteur",
        "buyer": "Client",
        "siret": "SIRET",
        "siren": "SIREN",
        "vat_number": "N° TVA intracommunautaire",
        "email": "E-mail",
        "ei": "Entrepreneur individuel (EI)",
        "capital": "{form} au capital de {capital}",
        "exempt_registration": "Dispensé d’immatriculation au registre du commerce et des "
        "sociétés (RCS) et au registre des métiers (RM)",
        "insurance": "Assurance professionnelle : {insurance}",
        "mediator": "Médiateur de la consommation (art. L616-1 du Code de la consommation) : "
        "{mediator}",
        "category": "Catégorie de l’opération : {category}",
        "category_services": "prestation de services",
        "category_goods": "livraison de biens",
        "category_mixed": "mixte (livraison de biens et prestation de services)",
        "vat_on_debits": "Option pour le paiement de la TVA d’après les débits",
        "reverse_charge": "Autoliquidation : TVA due par le preneur (art. 283-2 du CGI, "
        "art. 196 de la directive 2006/112/CE)",
        "out_of_scope": "Hors champ d’application de la TVA (indemnités et intérêts de retard)",
        "description": "Désignation",
        "quantity": "Qté",
        "unit_price": "Prix unitaire HT",
        "unit_price_incl": "Prix unitaire TTC",
        "vat_rate": "TVA",
        "line_total": "Total HT",
        "total_excl": "Total HT",
        "total_vat": "TVA",
        "total_incl": "Total TTC",
        "vat_at": "TVA à {rate}",
        "vat_base": "base {base}",
        "franchise": "TVA non applicable, art. 293 B du CGI",
        "credited_invoice": "Avoir sur la facture n° {number} du {date}",
        "reason": "Motif",
        "deposit_of": "Acompte sur le devis n° {number} du {date}, "
        "d’un montant total de {total} TTC",
        "final_of": "Solde du devis n° {number} du {date}",
        "quote_total": "Total du devis",
        "deposits_deducted": "Factures d’acompte déduites",
        "deposit_row": "Facture d’acompte n° {number} du {date}",
        "net_due": "Net à payer",
        "debit_note_of": "Pénalités de retard et indemnité sur la facture n° {number} du {date}",
        "terms": "Conditions de paiement",
        "terms_due": "Paiement au plus tard le {due}, par virement bancaire ou par carte.",
        "terms_debit_note": "À payer au plus tard le {due}, date limite fixée par la mise en "
        "demeure.",
        "terms_credit": "Montant remboursé ou déduit des sommes dues.",
        "penalties_legal": "Pénalités de retard : taux de la BCE majoré de 10 points "
        "(art. L441-10 du Code de commerce).",
        "penalties_rate": "Pénalités de retard : {rate} par an (art. L441-10 du Code de commerce).",
        "penalties_consumer": "En cas de retard, intérêts au taux de l’intérêt légal à compter "
        "de la mise en demeure (art. 1231-6 du Code civil).",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement de 40 € "
        "(art. L441-10 et D441-5 du Code de commerce).",
        "no_discount": "Pas d’escompte pour paiement anticipé.",
        "bank": "Coordonnées bancaires",
        "fingerprint": "Empreinte SHA-256",
        "page": "Page",
    },
    "en": {
        "invoice": "Invoice",
        "deposit": "Deposit invoice",
        "final": "Final invoice",
        "credit_note": "Credit note",
        "debit_note": "Debit note",
        "number": "No.",
        "issue_date": "Issue date",
        "service_date": "Date of service",
        "due_date": "Due date",
        "seller": "From",
        "buyer": "Bill to",
        "siret": "SIRET",
        "siren": "SIREN",
        "vat_number": "VAT number",
        "email": "E-mail",
        "ei": "Entrepreneur individuel (EI, sole trader)",
        "capital": "{form} with a share capital of {capital}",
        "exempt_registration": "Exempt from registration (RCS and RM)",
        "insurance": "Professional insurance: {insurance}",
        "mediator": "Consumer mediator (Code de la consommation L616-1): {mediator}",
        "category": "Operation category: {category}",
        "category_services": "services",
        "category_goods": "supply of goods",
        "category_mixed": "mixed (goods and services)",
        "vat_on_debits": "VAT paid on debits (option)",
        "reverse_charge": "Reverse charge: VAT due by the customer (CGI art. 283-2, "
        "art. 196 of directive 2006/112/EC)",
        "out_of_scope": "Outside the scope of VAT (late-payment interest and indemnity)",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price excl. VAT",
        "unit_price_incl": "Unit price incl. VAT",
        "vat_rate": "VAT",
        "line_total": "Total excl. VAT",
        "total_excl": "Total excl. VAT",
        "total_vat": "VAT",
        "total_incl": "Total incl. VAT",
        "vat_at": "VAT at {rate}",
        "vat_base": "on {base}",
        "franchise": "VAT not applicable, art. 293 B du CGI (French VAT franchise).",
        "credited_invoice": "Credit note for invoice {number} of {date}",
        "reason": "Reason",
        "deposit_of": "Deposit on quote {number} of {date}, total {total} incl. VAT",
        "final_of": "Balance of quote {number} of {date}",
        "quote_total": "Quote total",
        "deposits_deducted": "Deposit invoices deducted",
        "deposit_row": "Deposit invoice {number} of {date}",
        "net_due": "Net amount due",
        "debit_note_of": "Late-payment interest and indemnity on invoice {number} of {date}",
        "terms": "Payment terms",
        "terms_due": "Payment due by {due}, by bank transfer or card.",
        "terms_debit_note": "Due by {due}, the deadline set by the formal notice.",
        "terms_credit": "Amount refunded or deducted from sums owed.",
        "penalties_legal": "Late payment penalties: ECB rate plus 10 percentage points "
        "(French Commercial Code art. L441-10).",
        "penalties_rate": "Late payment penalties: {rate} per year "
        "(French Commercial Code art. L441-10).",
        "penalties_consumer": "Late payment: interest at the legal rate from the formal notice "
        "(French Civil Code art. 1231-6).",
        "indemnity": "Fixed recovery fee of €40 for late payment "
        "(French Commercial Code art. L441-10 and D441-5).",
        "no_discount": "No discount for early payment.",
        "bank": "Bank details",
        "fingerprint": "SHA-256 fingerprint",
        "page": "Page",
    },
}


def french_colons(text: str) -> str:
    """A narrow no-break space before ":" (and none doubled), as French typesetting wants."""
    return text.replace(" : ", f"{NNBSP}: ").replace(" ; ", f"{NNBSP}; ")


for _key, _value in LABELS["fr"].items():
    LABELS["fr"][_key] = french_colons(_value)
