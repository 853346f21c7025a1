"""What the quote and milestone e-mails are given to say (their templates' contexts)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from webapp.accounts.models import Freelancer
from webapp.notifications.service import LocalMoney
from webapp.quotes.lookups import quote_url
from webapp.quotes.models import Milestone, Quote


def seller_name(freelancer: Freelancer) -> str:
    """The name the client knows the freelancer by: the legal name, else the display name."""
    return freelancer.legal_name or freelancer.display_name


def quote_context(quote: Quote, freelancer: Freelancer) -> dict[str, Any]:
    """The `quote_sent` e-mail: the link to the current version and its total."""
    return {
        "quote": quote,
        "freelancer": freelancer,
        "seller": seller_name(freelancer),
        "url": quote_url(quote),
        "total": LocalMoney(quote.total_minor, quote.currency),
    }


def milestone_context(
    quote: Quote, milestone: Milestone, freelancer: Freelancer, token: str | None
) -> dict[str, Any]:
    """A milestone e-mail: delivered, objected, reminder; `token` opens the milestone's page."""
    base = current_app.config["BASE_URL"]
    zone = ZoneInfo(freelancer.timezone or "Europe/Paris")
    return {
        "quote": quote,
        "milestone": milestone,
        "seller": seller_name(freelancer),
        "amount": LocalMoney(milestone.amount_minor, milestone.currency),
        "auto_approve_at": (
            milestone.auto_approve_at.astimezone(zone) if milestone.auto_approve_at else None
        ),
        "url": f"{base}/milestones/{token}" if token else quote_url(quote),
        "freelancer_url": f"{base}/quotes/{quote.id}",
        "zone": zone.key,
    }
