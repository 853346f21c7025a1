"""Sessions over the JSON API: the freelancer's offerings, availability and bookings,
and the public endpoints the booking and manage pages call (CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import jsonify, request
from marshmallow import ValidationError

from billing.events import timeline
from webapp.api import bp, current_freelancer, json_body, token_required
from webapp.api.openapi import documented
from webapp.booking import checkout, closing, ledger, lifecycle, public, reschedule, service
from webapp.booking.errors import Expired, InvalidRequest, NotFound, PaymentFailed, SlotTaken
from webapp.booking.models import Booking
from webapp.booking.schemas import (
    AvailabilitySchema,
    BookingRequestSchema,
    ConfirmSchema,
    ManageTokenSchema,
    OfferingSchema,
    RescheduleSchema,
    SlotsQuerySchema,
    dump_offering,
)
from webapp.errors import ApiError, flatten_messages
from webapp.extensions import db, limiter

F = TypeVar("F", bound=Callable[..., Any])
_OBJECT = {"type": "object"}


def answers_errors(view: F) -> F:
    """Turn the booking's named errors (`webapp.booking.errors`) into the contract's error shape."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound:
            db.session.rollback()
            raise ApiError(404, "Not found.") from None
        except SlotTaken:
            db.session.rollback()
            raise ApiError(
                409, "This slot was just taken. Please choose another time.", code="slot_taken"
            ) from None
        except InvalidRequest as exc:
            db.session.rollback()
            raise ApiError(422, "Some fields are invalid.", fields=exc.fields) from None
        except PaymentFailed as exc:
            db.session.rollback()
            raise ApiError(402, str(exc), code=exc.code) from None
        except Expired as exc:
            db.session.rollback()
            raise ApiError(409, str(exc), code="booking_expired") from None
        # AlreadyDone, NotAllowed and gateway errors: webapp.errors answers them.

    return wrapper  # type: ignore[return-value]


def dump_booking(booking: Booking, *, with_timeline: bool = False) -> dict[str, Any]:
    """A booking as its freelancer sees it: payment state and, on detail, the timeline."""
    t = ledger.totals(db.session, booking)
    out: dict[str, Any] = {
        "id": booking.id,
        "offering_id": booking.offering_id,
        "title": booking.title,
        "status": booking.status,
        "start": booking.start_at.isoformat(),
        "end": booking.end_at.isoformat(),
        "client": {
            "name": booking.client_name,
            "email": booking.client_email,
            "locale": booking.client_locale,
        },
        "client_timezone": booking.client_timezone,
        "amount_minor": booking.amount_minor,
        "currency": booking.currency,
        "payment_policy": booking.payment_policy,
        "payment": {
            "state": booking.payment_state,
            "secured_minor": t.secured_minor,
            "captured_minor": t.captured_minor,
            "released_minor": t.released_minor,
            "refunded_minor": t.refunded_minor,
            "fee_charged_minor": t.captured_minor
            if booking.status in ("cancelled", "no_show")
            else 0,
            "hold_due_at": booking.hold_due_at.isoformat() if booking.hold_due_at else None,
        },
        "created_at": booking.created_at.isoformat(),
    }
    if with_timeline:
        rows = timeline(db.session, "booking", booking.id)
        for payment in ledger.booking_payments(db.session, booking):
            rows += timeline(db.session, "payment", payment.id)
        out["payments"] = [
            {
                "id": p.id,
                "purpose": p.purpose,
                "status": p.status,
                "amount_minor": p.amount_minor,
                "captured_minor": p.amount_captured_minor,
                "refunded_minor": p.amount_refunded_minor,
                "off_session": p.off_session,
                "failure_code": p.failure_code,
                "hold_expires_at": p.hold_expires_at.isoformat() if p.hold_expires_at else None,
            }
            for p in ledger.booking_payments(db.session, booking)
        ]
        out["timeline"] = [
            {
                "at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "subject": f"{e.subject_type}:{e.subject_id}",
                "action": e.action,
                "data": e.data,
            }
            for e in sorted(rows, key=lambda e: e.id)
        ]
    return out


# --- freelancer: offerings ----------------------------------------------------


@bp.post("/offerings")
@documented("Create an offering", body=OfferingSchema, response=OfferingSchema, status=201)
@token_required
def create_offering():
    freelancer = current_freelancer()
    data = OfferingSchema().load(json_body())
    offering = service.create_offering(db.session, freelancer.id, data)
    db.session.commit()
    return jsonify(dump_offering(offering)), 201


