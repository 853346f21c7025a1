"""The OpenAPI document says truly what each operation answers (webapp.api.shapes).

1. Every /api/v1 operation documents a success body that is more than a bare
   object, and every query parameter its view reads.
2. Real answers conform: a scenario through the API (bookings, quotes, invoices,
   messages, tokens, Stripe keys) validates each success body against its schema.
"""

from __future__ import annotations

import inspect
import io
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from billing.gateway.memory import InMemoryGateway
from billing.models import CardSetup
from tests.integration.test_booking_api import ALL_WEEK
from tests.integration.test_quotes import PROFILE, quote_body
from webapp.api.openapi import build_spec
from webapp.api.shapes import ALSO_ANSWERS
from webapp.booking.schemas import SlotsQuerySchema
from webapp.extensions import db

PASSWORD = "correct horse battery"


@pytest.fixture
def gateway() -> InMemoryGateway:
    return InMemoryGateway()


@pytest.fixture
def app_config(app_config: dict[str, Any], gateway: InMemoryGateway, tmp_path: Any) -> dict:
    return {
        **app_config,
        "GATEWAY_FACTORY": lambda creds: gateway,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }


@pytest.fixture
def spec(app: Flask) -> dict[str, Any]:
    with app.test_request_context():
        return build_spec()


def _api_operations(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, spec path, method) of every documented /api/v1 operation."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi_document":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, path, method.lower()))
    return out


# --- 1. the document is complete ----------------------------------------------------------


def test_every_operation_documents_its_success_body(app: Flask, spec: dict[str, Any]) -> None:
    bare = []
    for endpoint, path, method in _api_operations(app):
        responses = spec["paths"][path][method]["responses"]
        statuses = [s for s in responses if s.startswith("2")]
        assert len(statuses) == 1 or endpoint in ALSO_ANSWERS, endpoint
        for status in statuses:
            content = responses[status].get("content")
            if status == "204":
                assert content is None, endpoint
                continue
            assert content, f"{endpoint}: no success body documented"
            for media, entry in content.items():
                schema = entry["schema"]
                if media != "application/json":
                    assert schema == {"type": "string", "format": "binary"}, endpoint
                    continue
                if "$ref" in schema:
                    schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                if not schema.get("properties") or schema.get("additionalProperties") is True:
                    bare.append(endpoint)
    assert bare == []
    # a statement imported again answers 200 with the body of the first import's 201
    statements = spec["paths"]["/bank-statements"]["post"]["responses"]
    assert statements["200"] == statements["201"]


def _args_read(view: Any) -> set[str]:
    source = inspect.getsource(inspect.unwrap(view))
    names = set(re.findall(r"request\.args\.get\(\s*\"([^\"]+)\"", source))
    if "SlotsQuerySchema().load(request.args" in source:
        names |= {f.data_key or name for name, f in SlotsQuerySchema().fields.items()}
    return names


def test_every_query_parameter_a_view_reads_is_documented(app: Flask, spec: dict) -> None:
    missing = []
    for endpoint, path, method in _api_operations(app):
        read = _args_read(app.view_functions[endpoint])
        params = spec["paths"][path][method].get("parameters", [])
        documented = {p["name"] for p in params if p["in"] == "query"}
        missing += [f"{endpoint}: ?{name}" for name in sorted(read - documented)]
        for param in params:
            assert param["schema"].get("type"), (endpoint, param)
    assert missing == []


def test_path_ids_carry_the_converters_bounds(spec: dict[str, Any]) -> None:
    [param] = spec["paths"]["/bookings/{booking_id}"]["get"]["parameters"]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    slug = spec["paths"]["/public/freelancers/{slug}"]["get"]["parameters"][0]
    assert slug["schema"]["type"] == "string" and slug["schema"]["minLength"] == 1


# --- 2. real answers conform --------------------------------------------------------------


