"""Connecting a freelancer's Stripe account, and the gateway every feature uses."""

from __future__ import annotations

from flask import current_app

from billing.credentials import INSTANCE_ENDPOINT, StripeCredentials, credentials_for
from billing.gateway.port import PaymentGateway
from billing.secrets import SecretBox
from webapp.extensions import db


def secret_box() -> SecretBox:
    """The configured encryption keys (ENCRYPTION_KEYS, else derived from SECRET_KEY)."""
    cfg = current_app.config
    return SecretBox.from_config(cfg.get("ENCRYPTION_KEYS"), cfg["SECRET_KEY"])


def instance_credentials() -> StripeCredentials:
    """The environment's keys: the default for single-freelancer installs and the demo."""
    cfg = current_app.config
    return StripeCredentials(
        secret_key=cfg["STRIPE_SECRET_KEY"],
        publishable_key=cfg["STRIPE_PUBLISHABLE_KEY"],
        webhook_secret=cfg["STRIPE_WEBHOOK_SECRET"],
        api_base=cfg.get("STRIPE_API_BASE"),
        endpoint=INSTANCE_ENDPOINT,
    )


def credentials(freelancer_id: int) -> StripeCredentials:
    """The keys acting for this freelancer."""
    return credentials_for(
        db.session, freelancer_id, instance=instance_credentials(), box=secret_box()
    )


def gateway_for(creds: StripeCredentials) -> PaymentGateway:
    """The gateway for these keys; tests may swap in `app.config["GATEWAY_FACTORY"]`."""
    factory = current_app.config.get("GATEWAY_FACTORY")
    if factory is not None:
        gateway = factory(creds)
        gateway.account_ref = creds.account_ref
        return gateway
    from billing.gateway.ratelimit import limiter_for, storage_url
    from billing.gateway.stripe_adapter import StripeGateway

    cfg = current_app.config
    # The limiter's storage is built once per process (cached by URL), so every
    # gateway of one account, in every thread, shares one window.
    limiter = limiter_for(
        creds,
        requests_per_second=cfg.get("STRIPE_REQUESTS_PER_SECOND"),
        storage=storage_url(cfg.get("HUEY_URL")),
    )
    gateway = StripeGateway(creds.secret_key, api_base=creds.api_base, rate_limiter=limiter)
    gateway.account_ref = creds.account_ref
    return gateway


def gateway(freelancer_id: int) -> PaymentGateway:
    """The gateway acting for this freelancer."""
    return gateway_for(credentials(freelancer_id))
