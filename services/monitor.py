"""A supervisor listens to, whispers to or barges into a live call, and leaves it (``core.conference``).

Short transactions around the platform's requests (a write lock is never held across one): the session and the
call's event are written first, then the agent's leg is moved into the call's conference (the first time) and the
supervisor's phone is rung into it; a mode change updates their participant, leave removes it.
"""

from __future__ import annotations

import logging

from core import conference
from core.clock import iso
from core.constants import CLIENT, OUTBOUND
from core.errors import Conflict, NotFound
from services.bootstrap import Services
from store import calls, monitors
from store import routing as routing_store
from telephony.exceptions import CallNotInProgress, TelephonyError

log = logging.getLogger(__name__)


def monitor(svc: Services, supervisor_id: str, sid: str, mode: str) -> dict[str, str]:
    """Carry out ``mode`` (listen | whisper | barge | leave) for ``supervisor_id`` on the live call ``sid``."""
    db = svc.store.db()
    call = calls.get_call(db, sid)
    if call is None:
        raise NotFound(f"no call {sid}")
    session = monitors.open_session(db, sid, supervisor_id)
    if mode == "leave":
        if session is None:
            raise Conflict("you are not monitoring this call")
        _leave(svc, call, supervisor_id)
        return {"mode": "leave"}
    agent = routing_store.agent(db, call["agent_id"]) if call["agent_id"] else None
    if call["direction"] == OUTBOUND:
        raise Conflict("calls agents place themselves cannot be monitored yet")
    if (call["ended_at"] or agent is None or agent["presence"] != "busy" or agent["current_call_sid"] != sid
            or not call["agent_leg"]):
        raise Conflict("nobody is talking with the caller on this call now")
    if session is not None:
        _change(svc, call, supervisor_id, session["mode"], mode)
    else:
        _join(svc, call, agent["id"], supervisor_id, mode)
    return {"mode": mode, "agent": agent["id"]}


def _log(svc: Services, sid: str, kind: str, data: dict[str, str], **session_columns: str) -> None:
    """One transaction: an event on the call, and the supervisor's session changed (if columns are given)."""
    with svc.store.unit() as unit:
        calls.amend(unit.db, sid, (kind, data))
        if session_columns:
            monitors.change(unit.db, sid, data["supervisor"], **session_columns)


def _join(svc: Services, call: dict, agent_id: str, supervisor_id: str, mode: str) -> None:
    sid, now = call["sid"], iso(svc.clock())
    first = not call["conference"]
    with svc.store.unit() as unit:
        moved = {"conference": conference.room(sid)} if first else {}
        calls.amend(unit.db, sid, ("monitor", {"supervisor": supervisor_id, "mode": mode, "agent": agent_id}), **moved)
        monitors.start(unit.db, sid, supervisor_id, mode, now)
    try:
        if first:
            svc.telephony.redirect(call["agent_leg"], svc.env.urls.conference_agent(sid))
    except TelephonyError as exc:
        _refused(svc, sid, supervisor_id, mode, exc, unmove=True)
        raise
    try:
        added = svc.telephony.add_participant(
            call["conference"] or conference.room(sid), CLIENT + supervisor_id, svc.config["CALLBACK_CALLER_ID"],
            label=supervisor_id, status_callback=svc.env.urls.monitor_leg(sid, supervisor_id),
            room_callback=svc.env.urls.conference_events(sid), room_events=conference.ROOM_EVENTS,
            timeout_s=svc.env.rules.ring_timeout_s, **conference.settings(mode, call["agent_leg"]))
    except TelephonyError as exc:
        _refused(svc, sid, supervisor_id, mode, exc, unmove=False)
        raise
    with svc.store.unit() as unit:
        monitors.change(unit.db, sid, supervisor_id, leg_sid=added.call_sid)
        calls.room_sid_learned(unit.db, sid, added.conference_sid)
    log.info("%s %ss on %s (agent %s)", supervisor_id, mode, sid, agent_id)


def _refused(svc: Services, sid: str, supervisor_id: str, mode: str, exc: TelephonyError, *, unmove: bool) -> None:
    """The platform refused: the session ends; if the agent's leg did not move, the call is not moving either."""
    log.warning("%s could not %s on %s: %s", supervisor_id, mode, sid, exc)
    with svc.store.unit() as unit:
        monitors.end(unit.db, sid, supervisor_id, iso(svc.clock()))
        if unmove:
            calls.amend(unit.db, sid, conference=None)


def _change(svc: Services, call: dict, supervisor_id: str, before: str, mode: str) -> None:
    if before != mode:
        svc.telephony.update_participant(call["conference"], supervisor_id, **conference.settings(mode, call["agent_leg"]))
    _log(svc, call["sid"], "monitor", {"supervisor": supervisor_id, "mode": mode, "before": before}, mode=mode)


def _leave(svc: Services, call: dict, supervisor_id: str) -> None:
    try:
        svc.telephony.remove_participant(call["conference"], supervisor_id)
    except CallNotInProgress:
        log.info("%s left %s, whose conference had no such participant any more", supervisor_id, call["sid"])
    with svc.store.unit() as unit:
        monitors.end(unit.db, call["sid"], supervisor_id, iso(svc.clock()))
        calls.amend(unit.db, call["sid"], ("monitor", {"supervisor": supervisor_id, "mode": "leave"}))
