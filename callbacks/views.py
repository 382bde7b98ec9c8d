"""Callback webhooks: the offer while waiting, number and time, the callback call itself, its outcome."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import Gather

from callbacks import service
from callbacks.exceptions import CallbackError
from callbacks.jobs import policy_from
from ivr import engine, numbers, queueing
from ivr import twilio_form as form
from ivr.engine import Turn
from ivr.views import known_call, make_turn, twiml, verify_twilio_signature
from routing.service import callback_item_id
from store import callbacks as store
from store import calls
from store.web import get_db

log = logging.getLogger(__name__)

bp = Blueprint("callbacks", __name__, url_prefix="/voice/callback")
bp.before_request(verify_twilio_signature)

NUMBER_TIMEOUT_S = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def spoken(number: str) -> str:
    """A phone number read digit by digit."""
    return " ".join(ch for ch in number if ch.isdigit())


def _ask(turn: Turn, text: str, action: str, **gather: Any) -> Response:
    """Say ``text`` inside a Gather; if nothing is pressed, the caller goes back to waiting (hold music)."""
    g = Gather(input="dtmf", action=action, timeout=gather.pop("timeout", 6), **gather)
    turn.say(text, g)
    turn.response.append(g)
    turn.response.play(turn.urls.static(queueing.HOLD_MUSIC))
    return twiml(turn.response)


def _keep_waiting(turn: Turn, text: str | None = None) -> Response:
    if text:
        turn.say(text)
    turn.response.play(turn.urls.static(queueing.HOLD_MUSIC))
    return twiml(turn.response)


def offer_hook(turn: Turn, estimate: Any) -> None:
    """Wait hook: above CALLBACK_OFFER_AFTER_S of estimated wait, offer a callback that keeps the place."""
    threshold = current_app.config["CALLBACK_OFFER_AFTER_S"]
    if estimate.wait_s is not None and estimate.wait_s <= threshold:
        return
    caller_number = _caller_number(turn)
    if caller_number and len(service.pending_for(turn.db, caller_number)) >= current_app.config["MAX_PENDING_CALLBACKS_PER_NUMBER"]:
        return
    g = Gather(input="dtmf", num_digits=1, timeout=3, action=turn.urls.voice("callbacks.offer"))
    turn.say(turn.flow.messages["callback_offer"], g)
    turn.response.append(g)


def _caller_number(turn: Turn) -> str | None:
    caller = calls.get_caller(turn.db, turn.call["caller_id"])
    number = caller["number"] if caller else None
    return number if number and numbers.callable_number(number, current_app.config["DEFAULT_REGION"]) else None


@bp.post("/offer")
def offer() -> Response:
    """The caller answered the offer (in the queue's wait music): 1 → confirm the number or pick a time."""
    turn = make_turn(known_call(form.call_sid(request.form)))
    if form.digits(request.form)[:1] != "1":
        return _keep_waiting(turn)
    number = _caller_number(turn)
    if number is None:
        return _ask_number(turn)
    text = turn.flow.text("callback_confirm", number=spoken(number))
    return _ask(turn, text, turn.urls.voice("callbacks.number", step="choose"), num_digits=1)


def _ask_number(turn: Turn, attempt: int = 1) -> Response:
    """Ask for the number to call back, keyed in and ended with #."""
    action = turn.urls.voice("callbacks.number", step="enter", attempt=attempt if attempt > 1 else None)
    return _ask(turn, turn.flow.messages["callback_enter_number"], action, finish_on_key="#", timeout=NUMBER_TIMEOUT_S)


@bp.post("/number")
def number() -> Response:
    """Confirm the caller ID (1), key in another number (2), or choose a time later today (3)."""
    turn = make_turn(known_call(form.call_sid(request.form)))
    digits = form.digits(request.form)
    step = form.choice(request.args, "step", {"choose", "enter"})
    attempt = form.whole(request.args, "attempt", 1, low=1, high=10)
    if step == "choose":
        key, caller_number = digits[:1], _caller_number(turn)
        if key == "1" and caller_number:
            return _book(turn, caller_number, None)
        if key == "2":
            return _ask_number(turn)
        if key == "3" and caller_number:
            action = turn.urls.voice("callbacks.time_of_day", number=caller_number)
            return _ask(turn, turn.flow.messages["callback_enter_time"], action, num_digits=4)
        return _keep_waiting(turn)
    callable_number = numbers.callable_number(digits, current_app.config["DEFAULT_REGION"]) if digits else None
    if callable_number:
        return _book(turn, callable_number, None)
    if attempt > current_app.config["MAX_REPROMPTS"]:
        return _keep_waiting(turn, turn.flow.messages["callback_bad_number"])
    turn.say(turn.flow.messages["callback_bad_number"])
    return _ask_number(turn, attempt + 1)


@bp.post("/time")
def time_of_day() -> Response:
    """A scheduled callback: four digits HHMM, later today and within opening hours."""
    turn = make_turn(known_call(form.call_sid(request.form)))
    number_to_call = numbers.callable_number(request.args.get("number", ""), current_app.config["DEFAULT_REGION"])
    if number_to_call is None:
        raise CallbackError("the time step needs a callable number in its query string")
    at = _today_at(form.digits(request.form))
    policy = policy_from(current_app.config)
    if at is None or at <= utcnow() or not policy.hours.is_open(at):
        return _keep_waiting(turn, turn.flow.messages["callback_bad_time"])
    return _book(turn, number_to_call, at)


def _today_at(digits: str) -> datetime | None:
    """HHMM keyed in, as a time today in TIMEZONE."""
    if len(digits) != 4 or not digits.isdigit():
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    zone = policy_from(current_app.config).hours.zone
    return datetime.now(zone).replace(hour=hours, minute=minutes, second=0, microsecond=0)


def _book(turn: Turn, number_to_call: str, at: datetime | None) -> Response:
    """Commit the callback (and its place in line), then confirm it out loud and hang up."""
    try:
        row = service.request(turn.db, turn.sid, number_to_call, utcnow(), policy_from(current_app.config), at=at)
    except CallbackError as exc:
        log.info("callback refused for %s: %s", turn.sid, exc)
        return _keep_waiting(turn, turn.flow.messages["callback_limit"])
    when = turn.flow.text("callback_when_at", time=at.strftime("%H:%M")) if at else turn.flow.messages["callback_when_turn"]
    turn.say(turn.flow.text("callback_booked", number=spoken(number_to_call), when=when))
    turn.response.hangup()
    log.info("callback %s booked for %s (call %s)", row["id"], number_to_call, turn.sid)
    current_app.extensions["dispatcher"].kick()
    return twiml(turn.response)


# --- the callback call -------------------------------------------------------------------------


def _callback_args() -> tuple[int, str]:
    callback_id = form.whole(request.args, "callback", 0, low=1)
    agent = request.args.get("agent", "")
    if not agent or len(agent) > 80:
        raise CallbackError("agent is required in the query string")
    return callback_id, agent


@bp.post("/answer")
def answer() -> Response:
    """The customer's phone answered our callback call: a person is put through to the reserved agent."""
    sid = form.call_sid(request.form)
    callback_id, agent = _callback_args()
    db = get_db()
    row = store.get(db, callback_id)
    call, _ = calls.start_call(db, sid, caller_id=row["caller_id"], from_number=form.text(request.form, "From")[:64],
                               to_number=row["number"], direction="outbound-api", status="in-progress", language=row["language"],
                               flow="callback", parent_sid=row["call_sid"], callback_id=callback_id, queue=row["queue"])
    turn = make_turn(call)
    if form.text(request.form, "AnsweredBy").startswith("machine"):
        service.not_reached(db, callback_id, "voicemail", utcnow(), policy_from(current_app.config))
        turn.say(turn.flow.messages["callback_voicemail"])
        turn.response.hangup()
        return twiml(turn.response)
    service.answered(db, callback_id)
    turn.say(turn.flow.messages["callback_hello"])
    return twiml(queueing.connect_twiml(turn, callback_item_id(callback_id), agent, current_app.config["RING_TIMEOUT_S"]))


@bp.post("/status")
def status() -> Response:
    """The callback call ended: not reached (busy, no-answer, failed) → retry later or fail; reached → done."""
    sid = form.call_sid(request.form)
    callback_id, _agent = _callback_args()
    call_status = form.call_status(request.form)
    db = get_db()
    if calls.find_call(db, sid):
        calls.apply_status(db, sid, call_status, form.whole(request.form, "CallDuration", 0) or None)
    row = store.get(db, callback_id)
    if call_status in ("busy", "no-answer", "failed", "canceled"):
        service.not_reached(db, callback_id, call_status, utcnow(), policy_from(current_app.config))
    elif call_status == "completed" and row["status"] == "connected":
        call = calls.find_call(db, sid)
        if call and call["connected_at"]:
            service.completed(db, callback_id)
        else:
            service.not_reached(db, callback_id, "hung-up", utcnow(), policy_from(current_app.config))
    current_app.extensions["dispatcher"].kick()
    return Response(status=204)


# --- a caller with a callback pending calls in -------------------------------------------------


def pending_hook(turn: Turn) -> bool:
    """Incoming hook: tell a caller with a pending callback and let them keep or cancel it."""
    caller = calls.get_caller(turn.db, turn.call["caller_id"])
    open_callbacks = service.pending_for(turn.db, caller["number"] if caller else None)
    if not open_callbacks:
        return False
    action = turn.urls.voice("callbacks.pending", callback=open_callbacks[0]["id"])
    g = Gather(input="dtmf", num_digits=1, timeout=5, action=action)
    turn.say(turn.flow.messages["callback_pending"], g)
    turn.response.append(g)
    turn.response.redirect(action)
    return True


@bp.post("/pending")
def pending() -> Response:
    """1: keep the callback and hang up; 2: cancel it; nothing: on to the main menu."""
    turn = make_turn(known_call(form.call_sid(request.form)))
    callback_id = form.whole(request.args, "callback", 0, low=1)
    row = store.get(get_db(), callback_id)
    if row["caller_id"] != turn.call["caller_id"]:
        raise CallbackError("that callback belongs to another caller")
    key = form.digits(request.form)[:1]
    calls.add_event(turn.db, turn.sid, "callback-pending", {"callback_id": callback_id, "key": key})
    if key == "1":
        turn.say(turn.flow.messages["goodbye"])
        turn.response.hangup()
        return twiml(turn.response)
    if key == "2":
        service.cancel(turn.db, callback_id, utcnow(), reason="cancelled by the caller")
        turn.say(turn.flow.messages["callback_cancelled"])
    return twiml(engine.begin(turn))


def place_offer_handler(backend: Any) -> Any:
    """Dispatcher handler for callback offers: queue the rq job that dials the customer."""

    def handle(db: Any, offer: Any) -> None:
        backend.enqueue_place(offer.callback_id, offer.agent_id)

    return handle

