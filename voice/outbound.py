"""Click-to-call webhooks: the agent answered the call they placed (dial the customer), and how the Dial went.

The call's status callback is the ordinary ``/voice/status``: it frees an agent who never answered (``core.outbound``).
"""

from __future__ import annotations

import sqlite_utils
from flask import Blueprint, Response, request

from core import calls as lifecycle
from core import outbound
from core.constants import DIAL_STATUSES
from core.errors import BadRequest
from core.numbers import normalize
from core.ops import NewCaller
from core.turn import Turn
from store import routing as routing_store
from store.exceptions import StoreUnavailable
from voice import form
from voice.journaled import arrived, kept_report
from voice.signature import verify
from voice.views import agent_arg, known_call, load_call, make_turn, respond
from web.context import services

bp = Blueprint("outbound", __name__, url_prefix="/voice/outbound")
bp.before_request(verify)
bp.register_error_handler(StoreUnavailable, kept_report)


@bp.post("/connect")
def connect() -> Response:
    """The agent answered their phone for the call they placed: dial the customer (the row is made here if the
    platform asked before the API stored it)."""
    svc, params = services(), form.params()
    sid, agent_id = form.call_sid(params), agent_arg()
    number = normalize(request.args.get("to", ""))
    if number is None:
        raise BadRequest("to must be the customer's number in E.164 form")
    caller_id = svc.config["CALLBACK_CALLER_ID"]

    def decide(db: sqlite_utils.Database) -> Turn:
        agent = routing_store.agent(db, agent_id)
        call = load_call(db, sid)
        if call is None:
            call = lifecycle.placed_by_agent(sid, arrived(svc), agent_id=agent_id, number=number, caller_id=caller_id,
                                             queue=agent["current_queue"] if agent else None)
        turn = make_turn(svc, call, db)
        if call["caller_id"] is None:
            turn.do(NewCaller(number))
        outbound.agent_answered(turn, agent, agent_id, number, caller_id)
        return turn

    return respond(svc, decide)


@bp.post("/result")
def result() -> Response:
    """The Dial to the customer ended: reached and talked, or busy, not answered, failed."""
    svc, params = services(), form.params()
    sid, agent_id = form.call_sid(params), agent_arg()
    dial_status = form.choice(params, "DialCallStatus", DIAL_STATUSES)
    duration = form.whole(params, "DialCallDuration", 0)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        outbound.dial_ended(turn, routing_store.agent(db, agent_id), dial_status, duration)
        return turn

    return respond(svc, decide)
