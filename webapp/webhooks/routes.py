"""Stripe webhook endpoints (placeholder)."""

from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("webhooks", __name__)
csrf.exempt(bp)
