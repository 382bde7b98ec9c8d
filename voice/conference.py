"""Conference webhooks (``core.conference``): the agent's leg and the caller entering the call's conference, the
room's end, its status callback, and supervisors' legs into it."""

from __future__ import annotations

import sqlite_utils
from flask import Blueprint, Response, request

from core import conference, transfer
from core.constants import TERMINAL_STATUSES
from core.turn import Turn
from store import monitors, transfers
from store import routing as routing_store
from store.exceptions import StoreUnavailable
from voice import form
from voice.journaled import kept_report
from voice.signature import verify
from voice.views import agent_arg, known_call, make_turn, no_content, respond
from web.context import services

bp = Blueprint("conference", __name__, url_prefix="/voice/conference")
bp.before_request(verify)
bp.register_error_handler(StoreUnavailable, kept_report)

ROOM_EVENTS = frozenset({"conference-start", "conference-end", "participant-join", "participant-leave",
                         "participant-mute", "participant-unmute", "participant-hold", "participant-unhold",
                         "participant-modify", "participant-speech-start", "participant-speech-stop",
                         "announcement-end", "announcement-fail"})


def call_arg() -> str:
    """The caller's call a conference webhook is about (``?call=…``)."""
    return form.call_sid(request.args, "call")


@bp.post("/agent")
def agent() -> Response:
    """The agent's leg, redirected out of its Dial: into the call's conference."""
    svc, params = services(), form.params()
    leg, sid = form.call_sid(params), call_arg()

    def decide(db: sqlite_utils.Database) -> Turn:
        call = known_call(db, sid)
        turn = make_turn(svc, call, db)
        conference.agent_enters(turn, routing_store.agent(db, call["agent_id"]) if call["agent_id"] else None, leg)
        return turn

    return respond(svc, decide, sid=sid)


@bp.post("/caller")
def caller() -> Response:
    """The caller, redirected from hold music back into the call's conference (a warm transfer ended)."""
    svc = services()
    sid = form.call_sid(form.params())

    def decide(db: sqlite_utils.Database) -> Turn:
        call = known_call(db, sid)
        turn = make_turn(svc, call, db)
        agent = routing_store.agent(db, call["agent_id"]) if call["agent_id"] else None
        transfer.rejoin(turn, agent, transfers.latest(db, sid))
        return turn

    return respond(svc, decide)


@bp.post("/result")
def result() -> Response:
    """The caller's conference Dial ended: the room ended (the agent left) or the caller hung up."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    call_status = form.optional(params, "CallStatus", form.CALL_STATUSES)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        conference.room_ended(turn, call_status)
        return turn

    return respond(svc, decide)


@bp.post("/events")
def events() -> Response:
    """The conference's status callback: who joined, left, was muted, held or made a coach."""
    svc, params = services(), form.params()
    sid = call_arg()
    event = form.choice(params, "StatusCallbackEvent", ROOM_EVENTS)
    conference_sid = params.get("ConferenceSid", "")[:64]
    member = form.optional_sid(params, "CallSid")

    def decide(db: sqlite_utils.Database) -> Turn:
        call = known_call(db, sid)
        turn = make_turn(svc, call, db)
        legs = {s["leg_sid"]: s["supervisor_id"] for s in monitors.on_call(db, sid) if s["leg_sid"]}
        role = None if member is None else "caller" if member == sid else "agent" if member == call["agent_leg"] \
            else f"supervisor {legs[member]}" if member in legs else params.get("ParticipantLabel", "")[:64] or "other"
        conference.room_event(turn, event, conference_sid, role, params)
        return turn

    return respond(svc, decide, sid=sid, answer=no_content)


@bp.post("/monitor")
def monitor_leg() -> Response:
    """Status callbacks of a supervisor's leg into the call's conference: answered, or over."""
    svc, params = services(), form.params()
    form.call_sid(params)
    sid, supervisor = call_arg(), agent_arg("supervisor")
    status = form.call_status(params)
    if status not in TERMINAL_STATUSES and status != "in-progress":
        return Response(status=204)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        conference.monitor_leg(turn, supervisor, status, monitors.open_session(db, sid, supervisor))
        return turn

    return respond(svc, decide, sid=sid, answer=no_content)
