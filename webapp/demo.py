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
    freelancer = session.scalar(
        select(Freelancer).where(func.lower(Freelancer.email) == DEMO_EMAIL)
    )
    lines += seed_sessions(session, freelancer)
    lines += seed_paid_questions(session, freelancer)
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


DEMO_OFFERINGS = (
    {
        "title": "Appel découverte",
        "description": "Vingt minutes pour faire le point sur votre projet.",
        "duration_minutes": 20,
        "amount_minor": 3000,
        "currency": "eur",
        "payment_policy": "prepay",
        "free_cancel_hours": 24,
        "late_cancel_fee_percent": 100,
        "no_show_fee_percent": 100,
    },
    {
        "title": "Séance de coaching",
        "description": "Une heure pour débloquer votre projet.",
        "duration_minutes": 60,
        "amount_minor": 9000,
        "currency": "eur",
        "payment_policy": "hold",
        "free_cancel_hours": 24,
        "late_cancel_fee_percent": 50,
        "no_show_fee_percent": 100,
        "buffer_minutes": 10,
    },
    {
        "title": "Atelier de conception",
        "description": "Deux heures de travail ensemble.",
        "duration_minutes": 120,
        "amount_minor": 24000,
        "currency": "eur",
        "payment_policy": "deposit",
        "deposit_percent": 30,
        "free_cancel_hours": 48,
        "late_cancel_fee_percent": 50,
        "no_show_fee_percent": 100,
    },
)
DEMO_AVAILABILITY = {
    "timezone": "Europe/Paris",
    "weekly": [
        {"weekday": day, "start": start, "end": end}
        for day in range(5)
        for start, end in (("09:00", "12:30"), ("14:00", "18:00"))
    ],
    "exceptions": [],
}


def seed_sessions(session: Session, freelancer: Freelancer) -> list[str]:
    """Three offerings (prepay, hold, deposit) and weekday hours, once; flushes."""
    from webapp.booking import service as booking
    from webapp.booking.schemas import AvailabilitySchema, OfferingSchema

    if booking.offerings(session, freelancer.id):
        return ["demo offerings already exist"]
    for data in DEMO_OFFERINGS:
        booking.create_offering(session, freelancer.id, OfferingSchema().load(data))
    booking.put_availability(session, freelancer, AvailabilitySchema().load(DEMO_AVAILABILITY))
    return [f"created {len(DEMO_OFFERINGS)} offerings and weekday availability"]


def seed_paid_questions(session: Session, freelancer: Freelancer) -> list[str]:
    """Paid questions at 45 EUR, answered within 72 h, once; flushes."""
    from webapp.messages import service as messages

    if messages.settings_for(session, freelancer.id) is not None:
        return ["demo paid questions already set up"]
    messages.save_settings(
        session,
        freelancer,
        {
            "enabled": True,
            "price_minor": 4500,
            "currency": "eur",
            "answer_delay_hours": 72,
            "free_follow_up": True,
        },
    )
    return [f"paid questions enabled: /{freelancer.slug}/ask"]
