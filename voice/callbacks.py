"""Callback webhooks: the offer while waiting, the number and time, the reminder of a pending callback, and the
callback call itself (answered, then its outcome)."""

from __future__ import annotations

import logging

import sqlite_utils
from flask import Blueprint, Response, request

from callbacks import service as callbacks
from core import callback, callback_call
from core import calls as lifecycle
from core.callback_call import CONFIRM_STEP
from core.constants import ANSWERED_BY
from core.errors import BadRequest
from core.numbers import callable_number
from core.queue import HOLD_MUSIC
from core.turn import Turn
from routing.service import callback_item_id
from store import callbacks as store
from store import calls
from store import routing as routing_store
from store.exceptions import StoreUnavailable
from voice import form
from voice.journaled import arrived, keep, kept_report, replay_id, waiting_in_journal
from voice.signature import verify
from voice.views import agent_arg, caller_number, known_call, load_call, make_turn, respond
from web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("callbacks", __name__, url_prefix="/voice/callback")
bp.register_error_handler(StoreUnavailable, kept_report)
bp.before_request(verify)


def hold_music() -> str:
    return services().env.urls.static(HOLD_MUSIC)


@bp.post("/offer")
def offer() -> Response:
    """The caller answered the offer (in the queue's wait music): 1 → confirm the number or pick a time."""
    svc, params = services(), form.params()
    sid, key = form.call_sid(params), form.digits(params)[:1]

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        callback.offer_answered(turn, key, caller_number(db, turn.call, svc.env.rules.default_region), hold_music())
        return turn

    return respond(svc, decide)


@bp.post("/number")
def number() -> Response:
    """Confirm the caller ID (1), key in another number (2), or choose a time later today (3)."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    step = form.choice(request.args, "step", {"choose", "enter"})
    attempt = form.whole(request.args, "attempt", 1, low=1, high=10)
    digits = form.digits(params)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        own = caller_number(db, turn.call, svc.env.rules.default_region)
        chosen = own if step == "choose" else callable_number(digits, svc.env.rules.default_region) if digits else None
        callback.number_chosen(turn, step, digits, attempt, own, hold_music(), len(callbacks.pending_for(db, chosen)),
                               routing_store.item(db, sid) is not None)
        return turn

    return respond(svc, decide)


@bp.post("/time")
def time_of_day() -> Response:
    """A scheduled callback: four digits HHMM, later today and within opening hours."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    chosen = callable_number(request.args.get("number", ""), svc.env.rules.default_region)
    if chosen is None:
        raise BadRequest("the time step needs a callable number in its query string")
    digits = form.digits(params)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        callback.time_chosen(turn, chosen, digits, hold_music(), len(callbacks.pending_for(db, chosen)),
                             routing_store.item(db, sid) is not None)
        return turn

    return respond(svc, decide)


@bp.post("/pending")
def pending() -> Response:
    """A caller with a pending callback: 1 keeps it and hangs up, 2 cancels it; nothing: on to the main menu."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    callback_id = form.whole(request.args, "callback", 0, low=1)
    key = form.digits(params)[:1]

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        row = store.get(db, callback_id)
        if row["caller_id"] != turn.call["caller_id"]:
            raise BadRequest("that callback belongs to another caller")
        callback.pending_answered(turn, row, key)
        return turn

    return respond(svc, decide)


def callback_args() -> tuple[int, str]:
    return form.whole(request.args, "callback", 0, low=1), agent_arg()


@bp.post("/answer")
def answer() -> Response:
    """Our callback call was answered (Twilio asks after answering-machine detection)."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    callback_id, agent = callback_args()
    answered_by = form.optional(params, "AnsweredBy", ANSWERED_BY)
    step = form.optional(request.args, "step", {CONFIRM_STEP})
    pressed = form.digits(params)[:1] if step else None

    def decide(db: sqlite_utils.Database) -> Turn:
        row = store.get(db, callback_id)
        call = load_call(db, sid) or lifecycle.new(
            sid, arrived(svc), caller_id=row["caller_id"], from_number=form.text(params, "From")[:64],
            to_number=row["number"], direction="outbound-api", status="in-progress", language=row["language"],
            flow="callback", parent_sid=row["call_sid"], callback_id=callback_id, queue=row["queue"])
        turn = make_turn(svc, call, db)
        callback_call.answered(turn, row, agent, answered_by, routing_store.item(db, callback_item_id(callback_id)), pressed)
        return turn

    return respond(svc, decide)


@bp.post("/status")
def status() -> Response:
    """The callback call ended: its own record, then the callback's outcome (retry, failed, done)."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    callback_id, _agent = callback_args()
    call_status = form.call_status(params)
    duration = form.whole(params, "CallDuration", 0) or None
    now = arrived(svc)
    if waiting_in_journal(svc, sid):
        keep(svc, sid)
        return Response(status=204)
    with svc.store.unit() as unit:
        if calls.status_seen(unit.db, sid, call_status) or not unit.first_replay(replay_id()):
            return Response(status=204)
        row = store.get(unit.db, callback_id)
        call = calls.load(unit.db, sid)
        if call is not None:
            turn = make_turn(svc, call, unit.db, now)
            lifecycle.status(turn, call_status, duration, routing_store.item(unit.db, sid),
                             routing_store.agent_on_call(unit.db, sid))
            unit.apply(turn)
        else:
            unit.carry_out([lifecycle.record_status(sid, call_status, duration)], now)
        unit.carry_out(callback_call.ended(row, call_status, bool(call and call["connected_at"])), now)
    svc.ticker.kick()
    return Response(status=204)
