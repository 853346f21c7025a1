"""Flask CLI commands: db, worker, billing run-due, demo seed, keys rotate."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup


def register_commands(app: Flask) -> None:
    db_cli = AppGroup("db", help="Database migrations.")

    @db_cli.command("upgrade")
    @click.option("--revision", default="head", show_default=True)
    def db_upgrade(revision: str) -> None:
        """Apply migrations to DATABASE_URL."""
        from webapp.migrate import upgrade

        upgrade(current_app.config["DATABASE_URL"], revision)
        click.echo(f"database at {revision}")

    @db_cli.command("revision")
    @click.argument("message")
    def db_revision(message: str) -> None:
        """Autogenerate a migration from the models (developers)."""
        from webapp.migrate import revision

        revision(current_app.config["DATABASE_URL"], message)

    app.cli.add_command(db_cli)

    billing_cli = AppGroup("billing", help="Payments engine.")

    @billing_cli.command("run-due")
    @click.option(
        "--now",
        "now_text",
        default=None,
        help="ISO 8601 time with an offset to run as (default: now).",
    )
    def run_due_command(now_text: str | None) -> None:
        """Run, once, every due item as of --now, kind by kind; idempotent.

        Prints one line per item that did something; a failing item is
        printed as failed and the run goes on (exit status 0).
        """
        from webapp.due import parse_now, run_due

        now = parse_now(now_text)
        for line in run_due(now):
            click.echo(line)

    rates_cli = AppGroup("rates", help="The half-yearly ECB and legal interest rates.")

    @rates_cli.command("list")
    def rates_list() -> None:
        """Print the rate table penalties are computed from, kind by kind."""
        from webapp.dunning.late_payment import rate_table
        from webapp.extensions import db

        for rate in rate_table(db.session).rates():
            click.echo(f"{rate.kind}\t{rate.valid_from.isoformat()}\t{rate.rate_bp / 100:.2f} %")

    @rates_cli.command("add")
    @click.argument("kind", type=click.Choice(["ecb", "legal"]))
    @click.argument("valid_from", type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.argument("percent")
    @click.option("--source", default="", help="Where the rate was published.")
    def rates_add(kind: str, valid_from: datetime, percent: str, source: str) -> None:
        """Add (or correct) the rate of the half-year starting VALID_FROM (1 Jan or 1 Jul)."""
        from webapp.dunning.late_payment import RateRefused, add_rate
        from webapp.extensions import db

        try:
            rate = add_rate(db.session, kind, valid_from.date(), percent, source)
        except RateRefused as exc:
            raise click.UsageError(str(exc)) from None
        db.session.commit()
        click.echo(f"{rate.kind}\t{rate.valid_from.isoformat()}\t{rate.rate_bp / 100:.2f} %")

    billing_cli.add_command(rates_cli)
    app.cli.add_command(billing_cli)

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True)
    def worker(workers: int) -> None:
        """Run the background worker (Huey consumer)."""
        from webapp.tasks import run_consumer

        run_consumer(app, workers=workers)

    demo_cli = AppGroup("demo", help="Demo data.")

    @demo_cli.command("seed")
    def demo_seed() -> None:
        """Create the demo freelancer and sample data (idempotent)."""
        from webapp.demo import seed

        for line in seed():
            click.echo(line)

    app.cli.add_command(demo_cli)

    keys_cli = AppGroup("keys", help="Encryption keys.")

    @keys_cli.command("rotate")
    def keys_rotate() -> None:
        """Re-encrypt stored Stripe secrets with the newest ENCRYPTION_KEYS key."""
        from webapp.stripe_connect.service import rotate_all

        count = rotate_all()
        click.echo(f"re-encrypted {count} Stripe account(s)")

    app.cli.add_command(keys_cli)
