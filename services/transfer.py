"""Transfers from the agent's page (``core.transfer``): start one, complete or cancel a warm one.

Each is a short transaction (the transfer row, the call's event, a colleague reserved), then the platform's
requests; a refused request ends the transfer and leaves the call as it was, never the caller dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from core import conference
from core.clock import iso
from core.constants import CLIENT, OUTBOUND
from core.errors import BadRequest, Conflict, NotFound
from core.transfer import reason
from routing import service as routing
from services.bootstrap import Services
from store import calls, transfers
from store import routing as routing_store
from telephony.exceptions import CallNotInProgress, TelephonyError

log = logging.getLogger(__name__)

Row = dict[str, Any]


def start(svc: Services, agent_id: str, sid: str, *, to_queue: str | None, to_agent: str | None, mode: str,
          note: str) -> Row:
    """``agent_id`` transfers the call they are talking on, cold or warm, to a queue or a colleague."""
    db = svc.store.db()
    call = _talking(svc, agent_id, sid)
    if transfers.open_for(db, sid):
        raise Conflict("a transfer of this call is under way: complete or cancel it first")
    if to_queue is not None and mode == "warm":
        to_agent = _free_colleague(svc, to_queue, agent_id)
        to_queue = None
    elif to_queue is not None and to_queue not in {q["name"] for q in routing_store.queues(db)}:
        raise BadRequest(f"no queue {to_queue!r}")
    if to_agent is not None:
        colleague = routing_store.agent(db, to_agent)
        if colleague is None or colleague["role"] != "agent" or to_agent == agent_id:
            raise BadRequest(f"{to_agent!r} is not a colleague you can transfer to")
        if colleague["presence"] != "available":
            raise Conflict(f"{colleague['name']} is {colleague['presence']}: transfer to an available colleague, or to a queue")
    row = {"call_sid": sid, "from_agent": agent_id, "to_agent": to_agent, "to_queue": to_queue, "mode": mode,
           "from_queue": call["queue"], "note": note, "state": "ringing", "created_at": iso(svc.clock())}
    if mode == "cold":
        return _cold(svc, call, row)
    return _warm(svc, call, row)


def _talking(svc: Services, agent_id: str, sid: str) -> Row:
    call = calls.get_call(svc.store.db(), sid)
    if call is None:
        raise NotFound(f"no call {sid}")
    agent = routing_store.agent(svc.store.db(), agent_id)
    if call["ended_at"] or agent["presence"] != "busy" or agent["current_call_sid"] != sid or call["agent_id"] != agent_id:
        raise Conflict("you are not talking on this call")
    if call["direction"] == OUTBOUND:
        raise Conflict("a call you placed yourself cannot be transferred (its customer is on your phone's own leg)")
    return call


def _free_colleague(svc: Services, queue: str, agent_id: str) -> str:
    """A warm transfer to a queue consults the colleague who has been free longest among those who serve it."""
    found = [colleague for colleague in routing.free_for_queue(svc.store.db(), queue) if colleague != agent_id]
    if not found:
        raise Conflict(f"nobody who serves {queue} is free to talk now: transfer cold to keep the caller's place")
    return found[0]


def _record(svc: Services, row: Row, kind: str, **call_columns: Any) -> int:
    """The transfer row and the call's event (and call columns) in one transaction; the transfer's id."""
    with svc.store.unit() as unit:
        transfer_id = transfers.start(unit.db, **row)
        calls.amend(unit.db, row["call_sid"], (kind, {k: row[k] for k in ("mode", "from_agent", "to_agent", "to_queue", "note")}),
                    **call_columns)
        if row["mode"] == "warm":
            routing.reserve_for_consult(unit.db, row["to_agent"], row["call_sid"], svc.clock())
    return transfer_id


def _failed(svc: Services, transfer_id: int, row: Row, exc: TelephonyError, **call_columns: Any) -> None:
    """The platform refused: the transfer ends as failed, the colleague is free, the call as it was."""
    log.warning("transfer of %s by %s failed: %s", row["call_sid"], row["from_agent"], exc)
    with svc.store.unit() as unit:
        transfers.change(unit.db, transfer_id, state="failed", ended_at=iso(svc.clock()))
        if row["mode"] == "warm":
            routing.consult_dropped(unit.db, row["to_agent"], row["call_sid"], svc.clock())
        if call_columns:
            calls.amend(unit.db, row["call_sid"], **call_columns)


def _cold(svc: Services, call: Row, row: Row) -> Row:
    """The caller is redirected out of the Dial: back in line, or ringing the colleague (``core.transfer.arrived``)."""
    transfer_id = _record(svc, row, "transfer")
    try:
        svc.telephony.redirect(call["sid"], svc.env.urls.transferred(call["sid"]))
    except TelephonyError as exc:
        _failed(svc, transfer_id, row, exc)
        raise
    log.info("%s transferred %s cold to %s", row["from_agent"], call["sid"], row["to_queue"] or row["to_agent"])
    return {**row, "id": transfer_id}


def _warm(svc: Services, call: Row, row: Row) -> Row:
    """The sender's leg moves into the room (or the caller, already in it, is held); the colleague is rung in."""
    sid, in_room = call["sid"], bool(call["conference"])
    row["hold"] = "room" if in_room else "music"
    transfer_id = _record(svc, row, "transfer", **({} if in_room else {"conference": conference.room(sid)}))
    undo = {} if in_room else {"conference": None}
    try:
        if in_room:
            svc.telephony.update_participant(call["conference"], sid, hold=True,
                                             hold_url=svc.env.urls.static("hold.wav"))
        else:
            svc.telephony.redirect(call["agent_leg"], svc.env.urls.conference_agent(sid))
    except TelephonyError as exc:
        _failed(svc, transfer_id, row, exc, **undo)
        raise
    try:
        added = svc.telephony.add_participant(
            call["conference"] or conference.room(sid), CLIENT + row["to_agent"], svc.config["CALLBACK_CALLER_ID"],
            label=row["to_agent"], status_callback=svc.env.urls.consult_leg(sid, row["to_agent"]),
            room_callback=svc.env.urls.conference_events(sid), room_events=conference.ROOM_EVENTS,
            timeout_s=svc.env.rules.ring_timeout_s, muted=False, coaching=False, call_sid_to_coach=None)
    except TelephonyError as exc:
        _failed(svc, transfer_id, row, exc)
        if in_room:  # (from the hold music, the caller's hold loop brings them back by itself)
            _caller_back(svc, call, row)
        raise
    with svc.store.unit() as unit:
        transfers.change(unit.db, transfer_id, leg_sid=added.call_sid)
        calls.room_sid_learned(unit.db, sid, added.conference_sid)
    log.info("%s consults %s on %s", row["from_agent"], row["to_agent"], sid)
    return {**row, "id": transfer_id}


