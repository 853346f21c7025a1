"""Demo data for `flask --app webapp demo seed` and `make run`.

Idempotent: run it any number of times and there is still one demo freelancer
(found by e-mail, created when missing). Goes through the same schemas and
account operations as a real sign-up, so the demo is valid data, not a bypass.
Later features add their sample data here (offerings, availability, quotes…).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.accounts import service
from webapp.accounts.models import Freelancer
from webapp.accounts.schemas import ProfileSchema, SignupSchema
from webapp.extensions import db

DEMO_EMAIL = "demo@acompte.test"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 (a public demo login, printed on purpose)
DEMO_SLUG = "camille"

DEMO_SIGNUP: dict[str, Any] = {
    "email": DEMO_EMAIL,
    "password": DEMO_PASSWORD,
    "display_name": "Camille Martin",
    "slug": DEMO_SLUG,
    "locale": "fr",
}
# A complete French micro-entrepreneur profile: what an invoice needs.
DEMO_PROFILE: dict[str, Any] = {
    "legal_name": "Camille Martin EI",
    "siret": "73282932000074",
    "address": "12 rue des Petites Écuries\n75010 Paris\nFrance",
    "vat_regime": "franchise",  # "TVA non applicable, art. 293 B du CGI"
    "iban": "FR7630006000011234567890189",
    "bic": "AGRIFRPP",
    "timezone": "Europe/Paris",
    "currency": "eur",
    "payment_terms_days": 30,
}


def seed() -> list[str]:
    """Create (or find) the demo freelancer and complete their profile; returns what was done.

    Needs an app context; commits.
    """
    session = db.session
    lines = [*seed_freelancer(session)]
    session.commit()
    lines.append(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    return lines


def seed_freelancer(session: Session) -> list[str]:
    """The demo freelancer with a complete business profile; flushes, the caller commits."""
    freelancer = session.scalar(
        select(Freelancer).where(func.lower(Freelancer.email) == DEMO_EMAIL)
    )
    if freelancer is None:
        freelancer = service.signup(session, SignupSchema().load(DEMO_SIGNUP))
        lines = [f"created demo freelancer {freelancer.display_name} (/{freelancer.slug})"]
    else:
        lines = [f"demo freelancer {freelancer.display_name} (/{freelancer.slug}) already exists"]
    before = {key: getattr(freelancer, key) for key in _profile_columns()}
    changes = ProfileSchema(freelancer=freelancer).load(DEMO_PROFILE)
    service.update_profile(session, freelancer, changes)
    changed = sorted(key for key, value in before.items() if getattr(freelancer, key) != value)
    if changed:
        lines.append(f"business profile set: {', '.join(changed)}")
    return lines


def _profile_columns() -> list[str]:
    # The schema turns vat_regime into vat_rate_bp too; compare model columns.
    return [*DEMO_PROFILE, "vat_rate_bp"]
