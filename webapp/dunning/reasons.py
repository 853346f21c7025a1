"""Why a payment failed, in the client's words: shared by the pay page and the reminders.

Its own module so that the page (`public_routes`) and the reminder e-mails
(`steps`) both read it without importing each other.
"""

from __future__ import annotations

from flask_babel import gettext as _


def reason_text(reason: str) -> str:
    """Why the payment failed, in the client's words."""
    texts = {
        "insufficient_funds": _("Your bank reported insufficient funds."),
        "expired_card": _("The saved card has expired."),
        "authentication_required": _("Your bank asked you to confirm the payment (3-D Secure)."),
        "overdue": _("The invoice is past its due date."),
    }
    return texts.get(reason, _("Your bank declined the payment."))
