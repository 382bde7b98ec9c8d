"""The ends of a call's life: it arrives, its IVR turns, Twilio's status reports, and how it ended.

The IVR turns themselves are the flow engine's (``Flows``); a queue node hands over to ``core.queue``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core import callback, conference, outbound, queue
from core.clock import iso, seconds_between
from core.constants import DISPOSITIONS, MAX_NOTES_CHARS, OUTBOUND, TERMINAL_STATUSES
from core.errors import BadRequest
from core.model import Call, Input
from core.ops import EndConference, RecordStatus, TransferEnded
from core.turn import Turn

log = logging.getLogger(__name__)

COLUMNS = ("sid", "caller_id", "from_number", "to_number", "direction", "status", "language", "flow", "node", "path",
           "digits", "speech", "intent", "confidence", "queue", "agent_id", "outcome", "disposition", "notes",
           "started_at", "answered_at", "queued_at", "connected_at", "ended_at", "wait_s", "talk_s", "parent_sid",
           "callback_id", "routing_reason", "transcript", "agent_leg", "conference", "version")

Row = Mapping[str, Any]


def new(sid: str, now: datetime, **columns: Any) -> Call:
    """A call Twilio just told us about (inbound, or a callback we placed), with its "started" event."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(path=[], digits=[], speech=[], version=0, **columns, sid=sid, started_at=iso(now))
    call = Call(row, new=True)
    call.log("started", {k: v for k, v in columns.items() if v is not None})
    return call


def placed_by_agent(sid: str, now: datetime, *, agent_id: str, number: str, caller_id: str, queue: str | None) -> Call:
    """The row of a call an agent placed to ``number`` from our ``caller_id`` (click-to-call, ``core.outbound``)."""
    return new(sid, now, direction=OUTBOUND, from_number=caller_id, to_number=number, agent_id=agent_id, queue=queue)


def incoming(turn: Turn, pending: Row | None) -> None:
    """A call arrives (or Twilio asks again): the flow starts, after the reminder of a pending callback."""
    if turn.call.ended:
        turn.response.hangup()
    elif pending is not None:
        callback.pending_reminder(turn, pending)
    else:
        turn.env.flows.begin(turn)


def step(turn: Turn, node: str, inp: Input, attempt: int, confirming: str | None) -> None:
    """The caller's input at a node; a late or replayed step of a finished call changes nothing."""
    if turn.call.ended:
        log.info("step %s for call %s, which has ended: ignored", node, turn.sid)
        turn.response.hangup()
        return
    turn.env.flows.advance(turn, node, inp, attempt, confirming)


def status(turn: Turn, status: str, duration_s: int | None, item: Row | None, agent: Row | None,
           transfer: Row | None = None) -> None:
    """A status callback, applied once (the view skips a repeated one): times, outcome, and when the call
    ended the queue item leaves, an agent still on it is freed, and a warm transfer under way (the caller on hold
    music, their agents talking in the call's conference) ends with the room."""
    call, at = turn.call, iso(turn.now)
    turn.do(RecordStatus(call.sid, status, duration_s))
    call.log("status", {"status": status, "duration_s": duration_s})
    call.set(status=status)
    if status == "in-progress":
        call.fill(answered_at=at)
    if status not in TERMINAL_STATUSES or call["ended_at"]:
        return
    call.set(ended_at=at)
    if call["connected_at"] and call["talk_s"] is None:
        call.set(talk_s=seconds_between(call["connected_at"], at))
    elif call["queued_at"] and call["wait_s"] is None:
        call.set(wait_s=seconds_between(call["queued_at"], at))
    if call["direction"] == OUTBOUND:
        outbound.ended(turn, agent)
    else:
        queue.agent_left(turn, agent)
    call.fill(outcome=outcome_when_ended(call, status))
    queue.gone(turn, item)
    if transfer is not None and transfer["mode"] == "warm" and transfer["hold"] == "music" and not transfer["ended_at"]:
        turn.do(TransferEnded(transfer["id"], "canceled"))
        call.log("transfer-ended", {"why": "the caller hung up on hold", "to_agent": transfer["to_agent"]})
        turn.then(EndConference(call["conference"] or conference.room(call.sid)))


def outcome_when_ended(call: Call, status: str) -> str:
    """Why the call ended, when nothing else said so."""
    if status != "completed":
        return status
    if call["direction"] == OUTBOUND:  # placed by an agent: the Dial's action, which says how it went, was lost
        return "completed"
    if call["connected_at"]:  # the Dial's action, which says so, was lost
        return "answered"
    if call["queued_at"]:
        return "abandoned"
    return "hung-up-in-ivr"


def wrapup(call: Call, notes: str | None, disposition: str | None) -> None:
    """The agent's notes and disposition, kept on the call (and its event log)."""
    if disposition is not None and disposition not in DISPOSITIONS:
        raise BadRequest(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    if notes is not None and len(notes) > MAX_NOTES_CHARS:
        raise BadRequest(f"notes are limited to {MAX_NOTES_CHARS} characters")
    fields = {k: v for k, v in (("notes", notes), ("disposition", disposition)) if v is not None}
    if not fields:
        raise BadRequest("give notes or a disposition")
    call.set(**fields)
    call.log("wrapup", fields)


def record_status(sid: str, status: str, duration_s: int | None) -> RecordStatus:
    """A status for a call we have no row of (yet): kept, so the report is not lost."""
    log.info("status %s for call %s, which has no row (yet), kept", status, sid)
    return RecordStatus(sid, status, duration_s)