@bp.get("/offerings")
@documented("List your offerings", response=_OBJECT)
@token_required
def list_offerings():
    items = service.offerings(db.session, current_freelancer().id)
    return jsonify({"offerings": [dump_offering(o) for o in items]})


@bp.get("/offerings/<int:offering_id>")
@documented("Read an offering", response=OfferingSchema)
@token_required
@answers_errors
def get_offering(offering_id: int):
    return jsonify(
        dump_offering(service.get_offering(db.session, current_freelancer().id, offering_id))
    )


@bp.patch("/offerings/<int:offering_id>")
@documented(
    "Change an offering (booked sessions keep their terms)",
    body=OfferingSchema,
    response=OfferingSchema,
)
@token_required
@answers_errors
def patch_offering(offering_id: int):
    offering = service.get_offering(db.session, current_freelancer().id, offering_id)
    changes = OfferingSchema(current=offering, partial=True).load(json_body())
    service.update_offering(db.session, offering, changes)
    db.session.commit()
    return jsonify(dump_offering(offering))


@bp.delete("/offerings/<int:offering_id>")
@documented("Withdraw an offering (its bookings stay)", status=204)
@token_required
@answers_errors
def delete_offering(offering_id: int):
    offering = service.get_offering(db.session, current_freelancer().id, offering_id)
    service.archive_offering(db.session, offering)
    db.session.commit()
    return "", 204


# --- freelancer: availability --------------------------------------------------


def _dump_availability(availability: Any) -> dict[str, Any]:
    return {
        "timezone": availability.timezone,
        "weekly": availability.weekly or [],
        "exceptions": availability.exceptions or [],
    }


@bp.get("/availability")
@documented("Read your weekly hours and exceptions", response=AvailabilitySchema)
@token_required
def get_availability():
    return jsonify(_dump_availability(service.get_availability(db.session, current_freelancer())))


@bp.put("/availability")
@documented(
    "Replace your weekly hours and exceptions", body=AvailabilitySchema, response=AvailabilitySchema
)
@token_required
def put_availability():
    data = AvailabilitySchema().load(json_body())
    availability = service.put_availability(db.session, current_freelancer(), data)
    db.session.commit()
    return jsonify(_dump_availability(availability))


# --- freelancer: bookings --------------------------------------------------------


@bp.get("/bookings")
@documented("Your bookings with their payment state (?upcoming=true|false)", response=_OBJECT)
@token_required
def list_bookings():
    upcoming_arg = request.args.get("upcoming")
    if upcoming_arg not in (None, "true", "false"):
        raise ApiError(
            400, "upcoming must be true or false.", fields={"upcoming": ["true or false"]}
        )
    upcoming = None if upcoming_arg is None else upcoming_arg == "true"
    items = lifecycle.list_bookings(db.session, current_freelancer().id, upcoming=upcoming)
    return jsonify({"bookings": [dump_booking(b) for b in items]})


@bp.get("/bookings/<int:booking_id>")
@documented("One booking with its payments and timeline", response=_OBJECT)
@token_required
@answers_errors
def get_booking(booking_id: int):
    booking = lifecycle.get_booking(db.session, current_freelancer().id, booking_id)
    return jsonify(dump_booking(booking, with_timeline=True))


def _action(fn: Callable[..., dict], booking_id: int) -> Any:
    freelancer_id = current_freelancer().id
    result = fn(db.session, freelancer_id, booking_id)
    booking = lifecycle.get_booking(db.session, freelancer_id, booking_id)
    return jsonify({**dump_booking(booking), "result": result})


@bp.post("/bookings/<int:booking_id>/complete")
@documented("Mark completed (early): the full price is collected now", response=_OBJECT)
@token_required
@answers_errors
def complete_booking(booking_id: int):
    return _action(closing.complete, booking_id)


@bp.post("/bookings/<int:booking_id>/no-show")
@documented("Mark a no-show: the no-show fee is kept, the rest given back", response=_OBJECT)
@token_required
@answers_errors
def no_show_booking(booking_id: int):
    return _action(closing.mark_no_show, booking_id)


@bp.post("/bookings/<int:booking_id>/cancel")
@documented("Cancel: everything is released or refunded to the client", response=_OBJECT)
@token_required
@answers_errors
def cancel_booking(booking_id: int):
    return _action(closing.cancel_by_freelancer, booking_id)


