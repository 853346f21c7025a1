"""The framework floor for bench.public_pages: a bare Flask app, no database.

`/page` renders a template comparable to the public booking page (a layout, a
header with language links, three offering cards with their prices formatted
by Babel, the booking form and a JSON config block; about the same size);
`/slots` returns a comparable JSON list of 7 days of slots. What it costs is
what any Flask page costs on this machine: the app's pages are measured
against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.numbers import format_currency
from flask import Flask, jsonify, render_template

app = Flask(__name__)

OFFERINGS = [
    {
        "id": n,
        "title": title,
        "description": "Une séance pour avancer sur votre projet, à distance ou sur place.",
        "amount_minor": amount,
        "duration": minutes,
    }
    for n, (title, amount, minutes) in enumerate(
        [
            ("Appel découverte", 3_000, 20),
            ("Séance de coaching", 9_000, 60),
            ("Atelier", 24_000, 120),
        ],
        start=1,
    )
]


@app.get("/page")
def page():
    offerings = [
        {**o, "price": format_currency(o["amount_minor"] / 100, "EUR", locale="fr_FR")}
        for o in OFFERINGS
    ]
    return render_template("floor_page.html", name="Camille Martin", offerings=offerings)


@app.get("/slots")
def slots():
    start = datetime(2026, 12, 7, 8, tzinfo=UTC)
    out = [
        {
            "start": (start + timedelta(days=d, minutes=30 * s)).isoformat(),
            "end": (start + timedelta(days=d, minutes=30 * s + 20)).isoformat(),
        }
        for d in range(7)
        for s in range(20)
    ]
    return jsonify({"slots": out, "timezone": "Europe/Paris"})
