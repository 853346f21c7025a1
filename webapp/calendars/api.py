"""`/api/v1/calendars`: connect, list, choose and remove the freelancer's calendars."""

from __future__ import annotations

from flask import jsonify

from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.calendars import service
from webapp.calendars.schemas import ChoicesSchema, ConnectionSchema
from webapp.errors import ApiError
from webapp.extensions import db

_CALENDAR = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "url": {"type": "string"},
        "blocks": {"type": "boolean"},
        "receives_bookings": {"type": "boolean"},
        "busy_times": {"type": "integer"},
    },
}
_CONNECTION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["caldav", "ics"]},
        "url": {"type": "string"},
        "username": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["pending", "ok", "failing"]},
        "last_error": {"type": "string", "nullable": True},
        "last_synced_at": {"type": "string", "format": "date-time", "nullable": True},
        "next_sync_at": {"type": "string", "format": "date-time", "nullable": True},
        "calendars": {"type": "array", "items": _CALENDAR},
    },
}
_LIST = {"type": "object", "properties": {"calendars": {"type": "array", "items": _CONNECTION}}}


def _own(connection_id: int):
    try:
        return service.get_connection(db.session, current_freelancer().id, connection_id)
    except service.NotFound:
        raise ApiError(404, "No such calendar connection.") from None


def _refused(exc: service.Refused) -> ApiError:
    db.session.rollback()
    return ApiError(422, "This calendar cannot be used.", fields=exc.fields)


@bp.post("/calendars")
@documented(
    "Connect a CalDAV account (its calendars are discovered; the password is stored "
    "encrypted) or a read-only ICS feed; 422 when the server cannot be read",
    body=ConnectionSchema,
    response=_CONNECTION,
    status=201,
)
@token_required
def create_calendar():
    data = ConnectionSchema().load(json_body())
    try:
        connection = service.connect(db.session, current_freelancer().id, data)
    except service.Refused as exc:
        raise _refused(exc) from None
    db.session.commit()
    return jsonify(service.describe(db.session, connection)), 201


@bp.get("/calendars")
@documented("The freelancer's calendar connections, their calendars and sync state", response=_LIST)
@token_required
def list_calendars():
    rows = service.connections(db.session, current_freelancer().id)
    return jsonify({"calendars": [service.describe(db.session, c) for c in rows]})


@bp.get("/calendars/<int:connection_id>")
@documented("One calendar connection", response=_CONNECTION)
@token_required
def get_calendar(connection_id: int):
    return jsonify(service.describe(db.session, _own(connection_id)))


@bp.patch("/calendars/<int:connection_id>")
@documented(
    "Choose which calendars block slots and which one receives bookings (one per freelancer)",
    body=ChoicesSchema,
    response=_CONNECTION,
)
@token_required
def choose_calendars(connection_id: int):
    data = ChoicesSchema().load(json_body())
    connection = _own(connection_id)
    try:
        service.choose(db.session, connection, data["calendars"])
    except service.Refused as exc:
        raise _refused(exc) from None
    db.session.commit()
    return jsonify(service.describe(db.session, connection))


@bp.delete("/calendars/<int:connection_id>")
@documented("Remove a calendar connection and its busy times", response={"type": "object"})
@token_required
def delete_calendar(connection_id: int):
    service.remove(db.session, _own(connection_id))
    db.session.commit()
    return jsonify({"deleted": connection_id})