class Checked:
    """The test client, validating every success answer against the document."""

    def __init__(self, app: Flask, client: FlaskClient, spec: dict[str, Any]) -> None:
        self.app, self.client, self.spec = app, client, spec
        self.seen: set[str] = set()
        self.paths = {endpoint: path for endpoint, path, _ in _api_operations(app)}

    def __call__(self, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        answer: TestResponse = getattr(self.client, method)(url, **kwargs)
        assert answer.status_code == status, (method, url, answer.get_data(as_text=True)[:500])
        adapter = self.app.url_map.bind("localhost")
        endpoint, _ = adapter.match(url.split("?")[0], method=method.upper())
        self.seen.add(endpoint)
        operation = self.spec["paths"][self.paths[endpoint]][method]
        content = operation["responses"][str(status)].get("content", {})
        mimetype = answer.mimetype
        if status == 204:
            assert content == {} and answer.get_data() == b""
            return None
        assert mimetype in content, (endpoint, mimetype, list(content))
        if mimetype != "application/json":
            return answer.get_data()
        body = answer.get_json()
        root = {"allOf": [content[mimetype]["schema"]], "components": self.spec["components"]}
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in OAS30Validator(root, format_checker=oas30_format_checker).iter_errors(body)
        ]
        assert errors == [], (endpoint, errors)
        return body


SUPPLIER_CII = Path(__file__).resolve().parents[1] / "fixtures" / "facturx" / "supplier_en16931.xml"
BOOKS_CAMT = Path(__file__).resolve().parents[1] / "fixtures" / "books" / "camt053.xml"


def _save_card(gateway: InMemoryGateway, subject_id: int) -> None:
    with db.new_session() as session:
        setup = session.scalars(
            select(CardSetup).where(CardSetup.subject_id == str(subject_id)).order_by(CardSetup.id)
        ).all()[-1]
        gateway.confirm_setup_intent(setup.stripe_setup_intent_id, "pm_card_visa")


def _slot(days: int, hour: int) -> str:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


def _freelancer(call: Checked) -> dict[str, Any]:
    who = {"email": "shapes@example.test", "password": PASSWORD}
    body = {**who, "display_name": "Shapes", "slug": "shapes"}
    call("post", "/api/v1/signup", 201, json=body)
    token = call("post", "/api/v1/tokens", 201, json=who)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    call("get", "/api/v1/tokens", headers=headers)
    spare = call("post", "/api/v1/tokens", 201, json={**who, "label": "spare"})
    call("delete", f"/api/v1/tokens/{spare['id']}", 204, headers=headers)
    call("get", "/api/v1/me", headers=headers)
    call("patch", "/api/v1/me", headers=headers, json=PROFILE)
    call("get", "/api/v1/stripe-account", headers=headers)
    call("delete", "/api/v1/stripe-account", headers=headers)
    call(
        "put",
        "/api/v1/availability",
        headers=headers,
        json={"timezone": "UTC", "weekly": ALL_WEEK, "exceptions": []},
    )
    return {"slug": "shapes", "headers": headers}


def _offering(call: Checked, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Call",
        "duration_minutes": 60,
        "amount_minor": 10_000,
        "currency": "EUR",
        "payment_policy": "prepay",
        "free_cancel_hours": 24,
        "late_cancel_fee_percent": 50,
        "min_notice_minutes": 0,
        **overrides,
    }
    return call("post", "/api/v1/offerings", 201, headers=headers, json=body)


