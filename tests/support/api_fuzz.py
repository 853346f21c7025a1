"""The API fuzzed from its own OpenAPI document by schemathesis (issue 10).

`seed(client, app)` gives a freelancer real objects through the API (a profile,
availability, offerings, a booking, a sent quote with milestones, a paid question)
and returns their ids; `run(url, seeded, ...)` writes a schemathesis.toml that
feeds those ids to the matching parameters (most of the time, so generated ids
are still tried) and runs the schemathesis CLI against the served app with every
check: no 5xx, status codes, content types and bodies as documented.

The bearer token is stored with an id no generator reaches (2_000_000_001), so
the fuzzed `DELETE /tokens/{id}` cannot revoke the session's own credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.integration.test_booking_api import ALL_WEEK
from tests.integration.test_quotes import PROFILE, quote_body

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
TOKEN_ID = 2_000_000_001
PASSWORD = "fuzz horse battery staple"
# Business rules the document states in words, not in JSON Schema (a time zone
# name, a slot in the future, a Stripe key that Stripe accepts, a SIRET's
# checksum…): a schema-valid body may still be refused with 422. Every other
# check runs: no 5xx, documented status codes, content types, headers, bodies.
EXCLUDED_CHECKS = ("positive_data_acceptance",)


@dataclass
class Seeded:
    """What the fuzzer may use: the token and real values per parameter name."""

    token: str
    values: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        if value is not None and value not in self.values.setdefault(name, []):
            self.values[name].append(value)


def _ok(answer: Any, *codes: int) -> dict[str, Any]:
    assert answer.status_code in codes, (answer.status_code, answer.get_data(as_text=True))
    return answer.get_json() or {}


def _token(app: Flask, email: str) -> str:
    """A bearer token for `email`, stored under TOKEN_ID."""
    from sqlalchemy import select

    from webapp.accounts.models import ApiToken, Freelancer, hash_token, new_token
    from webapp.extensions import db

    token = new_token("acp")
    with app.app_context():
        freelancer = db.session.scalars(select(Freelancer).filter_by(email=email)).one()
        db.session.add(
            ApiToken(
                id=TOKEN_ID,
                freelancer_id=freelancer.id,
                token_hash=hash_token(token),
                label="fuzz",
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        db.session.commit()
    return token


def seed(client: FlaskClient, app: Flask) -> Seeded:
    """A freelancer with one of each object, made through the API."""
    slug = "fuzz-seller"
    who = {"email": "fuzz@example.test", "password": PASSWORD}
    _ok(client.post("/api/v1/signup", json={**who, "display_name": "Fuzz", "slug": slug}), 201)
    seeded = Seeded(token=_token(app, who["email"]))
    headers = {"Authorization": f"Bearer {seeded.token}"}
    seeded.add("slug", slug)
    _ok(client.patch("/api/v1/me", headers=headers, json=PROFILE), 200)
    _ok(
        client.put(
            "/api/v1/availability",
            headers=headers,
            json={"timezone": "Europe/Paris", "weekly": ALL_WEEK, "exceptions": []},
        ),
        200,
    )
    for policy in ("prepay", "hold"):
        offering = _ok(
            client.post(
                "/api/v1/offerings",
                headers=headers,
                json={
                    "title": f"Call ({policy})",
                    "duration_minutes": 60,
                    "amount_minor": 9_000,
                    "currency": "EUR",
                    "payment_policy": policy,
                },
            ),
            201,
        )
        seeded.add("offering_id", offering["id"])
    _seed_booking(client, seeded)
    _seed_quote(client, headers, seeded)
    _seed_question(client, headers, seeded, slug)
    return seeded


def _seed_booking(client: FlaskClient, seeded: Seeded) -> None:
    slug, offering = seeded.values["slug"][0], seeded.values["offering_id"][0]
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    slots = _ok(
        client.get(
            f"/api/v1/public/freelancers/{slug}/offerings/{offering}/slots",
            query_string={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        ),
        200,
    )["slots"]
    booked = _ok(
        client.post(
            f"/api/v1/public/freelancers/{slug}/bookings",
            json={
                "offering_id": offering,
                "start": slots[0]["start"],
                "client": {"name": "Claire", "email": "claire@example.test"},
            },
        ),
        201,
    )
    seeded.add("booking_id", booked["booking_id"] if "booking_id" in booked else booked["id"])
    seeded.add("manage_token", booked.get("manage_token"))
    seeded.add("from", day.isoformat())
    seeded.add("to", (day + timedelta(days=1)).isoformat())


def _seed_quote(client: FlaskClient, headers: dict[str, str], seeded: Seeded) -> None:
    quote = _ok(client.post("/api/v1/quotes", headers=headers, json=quote_body()), 201)
    seeded.add("quote_id", quote["id"])
    sent = _ok(client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers), 200)
    detail = _ok(client.get(f"/api/v1/quotes/{quote['id']}", headers=headers), 200)
    for source in (sent, detail):
        seeded.add("token", source.get("token") or source.get("client_token"))
    for milestone in detail.get("milestones", []):
        seeded.add("milestone_id", milestone["id"])


def _seed_question(client: FlaskClient, headers: dict[str, str], seeded: Seeded, slug: str) -> None:
    _ok(
        client.put(
            "/api/v1/messages/settings",
            headers=headers,
            json={"enabled": True, "price_minor": 2_500, "currency": "eur"},
        ),
        200,
    )
    asked = _ok(
        client.post(
            f"/api/v1/public/freelancers/{slug}/messages",
            json={"name": "Léa", "email": "lea@example.test", "text": "How do I invoice?"},
        ),
        201,
    )
    seeded.add("question_id", asked["message_id"])
    seeded.add("token", asked["token"])


def write_config(path: Path, seeded: Seeded, *, probability: float = 0.8) -> Path:
    """schemathesis.toml: the token, and each real value list bound to its parameter."""
    lines = ["[dictionaries]"]
    for name, values in sorted(seeded.values.items()):
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    lines.append("")
    lines.append("[parameters]")
    for name in sorted(seeded.values):
        for location in ("path", "query", "body"):
            lines.append(
                f'"{location}.{name}" = {{ dictionary = "{name}", probability = {probability} }}'
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def run(
    url: str,
    seeded: Seeded,
    workdir: Path,
    *,
    max_time: int,
    max_examples: int,
    seed: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """The schemathesis CLI against `url`; returns the finished process (output in stdout)."""
    config = write_config(workdir / "schemathesis.toml", seeded)
    command = [
        str(SCHEMATHESIS),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{url}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {seeded.token}",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--max-time",
        str(max_time),
        "--max-examples",
        str(max_examples),
        # One worker: Hypothesis' lambda introspection is not thread-safe
        # ("AST constructor recursion depth mismatch" under two workers).
        "--workers",
        "1",
        # Speed is the bench's business: a PDF rendered on a loaded CI machine may take
        # longer than schemathesis' default 10 s, and that is not a failure of the API.
        "--request-timeout",
        "60",
        "--report",
        "junit",
        "--report-dir",
        str(workdir / "report"),
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "SCHEMATHESIS_TELEMETRY": "false",
        "NO_COLOR": "1",
        "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
        "FUZZ_TOKEN_ID": str(TOKEN_ID),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,  # its .schemathesis/ cache stays out of the project
        timeout=max_time + 120,
        check=False,
    )
