"""A call's conference: the agent's bridge moved into a room that a supervisor can join.

A call is bridged by ``<Dial><Client>`` (``core.queue``): that is what rings, times out and reports the agent's
answer. When a third party is to join, the agent's leg is redirected (REST) into the conference ``call-<sid>``;
the caller's Dial then ends (its action, ``/voice/connect/result``) and the caller's TwiML puts them in the same
room. Both have ``endConferenceOnExit``: when either hangs up the room ends and the other leaves it. The caller's
conference Dial action (``/voice/conference/result``) goes on to the survey; the agent's leg, still a child of the
caller's call, reports its end to its ``<Client statusCallback>`` as before (wrap-up, talk time). The caller hears
a moment of silence while the legs move; a call nobody joins never pays for a conference.

Supervisors join with the Participants API (their phone rings; ``services.monitor``): listen (muted), whisper
(coaching the agent's leg: only the agent hears them), barge (everyone hears them). A change of mode is an update of
their participant, leave removes it. The room's status callback and the supervisor's leg's status callback keep
the call's events and the monitoring sessions right.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.twiml.voice_response import Dial

from core.constants import TERMINAL_STATUSES
from core.model import Call
from core.ops import MonitorEnded, MonitorJoined
from core.turn import Turn

Row = Mapping[str, Any]

MONITOR_MODES = ("listen", "whisper", "barge", "leave")
HEARD_BY_AGENT = frozenset({"whisper", "barge"})  # the agent is told a supervisor is on the line only in these
ROOM_EVENTS = "start end join leave mute hold modify"


def room(call_sid: str) -> str:
    """The friendly name of a call's conference."""
    return f"call-{call_sid}"


def settings(mode: str, agent_leg: str) -> dict[str, Any]:
    """A supervisor participant's settings for ``mode``: listen muted, whisper coaching the agent, barge neither."""
    return {"muted": mode == "listen", "coaching": mode == "whisper",
            "call_sid_to_coach": agent_leg if mode == "whisper" else None}


def _enter(turn: Turn, *, action: str | None) -> None:
    dial = Dial(action=action) if action else Dial()
    dial.conference(room(turn.sid), beep=False, start_conference_on_enter=True, end_conference_on_exit=True,
                    status_callback=turn.urls.conference_events(turn.sid), status_callback_event=ROOM_EVENTS,
                    status_callback_method="POST")
    turn.response.append(dial)


def moving(call: Row) -> bool:
    """Is the call's bridge (being) moved into its conference?"""
    return bool(call["conference"])


def caller_enters(turn: Turn, agent_id: str) -> None:
    """The agent's leg left the Dial for the conference: the caller follows it in."""
    turn.call.log("conference-entered", {"agent": agent_id, "who": "caller"})
    _enter(turn, action=turn.urls.conference_result(turn.sid))


def agent_enters(turn: Turn, agent: Row | None, leg_sid: str) -> None:
    """The agent's redirected leg asks for its TwiML: into the room (hung up if the call is over meanwhile)."""
    if turn.call.ended or agent is None or agent["current_call_sid"] != turn.sid:
        turn.call.log("conference-refused", {"leg": leg_sid, "why": "the call or the agent's part in it is over"})
        turn.response.hangup()
        return
    turn.call.log("conference-entered", {"agent": agent["id"], "who": "agent"})
    _enter(turn, action=None)
    turn.response.hangup()


def room_ended(turn: Turn, call_status: str | None) -> None:
    """The caller's conference Dial ended (the agent left, so the room ended): survey or goodbye."""
    call = turn.call
    call.set(outcome="answered", conference=None)  # (a later bridge of this call is a plain Dial again)
    call.log("agent-call-ended", {"agent": call["agent_id"], "bridge": "conference"})
    if call_status in TERMINAL_STATUSES or not turn.env.flows.survey(turn):
        turn.hang_up("goodbye")


def sid_learned(call: Call, conference_sid: str | None) -> None:
    """The room's SID replaces its friendly name on the call (participant updates and removals name it by SID); a room
    that has ended (no conference on the call) is never brought back by a late report."""
    if conference_sid and call["conference"] == room(call.sid):
        call.set(conference=conference_sid)


def room_event(turn: Turn, event: str, conference_sid: str, role: str | None, params: Mapping[str, str]) -> None:
    """The conference's status callback: its SID is kept while the room lasts, and each event logged with it."""
    call = turn.call
    if event == "conference-end":
        call.set(conference=None)
    else:
        sid_learned(call, conference_sid)
    data = {"event": event, "who": role, "conference": conference_sid}
    data.update({k.lower(): params[k] for k in ("Muted", "Hold", "Coaching") if k in params})
    call.log("conference", data)


def monitor_leg(turn: Turn, supervisor_id: str, status: str, session: Row | None) -> None:
    """Status of a supervisor's leg: answered (in the room), or over (the session ends, if leaving did not end it)."""
    if status == "in-progress" and session is not None:
        turn.do(MonitorJoined(turn.sid, supervisor_id))
        turn.call.log("monitor-joined", {"supervisor": supervisor_id, "mode": session["mode"]})
    elif status in TERMINAL_STATUSES:
        if session is not None:
            turn.do(MonitorEnded(turn.sid, supervisor_id))
        turn.call.log("monitor-ended", {"supervisor": supervisor_id, "status": status})