def _bookings(call: Checked, gateway: InMemoryGateway, seller: dict[str, Any]) -> None:
    headers, slug = seller["headers"], seller["slug"]
    prepay = _offering(call, headers)
    deposit = _offering(call, headers, payment_policy="deposit", deposit_percent=30)
    hold = _offering(call, headers, payment_policy="hold")
    call("get", "/api/v1/offerings", headers=headers)
    call("get", f"/api/v1/offerings/{hold['id']}", headers=headers)
    call("patch", f"/api/v1/offerings/{hold['id']}", headers=headers, json={"title": "Hold"})
    spare = _offering(call, headers)
    call("delete", f"/api/v1/offerings/{spare['id']}", 204, headers=headers)
    call("get", "/api/v1/availability", headers=headers)
    call("get", f"/api/v1/public/freelancers/{slug}")
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    call(
        "get",
        f"/api/v1/public/freelancers/{slug}/offerings/{prepay['id']}/slots",
        query_string={"from": day, "to": day, "tz": "Asia/Tokyo"},
    )
    booked = []
    for offering, days in ((prepay, 3), (deposit, 4), (hold, 20), (prepay, 5)):
        body = {
            "offering_id": offering["id"],
            "start": _slot(days, 10),
            "client": {"name": "Client", "email": "client@example.test"},
        }
        booked.append(call("post", f"/api/v1/public/freelancers/{slug}/bookings", 201, json=body))
    *confirmed, pending = booked
    for b in confirmed:
        _save_card(gateway, b["booking_id"])
        token = {"manage_token": b["manage_token"]}
        call("post", f"/api/v1/public/bookings/{b['booking_id']}/confirm", json=token)
        call("post", f"/api/v1/public/bookings/{b['booking_id']}/confirm", json=token)  # again
    token = {"manage_token": pending["manage_token"]}
    call("post", f"/api/v1/public/bookings/{pending['booking_id']}/card-setup", json=token)
    for b in booked:
        call("get", f"/api/v1/public/bookings/{b['booking_id']}?manage_token={b['manage_token']}")
    first, second, far = confirmed
    call(
        "post",
        f"/api/v1/public/bookings/{first['booking_id']}/reschedule",
        json={"manage_token": first["manage_token"], "start": _slot(6, 12)},
    )
    call(
        "post",
        f"/api/v1/public/bookings/{second['booking_id']}/cancel",
        json={"manage_token": second["manage_token"]},
    )
    call("post", f"/api/v1/bookings/{far['booking_id']}/cancel", headers=headers)
    call("post", f"/api/v1/bookings/{pending['booking_id']}/cancel", headers=headers)
    for query in ("", "?upcoming=true", "?upcoming=false"):
        call("get", f"/api/v1/bookings{query}", headers=headers)
    for b in booked:
        call("get", f"/api/v1/bookings/{b['booking_id']}", headers=headers)


