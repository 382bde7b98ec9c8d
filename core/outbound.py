"""Click-to-call: an agent calls a customer out, agent first.

The agent asks for the call (``POST /api/calls/outbound``) while available; routing reserves them and the platform
rings their softphone (a REST call to ``client:<agent>``). When they answer, the call's TwiML dials the customer
with our caller ID; the Dial's action says whether the customer was reached and for how long they talked. The call
is a call row like any other (direction ``outbound-agent``): outcome, notes and disposition, the agent's figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from twilio.twiml.voice_response import Dial

from core.clock import iso
from core.ops import AgentDone, KickRouting, OutboundAnswered, OutboundMissed
from core.turn import Turn

Row = Mapping[str, Any]

AGENT_MISSED = "agent-missed"  # the outcome of a call whose agent did not answer their own phone
REACHED = frozenset({"completed", "answered"})


def reserved_for(agent: Row | None, call_sid: str | None) -> bool:
    """Is ``agent`` reserved for the call they placed (whose SID may not be stored on them yet)?"""
    return (agent is not None and agent["presence"] == "reserved" and not agent["current_item"]
            and agent["current_call_sid"] in (None, call_sid))


def on_it(agent: Row | None, call_sid: str) -> bool:
    """Is ``agent`` busy on ``call_sid``?"""
    return agent is not None and agent["presence"] == "busy" and agent["current_call_sid"] == call_sid


def agent_answered(turn: Turn, agent: Row | None, agent_id: str, number: str, caller_id: str) -> None:
    """The agent answered their phone: busy on the call; the customer is dialled with our caller ID."""
    if not reserved_for(agent, turn.sid) or turn.call.ended:
        turn.call.log("outbound-dropped", {"agent": agent_id, "why": "the agent is no longer reserved for it"})
        turn.response.hangup()
        return
    turn.do(OutboundAnswered(agent_id, turn.sid))
    turn.call.log("agent-answered", {"agent": agent_id})
    dial = Dial(caller_id=caller_id, action=turn.urls.outbound_result(agent_id), timeout=turn.rules.ring_timeout_s)
    dial.number(number)
    turn.response.append(dial)


def dial_ended(turn: Turn, agent: Row | None, dial_status: str, duration_s: int) -> None:
    """The Dial to the customer ended: reached (talked ``duration_s``) or not (busy, no answer, failed)."""
    call = turn.call
    if dial_status in REACHED:
        call.set(connected_at=iso(turn.now - timedelta(seconds=duration_s)), talk_s=duration_s, outcome="answered")
    else:
        call.set(outcome=dial_status)
    call.log("dial-result", {"status": dial_status, "duration_s": duration_s})
    if on_it(agent, call.sid):
        turn.do(AgentDone(agent["id"]))
        turn.then(KickRouting())
    turn.response.hangup()


def ended(turn: Turn, agent: Row | None) -> None:
    """The call is over (its status callback): an agent who never answered is available again, one still on it
    (the Dial's action was lost) wraps up."""
    if reserved_for(agent, turn.sid):
        turn.do(OutboundMissed(agent["id"], turn.sid))
        turn.call.fill(outcome=AGENT_MISSED)
    elif on_it(agent, turn.sid):
        turn.do(AgentDone(agent["id"]))
    else:
        return
    turn.then(KickRouting())
