"""Transfers: an agent hands the call to a colleague or to a queue; the caller keeps their place in line and
everything they told us, and the receiving agent's screen pop says who transferred it and why.

- **Cold, to a queue**: the caller is redirected (REST) out of the Dial into ``<Enqueue>`` of the new queue, back in
  line at the place they first entered one; the redirect cuts the sender's leg (wrap-up, as after any call).
- **Cold, to an agent**: the same, but the call is offered straight to the colleague, whose phone rings as for any
  offer (``core.queue``). If they do not answer, the call rings the sender again (if they can take it) or waits at
  its place in line: the caller is never dropped.
- **Warm**: the sender's leg moves into the call's conference (``core.conference``), the caller waits on hold music
  (outside the room, or held in it when a supervisor had already opened it), and the colleague's phone is rung into
  the room (Participants API). Complete: the caller joins the room and the sender leaves. Cancel, or the colleague
  does not answer or hangs up: the colleague leaves and the caller is back with the sender.

``services.transfer`` asks the platform for these moves; the webhooks here decide what the caller and the
colleague's leg do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import conference, queue
from core.clock import iso, parse_time, seconds_since
from core.constants import TERMINAL_STATUSES
from core.ops import (
    ConsultAnswered,
    ConsultDropped,
    ConsultMissed,
    Enqueue,
    HoldCaller,
    KickRouting,
    OfferTo,
    RedirectCall,
    TransferEnded,
)
from core.turn import Turn

Row = Mapping[str, Any]

TRANSFER_MODES = ("cold", "warm")
MAX_NOTE_CHARS = 500
RETURN_GRACE_S = 15  # how long the hold loop waits for the redirect that ends it (longer than one pass of hold.wav)


def reason(transfer: Row) -> str:
    """The routing reason of a transferred call: who sent it, and their note."""
    return queue.transfer_reason(transfer["mode"], transfer["from_agent"], transfer["note"])


def context(call_context: Mapping[str, Any], transfer: Row, at: str) -> dict[str, Any]:
    """The routing item's context of a transferred call: what the caller said, who transferred it why, and when
    (its wait for the next answer starts then; its place in line is the one it first had)."""
    return {**call_context, "transfer": {"from": transfer["from_agent"], "note": transfer["note"],
                                         "mode": transfer["mode"], "from_queue": transfer["from_queue"], "at": at}}


def arrived(turn: Turn, transfer: Row | None, colleague: Row | None, sender: Row | None) -> None:
    """The caller, moved out of their agent's Dial by a cold transfer: told so, and back in line at the place they
    first entered one, in the new queue or offered straight to the colleague (whose phone rings now)."""
    call = turn.call
    if call.ended:
        turn.response.hangup()
        return
    if transfer is None or transfer["mode"] != "cold" or transfer["state"] != "ringing":  # (asked again)
        queue.wait_in_queue(turn, call["queue"])
        return
    name = transfer["to_queue"] or call["queue"]
    entered = parse_time(call["queued_at"]) or turn.now
    turn.do(Enqueue(call.sid, name, turn.language, 0, call["caller_id"],
                    context(queue.context_of(call), transfer, iso(turn.now)), entered_at=entered))
    call.set(queue=name)
    turn.say(turn.text("transferring"))
    if transfer["to_queue"]:
        turn.do(TransferEnded(transfer["id"], "completed"))
        call.log("transferred", {"queue": name, "from": transfer["from_agent"]})
        queue.wait_in_queue(turn, name)
        turn.then(KickRouting())
        return
    colleague_id = transfer["to_agent"]
    if colleague is not None and colleague["presence"] == "available":
        turn.do(OfferTo(call.sid, colleague_id, reason(transfer)))
        call.log("transferred", {"agent": colleague_id, "from": transfer["from_agent"]})
        queue.ring(turn, call.sid, colleague_id)
        return
    turn.do(TransferEnded(transfer["id"], "no-answer"))  # they took another call meanwhile
    call.log("transfer-missed", {"agent": colleague_id, "why": "no longer available"})
    if not queue.back_to_sender(turn, call.sid, transfer, sender):
        queue.wait_in_queue(turn, name)
        turn.then(KickRouting())


def on_hold(turn: Turn, transfer: Row | None) -> None:
    """The caller's hold loop during a warm transfer (``transfer``: the call's last one). Once it is over, the
    caller's redirect into the room is on its way; if it has not come within ``RETURN_GRACE_S`` it was lost, and the
    loop itself brings the caller back to their agent."""
    under_way = transfer is not None and (not transfer["ended_at"]
                                          or seconds_since(transfer["ended_at"], turn.now) < RETURN_GRACE_S)
    if turn.call.ended:
        turn.response.hangup()
    elif under_way:
        queue.hold_music(turn, first=False)
    else:
        conference.caller_enters(turn, turn.call["agent_id"])


def back_with_sender(turn: Turn, transfer: Row) -> None:
    """A warm transfer that did not complete: the caller rejoins the sender (off hold, or back into the room)."""
    if transfer["hold"] == "room":
        turn.then(HoldCaller(turn.call["conference"], turn.sid, False))
    else:
        turn.then(RedirectCall(turn.sid, turn.urls.conference_caller(turn.sid)))
    turn.call.log("transfer-back", {"agent": transfer["from_agent"], "colleague": transfer["to_agent"]})


def back_in_line(turn: Turn, transfer: Row | None, *, redirect: bool) -> None:
    """A warm transfer whose sender left before it completed: the caller is back in line at their first place
    (``redirect``: moved there from the hold music; else this answer puts them there)."""
    call = turn.call
    item_context = context(queue.context_of(call), transfer, iso(turn.now)) if transfer else queue.context_of(call)
    turn.do(Enqueue(call.sid, call["queue"], turn.language, 0, call["caller_id"], item_context,
                    entered_at=parse_time(call["queued_at"]) or turn.now))
    if redirect:
        turn.then(RedirectCall(call.sid, turn.urls.transferred(call.sid)))
    else:
        queue.wait_in_queue(turn, call["queue"])
    turn.then(KickRouting())
    call.log("transfer-back", {"queue": call["queue"], "why": "the sender left before it completed"})


def rejoin(turn: Turn, agent: Row | None, transfer: Row | None) -> None:
    """The caller, redirected from hold music back into the room: with their agent, if the agent (and the room)
    are still there; else back in line (the sender's own report that they left may come after the redirect)."""
    call = turn.call
    if call.ended:
        turn.response.hangup()
    elif call["conference"] and agent is not None and agent["presence"] == "busy" and agent["current_call_sid"] == call.sid:
        conference.caller_enters(turn, agent["id"])
    else:
        back_in_line(turn, transfer, redirect=False)


def consult_leg(turn: Turn, transfer: Row | None, agent: Row | None, agent_id: str, status: str,
                sender: Row | None) -> None:
    """Status of the colleague's leg in a warm transfer: answered (consulting), or over: never answered or hung up
    before it completed (the caller goes back to the sender, or back in line if the sender left too), or, once it
    completed, their call with the caller."""
    if transfer is None or transfer["to_agent"] != agent_id:
        return
    state = transfer["state"]
    if status == "in-progress" and state == "ringing":
        turn.do(ConsultAnswered(transfer["id"], agent_id, turn.sid))
        turn.call.log("consult-answered", {"agent": agent_id, "from": transfer["from_agent"]})
    elif status not in TERMINAL_STATUSES:
        return
    elif state in ("ringing", "consulting"):
        if state == "ringing":
            turn.do(ConsultMissed(transfer["id"], agent_id, turn.sid))
            turn.call.log("consult-missed", {"agent": agent_id, "status": status})
        else:
            turn.do(ConsultDropped(agent_id, turn.sid))
            turn.do(TransferEnded(transfer["id"], "canceled"))
            turn.call.log("consult-ended", {"agent": agent_id, "why": "the colleague's leg ended"})
        if turn.call.ended:
            return
        sender_here = sender is not None and sender["presence"] == "busy" and sender["current_call_sid"] == turn.sid
        if sender_here and turn.call["conference"]:  # (no conference: the room ended, so the sender left it)
            back_with_sender(turn, transfer)
        else:
            back_in_line(turn, transfer, redirect=True)
    elif state == "completed":
        queue.agent_left(turn, agent)
    else:  # canceled by the sender: the colleague is free again
        turn.do(ConsultDropped(agent_id, turn.sid))