def complete(svc: Services, agent_id: str, sid: str) -> Row:
    """The sender hands the caller to the colleague they consulted, and leaves."""
    call = _talking(svc, agent_id, sid)
    transfer = _open_warm(svc, sid, agent_id)
    if transfer["state"] != "consulting":
        raise Conflict(f"{transfer['to_agent']} has not answered yet: wait, or cancel")
    room = call["conference"]
    try:  # the room first: refused, the transfer is still under way and nothing is written
        svc.telephony.update_participant(room, transfer["leg_sid"], end_conference_on_exit=True)
        svc.telephony.update_participant(room, call["agent_leg"], end_conference_on_exit=False)
    except CallNotInProgress as exc:
        log.info("completing the transfer of %s: %s", sid, exc)
    _caller_back(svc, call, transfer)
    now = svc.clock()
    with svc.store.unit() as unit:
        transfers.change(unit.db, transfer["id"], state="completed", ended_at=iso(now))
        routing.consult_taken(unit.db, transfer["to_agent"], call["queue"], now)
        calls.amend(unit.db, sid, ("transfer-completed", {"from_agent": agent_id, "to_agent": transfer["to_agent"]}),
                    agent_id=transfer["to_agent"], agent_leg=transfer["leg_sid"], routing_reason=reason(transfer))
    try:
        svc.telephony.remove_participant(room, call["agent_leg"])
    except TelephonyError as exc:  # (their leg's end, when they hang up, is reported as usual)
        log.warning("the sender of %s stays in the room until they hang up: %s", sid, exc)
    return {**transfer, "state": "completed"}


def cancel(svc: Services, agent_id: str, sid: str) -> Row:
    """The sender takes the caller back: the colleague leaves (or stops ringing), the caller is off hold."""
    call = _talking(svc, agent_id, sid)
    transfer = _open_warm(svc, sid, agent_id)
    with svc.store.unit() as unit:
        transfers.change(unit.db, transfer["id"], state="canceled", ended_at=iso(svc.clock()))
        calls.amend(unit.db, sid, ("transfer-canceled", {"from_agent": agent_id, "to_agent": transfer["to_agent"]}))
    try:
        if transfer["leg_sid"]:
            svc.telephony.remove_participant(call["conference"], transfer["leg_sid"])
    except CallNotInProgress:
        log.info("%s's leg on %s had ended already", transfer["to_agent"], sid)
    _caller_back(svc, call, transfer)
    return {**transfer, "state": "canceled"}


def _open_warm(svc: Services, sid: str, agent_id: str) -> Row:
    transfer = transfers.open_for(svc.store.db(), sid)
    if transfer is None or transfer["mode"] != "warm" or transfer["from_agent"] != agent_id:
        raise Conflict("no warm transfer of yours is under way on this call")
    return transfer


def _caller_back(svc: Services, call: Row, transfer: Row) -> None:
    """The caller off hold: back into the room (from the hold music), or unheld in it."""
    try:
        if transfer["hold"] == "room":
            svc.telephony.update_participant(call["conference"] or conference.room(call["sid"]), call["sid"], hold=False)
        else:
            svc.telephony.redirect(call["sid"], svc.env.urls.conference_caller(call["sid"]))
    except CallNotInProgress as exc:
        log.info("the caller of %s is gone: %s", call["sid"], exc)