def _quotes(call: Checked, gateway: InMemoryGateway, seller: dict[str, Any]) -> None:
    headers = seller["headers"]
    quote = call("post", "/api/v1/quotes", 201, headers=headers, json=quote_body())
    qid, token = quote["id"], quote["public_token"]
    call("patch", f"/api/v1/quotes/{qid}", headers=headers, json={"title": "Refonte v2"})
    call("post", f"/api/v1/quotes/{qid}/send", headers=headers)
    call("get", "/api/v1/quotes", headers=headers)
    call("get", f"/api/v1/public/quotes/{token}")
    signed = call(
        "post",
        f"/api/v1/public/quotes/{token}/accept",
        json={"signer_name": "Claire Client", "accept_terms": True},
    )
    gateway.confirm_setup_intent(
        signed["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    call(
        "post",
        f"/api/v1/public/quotes/{token}/accept/confirm",
        json={"acceptance_id": signed["acceptance_id"]},
    )
    call("get", f"/api/v1/public/quotes/{token}")
    _, second, third = call("get", f"/api/v1/quotes/{qid}", headers=headers)["milestones"]
    for ms in (second, third):
        call("post", f"/api/v1/milestones/{ms['id']}/deliver", headers=headers, json={})
    call(
        "post",
        f"/api/v1/public/milestones/{second['id']}/object",
        json={"token": token, "reason": "Le logo manque"},
    )
    call(
        "post",
        f"/api/v1/milestones/{second['id']}/resolve",
        headers=headers,
        json={"action": "revise", "note": "je corrige"},
    )
    call("post", f"/api/v1/public/milestones/{third['id']}/approve", json={"token": token})
    call("post", f"/api/v1/milestones/{second['id']}/manual-payment", headers=headers, json={})
    other = call("post", "/api/v1/quotes", 201, headers=headers, json=quote_body())
    call("post", f"/api/v1/milestones/{other['milestones'][2]['id']}/cancel", headers=headers)
    call("post", f"/api/v1/quotes/{other['id']}/send", headers=headers)
    call("post", f"/api/v1/public/quotes/{other['public_token']}/decline", json={"reason": "no"})
    call("get", f"/api/v1/quotes/{qid}", headers=headers)


def _invoices(call: Checked, seller: dict[str, Any]) -> None:
    headers = seller["headers"]
    invoices = call("get", "/api/v1/invoices", headers=headers)["invoices"]
    assert invoices, "the scenario issues invoices (deposit, bookings)"
    for invoice in invoices:
        call("get", f"/api/v1/invoices/{invoice['id']}", headers=headers)
    first = invoices[-1]["id"]
    assert call("get", f"/api/v1/invoices/{first}.pdf?lang=en", headers=headers)[:5] == b"%PDF-"
    call(
        "post",
        f"/api/v1/invoices/{first}/credit-notes",
        201,
        headers=headers,
        json={"amount_minor": 100, "reason": "Geste commercial"},
    )
    assert call("get", f"/api/v1/invoices/{first}/facturx.xml", headers=headers).startswith(
        b"<?xml"
    )
    received = call(
        "post",
        "/api/v1/supplier-invoices",
        201,
        headers=headers,
        data={"file": (io.BytesIO(SUPPLIER_CII.read_bytes()), "invoice.xml")},
        content_type="multipart/form-data",
    )
    call("get", "/api/v1/supplier-invoices", headers=headers)
    call("get", f"/api/v1/supplier-invoices/{received['id']}", headers=headers)
    assert call("get", f"/api/v1/supplier-invoices/{received['id']}/file", headers=headers)
    call("get", "/api/v1/calendars", headers=headers)
    today = date.today()
    period = f"from={today - timedelta(days=30)}&to={today + timedelta(days=1)}"
    call("get", f"/api/v1/invoices/e-reporting?{period}", headers=headers)
    assert call("get", f"/api/v1/invoices/e-reporting.csv?{period}", headers=headers)
    _books(call, headers)
    call("get", "/api/v1/dunning/cases", headers=headers)
    call("get", "/api/v1/dunning/settings", headers=headers)
    call("put", "/api/v1/dunning/settings", headers=headers, json={"bill_penalties": True})


def _books(call: Checked, headers: dict[str, str]) -> None:
    """An invoice by hand, a bank statement, the review list, assign and undo, exports."""
    due = (date.today() + timedelta(days=30)).isoformat()
    by_hand = {
        "client": {"name": "Jean Dupont", "email": "jean@acme.example", "is_business": False},
        "lines": [{"description": "Atelier", "quantity": 1, "unit_amount_minor": 500_00}],
        "due_date": due,
    }
    made = call("post", "/api/v1/invoices", 201, headers=headers, json=by_hand)
    statement = call(
        "post",
        "/api/v1/bank-statements",
        201,
        headers=headers,
        data={"file": (io.BytesIO(BOOKS_CAMT.read_bytes()), "camt053.xml")},
        content_type="multipart/form-data",
    )
    again = call(
        "post",
        "/api/v1/bank-statements",
        200,  # the same file again: nothing new
        headers=headers,
        data={"file": (io.BytesIO(BOOKS_CAMT.read_bytes()), "camt053.xml")},
        content_type="multipart/form-data",
    )
    assert again["id"] == statement["id"] and again["lines"] == 0
    call("get", f"/api/v1/bank-statements/{statement['id']}", headers=headers)
    lines = call("get", "/api/v1/bank-lines", headers=headers)["lines"]
    line = next(line for line in lines if 0 < line["left_minor"] <= 500_00)
    assigned = call(
        "post",
        f"/api/v1/bank-lines/{line['id']}/matches",
        201,
        headers=headers,
        json={"invoice_id": made["id"]},
    )
    [match] = [m for m in assigned["matches"] if not m["undone"]]
    call("post", f"/api/v1/bank-matches/{match['id']}/undo", headers=headers)
    today = date.today()
    period = f"from={today - timedelta(days=365)}&to={today + timedelta(days=1)}"
    assert call("get", f"/api/v1/books/receipts?{period}", headers=headers)
    assert call("get", f"/api/v1/books/fec?year={today.year}", headers=headers)
    span = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
    call("post", "/api/v1/books/payouts/sync", headers=headers, json=span)
    call("get", f"/api/v1/books/payouts?{period}", headers=headers)
    for export in ("payouts.csv", "payouts.pdf", "urssaf.csv", "urssaf.pdf", "receipts.pdf"):
        assert call("get", f"/api/v1/books/{export}?{period}", headers=headers)
    assert call("get", f"/api/v1/books/urssaf?{period}", headers=headers)["months"]
    accounts = call("get", "/api/v1/books/accounts", headers=headers)
    assert accounts["fees"]["number"] == "627000"
    call("put", "/api/v1/books/accounts", headers=headers, json={"stripe": {"number": "580000"}})


def _messages(call: Checked, gateway: InMemoryGateway, seller: dict[str, Any]) -> None:
    headers, slug = seller["headers"], seller["slug"]
    call(
        "put",
        "/api/v1/messages/settings",
        headers=headers,
        json={"enabled": True, "price_minor": 2500, "currency": "eur", "answer_delay_hours": 72},
    )
    asked = call(
        "post",
        f"/api/v1/public/freelancers/{slug}/messages?lang=en",
        201,
        json={"name": "Claire", "email": "claire@example.test", "text": "How do I invoice?"},
    )
    mid, token = asked["message_id"], asked["token"]
    gateway.confirm_setup_intent(
        asked["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    call("post", f"/api/v1/public/messages/{mid}/confirm", json={"token": token})
    call("post", f"/api/v1/public/messages/{mid}/confirm", json={"token": token})  # again
    boundary, data = encode_multipart(
        {"token": token, "file": FileStorage(io.BytesIO(b"%PDF-1.4 hello"), filename="a.pdf")}
    )
    file = call(
        "post",
        f"/api/v1/public/messages/{mid}/attachments",
        201,
        data=data,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    call("get", "/api/v1/messages", headers=headers)
    call("get", f"/api/v1/messages/{mid}", headers=headers)
    call("get", "/api/v1/messages/settings", headers=headers)
    call("get", f"/api/v1/public/messages/{mid}?token={token}")
    call("get", f"/api/v1/public/messages/{mid}/attachments/{file['id']}?token={token}")
    call("get", f"/api/v1/messages/{mid}/attachments/{file['id']}", headers=headers)
    call("post", f"/api/v1/messages/{mid}/answer", headers=headers, json={"text": "Like this."})
    call(
        "post",
        f"/api/v1/public/messages/{mid}/follow-up",
        201,
        json={"token": token, "text": "And a credit note?"},
    )
    again = call(
        "post",
        f"/api/v1/public/freelancers/{slug}/messages",
        201,
        json={"name": "Paul", "email": "paul@example.test", "text": "Another one?"},
    )
    gateway.confirm_setup_intent(
        again["setup_intent_client_secret"].split("_secret_")[0], "pm_card_visa"
    )
    call(
        "post",
        f"/api/v1/public/messages/{again['message_id']}/confirm",
        json={"token": again["token"]},
    )
    decline = {"reason": "Not my field."}
    call("post", f"/api/v1/messages/{again['message_id']}/decline", headers=headers, json=decline)
    call("get", "/api/v1/messages", headers=headers)
    call("get", f"/api/v1/public/messages/{mid}?token={token}")


def test_real_answers_conform_to_the_document(
    app: Flask, client: FlaskClient, gateway: InMemoryGateway, spec: dict[str, Any]
) -> None:
    call = Checked(app, client, spec)
    seller = _freelancer(call)
    _bookings(call, gateway, seller)
    _quotes(call, gateway, seller)
    _invoices(call, seller)
    _messages(call, gateway, seller)
    # the scenario reaches most of the API
    reached = len(call.seen) / len(call.paths)
    # (the rest: dunning case actions and its documents, pay links, calendar
    # connections, 3-D Secure, closing — their shapes are read from the code)
    assert reached > 0.75, sorted(set(call.paths) - call.seen)
