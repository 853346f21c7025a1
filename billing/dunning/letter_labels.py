"""The wording of the mise en demeure and the recourse pack.

Not in the gettext catalogue: the French letter is a legal document (Code
civil 1344; Code de commerce L441-10, D441-5; Code de procédure civile 1405
et seq.; Code des procédures civiles d’exécution L111-8, L125-1) and must read
exactly so; the English text is a courtesy rendering. French typography:
typographic apostrophes; narrow no-break spaces before ":" are added below.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "formal_notice": "Mise en demeure de payer",
        "registered": "Lettre recommandée avec demande d’avis de réception",
        "copy_by_email": "Copie adressée par courriel",
        "subject": "Objet : mise en demeure — facture n° {number}",
        "greeting": "Madame, Monsieur,",
        "body_intro": (
            "Sauf erreur de notre part, la facture n° {number} du {issue_date}, d’un montant "
            "de {amount} TTC, arrivée à échéance le {due_date}, reste impayée malgré nos "
            "relances."
        ),
        "body_demand": (
            "Par la présente, nous vous mettons en demeure de nous régler la somme de "
            "{total}, détaillée ci-dessous, au plus tard le {deadline} ({days} jours à "
            "compter de la présente)."
        ),
        "body_b2b": (
            "Conformément à l’article L441-10 du Code de commerce, cette somme est majorée "
            "de pénalités de retard, courant depuis le lendemain de l’échéance au taux "
            "indiqué pour chaque période ci-dessus, et de l’indemnité forfaitaire pour frais "
            "de recouvrement de 40 € (article D441-5)."
        ),
        "body_consumer": (
            "Conformément à l’article 1231-6 du Code civil, cette somme porte intérêts au "
            "taux légal ({rate} l’an) à compter de la présente mise en demeure."
        ),
        "next_steps": (
            "À défaut de paiement dans ce délai, nous engagerons sans autre avis une "
            "procédure de recouvrement judiciaire (injonction de payer auprès du tribunal "
            "compétent) ou confierons la créance à un organisme de recouvrement, les frais "
            "en résultant restant à votre charge."
        ),
        "pay_how": "Vous pouvez régler par carte via le lien sécurisé : {link}, ou par virement.",
        "closing": (
            "Nous vous prions d’agréer, Madame, Monsieur, l’expression de nos salutations "
            "distinguées."
        ),
        "principal": "Principal (facture n° {number})",
        "paid_already": "Déjà réglé",
        "interest": "Intérêts de retard au {as_of} ({days} jours)",
        "indemnity": "Indemnité forfaitaire pour frais de recouvrement",
        "total": "Total dû",
        "signature": "Signature",
        "date_place": "Le {date}",
        "iban": "IBAN {iban} — BIC {bic}",
        "recourse_pack": "Dossier de recouvrement",
        "recourse_intro": (
            "Pièces pour une requête en injonction de payer (articles 1405 et suivants du "
            "Code de procédure civile), une médiation ou un organisme de recouvrement."
        ),
        "creditor": "Créancier",
        "debtor": "Débiteur",
        "claim": "Créance",
        "quote": "Devis signé",
        "quote_evidence": "Preuve d’acceptation",
        "signed_by": "Signé par « {name} » le {when}",
        "ip_ua": "Adresse IP {ip} — navigateur {ua}",
        "sha": "Empreinte SHA-256 de la version {version} acceptée : {sha}",
        "no_quote": "Pas de devis : la créance résulte de la facture ci-jointe.",
        "invoices": "Factures",
        "timeline": "Chronologie des relances et événements",
        "when": "Date",
        "what": "Événement",
        "who": "Par",
        "amounts": "Montants dus au {as_of}",
        "attached": "Pièces jointes : la mise en demeure, puis les factures.",
        "milestones": "Jalons",
        "registered_sent": "Lettre recommandée avec demande d’avis de réception n° {number}, "
        "envoyée le {sent_on}",
        "registered_received": "Avis de réception signé le {received_on}",
        "registered_waiting": "Avis de réception : non encore revenu",
        "by_email": "Adressée par courriel",
        "not_by_post": "Non envoyée par voie postale : adressée par courriel uniquement",
        "next_steps_consumer": (
            "À défaut de paiement dans ce délai, nous saisirons la juridiction compétente afin "
            "d’obtenir un titre exécutoire (injonction de payer)."
        ),
        "period": "Intérêts du {first} au {last} ({days} j) sur {balance} au taux de {rate}",
        "no_interest_consumer": "Intérêts au taux légal : à compter de la présente mise en demeure",
        "representative": "Représenté par {name}",
        "siren": "SIREN {siren}",
        "vat_number": "N° TVA {vat}",
        "contents": "Contenu du dossier",
        "contents_list": "1. Guide de la procédure — 2. Parties et créance — 3. Devis signé et "
        "preuve d’acceptation — 4. Chronologie — 5. Copies des relances — 6. Mise en demeure "
        "et preuve d’envoi — 7. Factures et avoirs tels qu’émis",
        "guide": "Guide : obtenir un titre exécutoire",
        "guide_b2b_court": "Juridiction compétente : le tribunal de commerce (tribunal des "
        "activités économiques là où il a été institué) du lieu où demeure le débiteur "
        "(art. 1406 du Code de procédure civile).",
        "guide_b2b_form": "Formulaire : requête en injonction de payer, Cerfa n° 12946.",
        "guide_b2c_court": "Juridiction compétente : le tribunal judiciaire (juge des "
        "contentieux de la protection) du lieu où demeure le débiteur (art. 1406 du Code "
        "de procédure civile).",
        "guide_b2c_form": "Formulaire : requête en injonction de payer, Cerfa n° 12948.",
        "guide_steps": "Étapes : 1. déposer ou envoyer la requête au greffe avec les pièces "
        "de ce dossier (devis, factures, mise en demeure et avis de réception) ; 2. si le "
        "juge rend une ordonnance d’injonction de payer, la faire signifier au débiteur par "
        "un commissaire de justice dans les six mois ; 3. le débiteur dispose d’un mois pour "
        "former opposition ; 4. sans opposition, demander au greffe l’apposition de la "
        "formule exécutoire, puis faire exécuter.",
        "guide_small_claims": "Créance de 5 000 € au plus : la procédure simplifiée de "
        "recouvrement des petites créances (art. L125-1 du Code des procédures civiles "
        "d’exécution) permet à un commissaire de justice d’obtenir l’accord du débiteur sans "
        "passer par le juge.",
        "guide_mediation": "Avant ou à la place : une médiation ; pour un consommateur, le "
        "médiateur de la consommation indiqué sur vos factures.",
        "reminders": "Copies des relances envoyées",
        "sent_to": "Envoyé le {when} à {to}",
        "redacted": "(contenu effacé après la durée de conservation ; objet et date conservés)",
        "letter_section": "Mise en demeure et preuve d’envoi",
        "no_registered": "Aucune lettre recommandée enregistrée.",
        "issued_documents": "Factures et avoirs tels qu’émis (empreintes SHA-256)",
        "quote_number": "Devis n° {number} du {date}",
        "validity": "Valable jusqu’au {date}",
        "actor_system": "Acompte (automatique)",
        "actor_freelancer": "Le créancier",
        "actor_client": "Le client",
    },
    "en": {
        "formal_notice": "Formal notice to pay (mise en demeure)",
        "registered": "Registered letter with acknowledgement of receipt",
        "copy_by_email": "Copy sent by e-mail",
        "subject": "Re: formal notice (mise en demeure) — invoice {number}",
        "greeting": "Dear Sir or Madam,",
        "body_intro": (
            "Unless we are mistaken, invoice {number} of {issue_date}, for {amount} including "
            "VAT, due on {due_date}, remains unpaid despite our reminders."
        ),
        "body_demand": (
            "We hereby give you formal notice to pay the sum of {total}, detailed below, by "
            "{deadline} at the latest ({days} days from this letter)."
        ),
        "body_b2b": (
            "Under article L441-10 of the French Code de commerce, late-payment interest runs "
            "from the day after the due date at the rate shown for each period above, plus "
            "the fixed 40 EUR recovery indemnity (article D441-5)."
        ),
        "body_consumer": (
            "Under article 1231-6 of the French Code civil, this sum bears interest at the "
            "legal rate ({rate} a year) from this formal notice."
        ),
        "next_steps": (
            "Failing payment by that date, we will start court recovery proceedings "
            "(injonction de payer) or hand the debt to a collection agency without further "
            "notice, the resulting costs being yours."
        ),
        "pay_how": "You can pay by card through the secure link {link}, or by bank transfer.",
        "closing": "Yours faithfully,",
        "principal": "Principal (invoice {number})",
        "paid_already": "Already paid",
        "interest": "Late-payment interest as of {as_of} ({days} days)",
        "indemnity": "Fixed recovery indemnity",
        "total": "Total due",
        "signature": "Signature",
        "date_place": "{date}",
        "iban": "IBAN {iban} — BIC {bic}",
        "recourse_pack": "Recourse pack",
        "recourse_intro": (
            "Documents for an injonction de payer (order for payment), mediation or a "
            "collection agency."
        ),
        "creditor": "Creditor",
        "debtor": "Debtor",
        "claim": "Claim",
        "quote": "Signed quote",
        "quote_evidence": "Acceptance evidence",
        "signed_by": "Signed by “{name}” on {when}",
        "ip_ua": "IP address {ip} — browser {ua}",
        "sha": "SHA-256 of accepted version {version}: {sha}",
        "no_quote": "No quote: the claim arises from the attached invoice.",
        "invoices": "Invoices",
        "timeline": "Timeline of reminders and events",
        "when": "Date",
        "what": "Event",
        "who": "By",
        "amounts": "Amounts due as of {as_of}",
        "attached": "Attached: the formal notice, then the invoices.",
        "milestones": "Milestones",
        "registered_sent": "Registered letter with acknowledgement of receipt no. {number}, "
        "sent on {sent_on}",
        "registered_received": "Acknowledgement of receipt signed on {received_on}",
        "registered_waiting": "Acknowledgement of receipt: not back yet",
        "by_email": "Sent by e-mail",
        "not_by_post": "Not sent by post: sent by e-mail only",
        "next_steps_consumer": (
            "Failing payment by that date, we will apply to the competent court for an "
            "enforceable order (injonction de payer)."
        ),
        "period": "Interest from {first} to {last} ({days} d) on {balance} at {rate}",
        "no_interest_consumer": "Interest at the legal rate: from this formal notice",
        "representative": "Represented by {name}",
        "siren": "SIREN {siren}",
        "vat_number": "VAT no. {vat}",
        "contents": "Contents",
        "contents_list": "1. Procedure guide — 2. Parties and claim — 3. Signed quote and "
        "acceptance evidence — 4. Timeline — 5. Copies of the reminders — 6. Formal notice "
        "and proof of sending — 7. Invoices and credit notes as issued",
        "guide": "Guide: obtaining an enforceable order",
        "guide_b2b_court": "Competent court: the tribunal de commerce (tribunal des activités "
        "économiques where it exists) where the debtor lives (Code de procédure civile "
        "art. 1406).",
        "guide_b2b_form": "Form: request for an order for payment, Cerfa no. 12946.",
        "guide_b2c_court": "Competent court: the tribunal judiciaire (juge des contentieux de "
        "la protection) where the debtor lives (Code de procédure civile art. 1406).",
        "guide_b2c_form": "Form: request for an order for payment, Cerfa no. 12948.",
        "guide_steps": "Steps: 1. file the request with the court registry with the documents "
        "of this pack; 2. if the judge grants the order, have it served by a commissaire de "
        "justice within six months; 3. the debtor has one month to object; 4. without "
        "objection, ask the registry for the enforcement formula, then enforce.",
        "guide_small_claims": "Claims of 5,000 EUR or less: the simplified small-claims "
        "recovery procedure (Code des procédures civiles d’exécution L125-1) lets a "
        "commissaire de justice obtain the debtor’s agreement without a judge.",
        "guide_mediation": "Before or instead: mediation; for a consumer, the consumer "
        "mediator named on your invoices.",
        "reminders": "Copies of the reminders sent",
        "sent_to": "Sent on {when} to {to}",
        "redacted": "(content erased after the retention period; subject and date kept)",
        "letter_section": "Formal notice and proof of sending",
        "no_registered": "No registered letter recorded.",
        "issued_documents": "Invoices and credit notes as issued (SHA-256 fingerprints)",
        "quote_number": "Quote {number} of {date}",
        "validity": "Valid until {date}",
        "actor_system": "Acompte (automatic)",
        "actor_freelancer": "The creditor",
        "actor_client": "The client",
    },
}


def _french_colons(text: str) -> str:
    return text.replace(" : ", "\u202f: ").replace(" ; ", "\u202f; ")


for _key, _value in LABELS["fr"].items():
    LABELS["fr"][_key] = _french_colons(_value)