# --- public (client links) ---------------------------------------------------------


@bp.get("/public/freelancers/<slug>")
@documented("A freelancer's public booking page data", response=_OBJECT, auth=False, tag="public")
@answers_errors
def public_freelancer(slug: str):
    from webapp.public import reads

    profile = reads.profile(slug)
    if profile is None:
        raise ApiError(404, "Not found.")
    # The same for every visitor until the freelancer changes it: revalidated by ETag.
    response = jsonify(profile)
    response.headers["Cache-Control"] = "public, no-cache"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    response.add_etag()
    return response.make_conditional(request)


# Stateless, so one for every request: the public slots API is the hottest read.
_SLOTS_QUERY = SlotsQuerySchema()


@bp.get("/public/freelancers/<slug>/offerings/<int:offering_id>/slots")
@documented(
    "Free slots between two dates, in the client's zone", response=_OBJECT, auth=False, tag="public"
)
@answers_errors
def public_slots(slug: str, offering_id: int):
    try:
        query = _SLOTS_QUERY.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(
            400, "Bad query parameters.", fields=flatten_messages(exc.messages)
        ) from None
    slots = public.public_slots(
        db.session, slug, offering_id, query["from_"], query["to"], query["tz"]
    )
    response = jsonify({"slots": slots, "timezone": query["tz"]})
    # Free times change with every booking: always revalidated, 304 when unchanged.
    response.headers["Cache-Control"] = "public, no-cache"
    response.add_etag()
    return response.make_conditional(request)


@bp.post("/public/freelancers/<slug>/bookings")
@documented(
    "Book a slot: pending payment, with a SetupIntent to save the card",
    body=BookingRequestSchema,
    response=_OBJECT,
    status=201,
    auth=False,
    tag="public",
)
@limiter.limit("30/minute")
@answers_errors
def public_book(slug: str):
    data = BookingRequestSchema().load(json_body())
    return jsonify(checkout.book(db.session, slug, data)), 201


def _token_body(schema: type = ManageTokenSchema) -> dict[str, Any]:
    return schema().load(json_body())


@bp.get("/public/bookings/<int:booking_id>")
@documented(
    "The booking as its client sees it (?manage_token=…), with a cancellation quote",
    response=_OBJECT,
    auth=False,
    tag="public",
)
@answers_errors
def public_booking(booking_id: int):
    token = request.args.get("manage_token", "")
    return jsonify(public.client_view(db.session, booking_id, token))


@bp.post("/public/bookings/<int:booking_id>/confirm")
@documented(
    "After the card is saved (or with the card made on the page): hold or charge by policy",
    body=ConfirmSchema,
    response=_OBJECT,
    auth=False,
    tag="public",
)
@limiter.limit("30/minute")
@answers_errors
def public_confirm(booking_id: int):
    data = _token_body(ConfirmSchema)
    token, card = data["manage_token"], data["payment_method_id"]
    return jsonify(checkout.confirm(db.session, booking_id, token, payment_method_id=card))


@bp.post("/public/bookings/<int:booking_id>/card-setup")
@documented(
    "A new SetupIntent to save another card",
    body=ManageTokenSchema,
    response=_OBJECT,
    auth=False,
    tag="public",
)
@limiter.limit("30/minute")
@answers_errors
def public_card_setup(booking_id: int):
    data = _token_body()
    return jsonify(checkout.card_setup(db.session, booking_id, data["manage_token"]))


@bp.post("/public/bookings/<int:booking_id>/cancel")
@documented(
    "Cancel by the client: free in time, else the late fee",
    body=ManageTokenSchema,
    response=_OBJECT,
    auth=False,
    tag="public",
)
@answers_errors
def public_cancel(booking_id: int):
    data = _token_body()
    return jsonify(closing.cancel_by_client(db.session, booking_id, data["manage_token"]))


@bp.post("/public/bookings/<int:booking_id>/reschedule")
@documented(
    "Move to another free slot without paying twice",
    body=RescheduleSchema,
    response=_OBJECT,
    auth=False,
    tag="public",
)
@answers_errors
def public_reschedule(booking_id: int):
    data = _token_body(RescheduleSchema)
    return jsonify(
        reschedule.reschedule(db.session, booking_id, data["manage_token"], data["start"])
    )
