"""The OpenAPI document at /api/v1/openapi.json, built from the routes themselves.

Each API view declares its request/response schemas with `@documented`; the
document walks the URL map, so a route cannot exist without appearing in it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify
from marshmallow import Schema
from werkzeug.routing import IntegerConverter, Rule

from webapp.api import bp
from webapp.api.shapes import ALSO_ANSWERS, CONTENT, QUERY, RESPONSES

F = TypeVar("F", bound=Callable[..., Any])

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
        }
    },
}


def documented(
    summary: str,
    *,
    body: type[Schema] | None = None,
    response: type[Schema] | dict[str, Any] | None = None,
    status: int = 200,
    auth: bool = True,
    tag: str = "freelancer",
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to an API view."""

    def decorate(view: F) -> F:
        view.__openapi__ = {
            "summary": summary,
            "body": body,
            "response": response,  # type: ignore[attr-defined]
            "status": status,
            "auth": auth,
            "tag": tag,
        }
        return view

    return decorate


def _schema_ref(
    spec: APISpec, schema: type[Schema] | dict[str, Any], *, partial: bool = False
) -> Any:
    """A component for a marshmallow schema; `partial` (PATCH bodies): nothing required."""
    if isinstance(schema, dict):
        return schema
    name = schema.__name__.removesuffix("Schema") + ("Patch" if partial else "")
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema(partial=True) if partial else schema)
    return name


def _response_ref(spec: APISpec, schema: type[Schema] | dict[str, Any]) -> Any:
    """A success body's schema: a marshmallow schema's own, except that an answer may
    carry more keys than the request accepts (`unknown = RAISE` is about input)."""
    if isinstance(schema, dict):
        return schema
    name = schema.__name__.removesuffix("Schema") + "Answer"
    if name not in spec.components.schemas:
        plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
        body = plugin.converter.schema2jsonschema(schema)  # type: ignore[union-attr]
        body.pop("additionalProperties", None)
        spec.components.schema(name, body)
    return name


_BOUNDS = frozenset({"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"})


def _numeric_bounds(node: Any) -> Any:
    """JSON Schema bounds as numbers: apispec keeps a Decimal `Range` as a Decimal,
    which Flask's JSON writes as a string (`"maximum": "100"`), making the document
    invalid for validators and fuzzers."""
    if isinstance(node, dict):
        return {
            key: _as_number(value) if key in _BOUNDS else _numeric_bounds(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_numeric_bounds(item) for item in node]
    return node


def _as_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = str(value)
    if not isinstance(value, str):
        return value
    number = float(value)
    return int(number) if number.is_integer() else number


_STRING_PARAM = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def _path_schema(converter: Any) -> dict[str, Any]:
    """The JSON Schema of a URL segment, from the rule's converter (`<int:…>`: its bounds)."""
    if isinstance(converter, IntegerConverter):
        schema: dict[str, Any] = {"type": "integer", "minimum": converter.min or 0}
        if converter.max is not None:
            schema["maximum"] = converter.max
        return schema
    return dict(_STRING_PARAM)


def _operation(spec: APISpec, rule: Rule, meta: dict[str, Any], method: str) -> dict[str, Any]:
    """One method of one route: summary, success and error responses, parameters, body."""
    status = str(meta["status"])
    operation: dict[str, Any] = {
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "responses": {
            status: {"description": "OK"},
            "4XX": {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    response = RESPONSES.get(rule.endpoint, meta["response"])
    if rule.endpoint in CONTENT:
        operation["responses"][status]["content"] = {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in CONTENT[rule.endpoint]
        }
    elif response is not None and status != "204":
        operation["responses"][status]["content"] = {
            # A copy: apispec resolves schemas in place, and the shapes are shared.
            "application/json": {"schema": _response_ref(spec, copy.deepcopy(response))}
        }
    for other in ALSO_ANSWERS.get(rule.endpoint, ()):
        # Another success status with the same body (e.g. 200 for a repeat of a 201).
        operation["responses"][str(other)] = copy.deepcopy(operation["responses"][status])
    if meta["body"] is not None and method in ("POST", "PUT", "PATCH"):
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _schema_ref(spec, meta["body"], partial=method == "PATCH")
                }
            },
        }
    if meta["auth"]:
        operation["security"] = [{"bearer": []}]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(converter)}
        for name, converter in rule._converters.items()  # noqa: SLF001 (werkzeug has no public API)
    ]
    parameters += copy.deepcopy(QUERY.get(rule.endpoint, []))
    if parameters:
        operation["parameters"] = parameters
    return operation


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3 document of every /api/v1 route."""
    spec = APISpec(
        title="Acompte API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        # Paths below are relative to the API's root.
        servers=[{"url": "/api/v1"}],
        info={
            "description": "Payment-first booking and milestone billing. "
            "Money is amount_minor (integer) plus currency."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", _ERROR)
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = current_app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None)
        if meta is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = _operation(spec, rule, meta, method)
            paths.setdefault(path, {})[method.lower()] = operation
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return _numeric_bounds(spec.to_dict())


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_spec())
