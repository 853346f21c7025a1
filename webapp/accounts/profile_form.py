"""The profile page's form ⇄ the API's profile shape (`ProfileSchema`).

The page has flat fields: the postal address as `pa_line1`…`pa_country`, the
share capital in euros (`share_capital`), `vat_on_debits` as a checkbox.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError

ADDRESS_KEYS = ("line1", "line2", "postal_code", "city", "country")


def flatten(profile: dict[str, Any]) -> dict[str, Any]:
    """The form's extra fields from the API's profile."""
    address = profile.get("postal_address") or {}
    out: dict[str, Any] = {f"pa_{k}": address.get(k, "") for k in ADDRESS_KEYS}
    if not address:
        out["pa_country"] = "FR"
    capital = profile.get("share_capital_minor")
    out["share_capital"] = "" if capital is None else str(Decimal(capital) / 100)
    return out


def from_form(form: dict[str, str]) -> dict[str, Any]:
    """What the page posted, in the API's shape (ProfileSchema validates it)."""
    out: dict[str, Any] = {
        k: v
        for k, v in form.items()
        if not k.startswith("pa_") and k not in ("share_capital", "vat_on_debits_shown")
    }
    if out.get("vat_rate") == "":
        out.pop("vat_rate")  # empty: keep the current rate (none under franchise)
    if out.get("penalty_rate") == "":
        out["penalty_rate"] = None
    if "payment_terms_days" in out:
        raw = out["payment_terms_days"]
        out["payment_terms_days"] = int(raw) if raw.strip().isdigit() else raw
    if "vat_on_debits_shown" in form:
        out["vat_on_debits"] = form.get("vat_on_debits") == "on"
    if "share_capital" in form:
        raw = form["share_capital"].strip().replace(" ", "").replace(",", ".")
        try:
            out["share_capital_minor"] = None if raw == "" else int(Decimal(raw) * 100)
        except InvalidOperation:
            out["share_capital_minor"] = raw  # refused by the schema, named
    if any(f"pa_{k}" in form for k in ADDRESS_KEYS):
        address = {k: form.get(f"pa_{k}", "").strip() for k in ADDRESS_KEYS}
        filled = any(address[k] for k in ("line1", "line2", "postal_code", "city"))
        out["postal_address"] = address if filled else None
    return out


def form_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field errors keyed by the page's field names."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key == "postal_address" and isinstance(value, dict):
            for sub, sub_messages in value.items():
                out[f"pa_{sub}"] = list(sub_messages)
        elif key == "share_capital_minor":
            out["share_capital"] = list(value) if isinstance(value, list) else [str(value)]
        else:
            out[key] = value if isinstance(value, list) else [str(value)]
    return out
