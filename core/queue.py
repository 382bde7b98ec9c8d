"""The queue part of a call's life: waiting, being offered to an agent, ringing, talking, and leaving.

The caller waits in ``<Enqueue waitUrl=…>``: position and estimated wait every ~30 s, hold music, and
above the callback threshold the offer of a callback that keeps their place. When routing reserves an
agent (``offered``) the caller's live call is redirected (REST update) to ``<Dial><Client>``; we chose
this over ``<Dial><Queue>`` from the agent's leg because routing, not Twilio's FIFO queue, decides who
is served next, and because the Dial's timeout, action and ``<Client statusCallback>`` tell exactly when
the agent answered, did not answer or hung up. A ring-no-answer puts the caller back in ``<Enqueue>``;
routing kept their place.

Items and agents are the store's rows (``store.routing``), read in the webhook's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twilio.twiml.voice_response import Dial

from core import callback, conference
from core.clock import iso, seconds_since
from core.constants import TERMINAL_STATUSES
from core.model import Call
from core.ops import (
    Abandon,
    Accept,
    AgentDone,
    CallbackCompleted,
    CallbackNotReached,
    CustomerWaits,
    Enqueue,
    KickRouting,
    OfferTo,
    PlaceCallback,
    RedirectCall,
    Ringing,
    RingNoAnswer,
    TransferEnded,
    Withdraw,
)
from core.turn import Turn
from core.urls import Urls

log = logging.getLogger(__name__)

HOLD_MUSIC = "hold.wav"
HOLD_MUSIC_S = 10  # length of hold.wav: one pass of the wait loop
ANNOUNCE_EVERY_S = 30
CAN_NOT_HOLD = frozenset({"queue-full", "error", "system-error"})  # Twilio could not keep the caller in its queue
MOVED_ON = frozenset({"redirected", "redirected-from-bridged", "bridged", "bridging-in-process"})

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Wait:
    """A waiting caller's position (1 = next) and estimated wait (None: nobody staffed could take the call)."""

    position: int
    wait_s: float | None


def context_of(call: Call) -> dict[str, Any]:
    """What the agent should know before saying hello, taken from the call."""
    return {"path": call["path"], "intent": call["intent"], "confidence": call["confidence"],
            "digits": call["digits"], "speech": call["speech"], "language": call["language"]}


def is_offered_to(item: Row | None, agent_id: str) -> bool:
    """Is the item still ringing ``agent_id`` (not taken back, expired or abandoned)?"""
    return item is not None and item["state"] == "offered" and item["offered_to"] == agent_id


# --- entering and waiting -----------------------------------------------------------------------


def enqueue(turn: Turn, queue: str, priority: int = 0) -> None:
    """Hand the caller to routing and wait in <Enqueue> with our wait URL."""
    call = turn.call
    turn.do(Enqueue(call.sid, queue, turn.language, priority, call["caller_id"], context_of(call)))
    call.set(queue=queue)
    call.fill(queued_at=iso(turn.now))
    call.log("queued", {"queue": queue})
    wait_in_queue(turn, queue)
    turn.then(KickRouting())


def wait_in_queue(turn: Turn, queue: str) -> None:
    turn.response.enqueue(queue, wait_url=turn.urls.queue_wait(queue), wait_url_method="POST",
                          action=turn.urls.queue_result(), method="POST")


def wait_music(turn: Turn, wait: Wait | None, queue_time_s: int, may_offer_callback: bool) -> None:
    """One pass of the wait loop: position and estimate every ~30 s (with the callback offer), then hold music."""
    if wait is not None and wait.position > 0 and queue_time_s % ANNOUNCE_EVERY_S < HOLD_MUSIC_S:
        if wait.wait_s is None:  # nobody who could take the call is signed in: no number to promise
            turn.say(turn.text("wait_position_only", position=wait.position))
        else:
            minutes = turn.env.flows.counted(turn.language, "minutes", max(1, round(wait.wait_s / 60)))
            turn.say(turn.text("wait_position", position=wait.position, minutes=minutes))
        if may_offer_callback and callback.worth_offering(turn.rules, wait.wait_s):
            callback.offer(turn)
    turn.response.play(turn.urls.static(HOLD_MUSIC))


def hold(turn: Turn, queue: str, wait: Wait | None, held_s: int, may_offer_callback: bool) -> None:
    """Waiting outside Twilio's queue (it was full or failed): the wait music, looped by <Redirect>."""
    wait_music(turn, wait, held_s, may_offer_callback)
    turn.response.redirect(turn.urls.queue_hold(queue, held_s + HOLD_MUSIC_S))


def left_queue(turn: Turn, result: str, item: Row | None, may_offer_callback: bool) -> None:
    """<Enqueue>'s action: why the caller is no longer in Twilio's queue."""
    call = turn.call
    call.log("left-queue", {"result": result})
    if result in MOVED_ON:  # we moved the call on ourselves (REST redirect to ring an agent): nothing to do
        return
    if result in CAN_NOT_HOLD and not call.ended and item is not None:
        turn.say(turn.text("queue_unavailable"))
        if may_offer_callback:
            callback.offer(turn)
        turn.response.redirect(turn.urls.queue_hold(call["queue"]))
        return
    if result != "hangup":
        turn.say(turn.text("goodbye"))
    gone(turn, item)
    turn.response.hangup()


def gone(turn: Turn, item: Row | None) -> None:
    """The caller left while queued or ringing an agent: abandoned, the item leaves, an agent ringing is freed."""
    call = turn.call
    if item is not None and item["kind"] == "call":
        turn.do(Abandon(call.sid))
        call.fill(outcome="abandoned", ended_at=iso(turn.now), wait_s=seconds_since(call["queued_at"], turn.now))
        call.log("abandoned", {"wait_s": call["wait_s"]})
        turn.then(KickRouting())


# --- offered, ringing, talking --------------------------------------------------------------------


def offered(call: Call, item_id: str, agent_id: str, reason: str, urls: Urls) -> RedirectCall:
    """Routing reserved ``agent_id`` for the waiting call: ring the agent (redirect the live call)."""
    call.log("offered", {"agent": agent_id, "reason": reason})
    return RedirectCall(call.sid, urls.connect(item_id, agent_id))


def offered_callback(callback_id: int, agent_id: str) -> PlaceCallback:
    """Routing reserved ``agent_id`` for a callback: dial the customer first (``callbacks``)."""
    return PlaceCallback(callback_id, agent_id)


def connect(turn: Turn, item: Row | None, agent_id: str) -> None:
    """Where the redirected caller lands: ring the agent's softphone; the Dial reports back."""
    if turn.call.ended:
        turn.response.hangup()
        return
    if not is_offered_to(item, agent_id):
        log.info("offer of %s to %s is gone; back to the queue", turn.sid, agent_id)
        wait_in_queue(turn, turn.call["queue"])
        return
    ring(turn, item["id"], agent_id)


def ring(turn: Turn, item_id: str, agent_id: str) -> None:
    """Dial the agent's softphone for the item; the Dial's action and the leg's status callback report back."""
    dial = Dial(action=turn.urls.connect_result(item_id, agent_id), timeout=turn.rules.ring_timeout_s,
                answer_on_bridge=True)
    dial.client(agent_id, status_callback=turn.urls.agent_leg(item_id, agent_id),
                status_callback_event="ringing answered completed", status_callback_method="POST")
    turn.response.append(dial)


def transfer_reason(mode: str, sender: str, note: str | None) -> str:
    """How a transferred call came to its agent: "cold transfer from olga: wants a refund"."""
    return f"{mode} transfer from {sender}" + (f": {note}" if note else "")


def routing_reason(item: Row) -> str:
    """Why routing chose the agent, after who transferred the call if it was (the item's context says)."""
    sent = (item.get("context") or {}).get("transfer")
    if not sent:
        return item["reason"]
    said = transfer_reason(sent["mode"], sent["from"], sent["note"])
    return item["reason"] if (item["reason"] or "").startswith(said) else f"{said}; {item['reason']}"


def accept(turn: Turn, item: Row, agent_id: str, leg_sid: str | None) -> None:
    """The agent answered: busy on this call; the call records who, after how long, why them, and their leg."""
    call = turn.call
    turn.do(Accept(item["id"], agent_id, call.sid))
    call.set(agent_id=agent_id, connected_at=iso(turn.now), routing_reason=routing_reason(item))
    call.fill(wait_s=seconds_since(item["entered_at"], turn.now))  # (a transferred call keeps its first wait)
    if leg_sid:
        call.set(agent_leg=leg_sid)
    call.log("connected", {"agent": agent_id, "wait_s": seconds_since(item["entered_at"], turn.now)})


def sent_on(call: Call, transfer: Row | None, agent_id: str) -> bool:
    """Did ``agent_id`` transfer the call cold while talking on it (since they last answered it)?"""
    return (transfer is not None and transfer["mode"] == "cold" and transfer["from_agent"] == agent_id
            and transfer["created_at"] >= (call["connected_at"] or ""))


def back_to_sender(turn: Turn, item_id: str, transfer: Row, sender: Row | None) -> bool:
    """A cold transfer's colleague did not answer: ring the agent who transferred the call, if they can take it
    (available, or in its wrap-up); False leaves the caller at their place in line."""
    sender_id = transfer["from_agent"]
    if sender is None or sender["presence"] not in ("available", "wrapup"):
        return False
    turn.do(OfferTo(item_id, sender_id, f"transfer to {transfer['to_agent']} not answered: back to {sender_id}",
                    from_wrapup=True))
    turn.call.log("transfer-back", {"agent": sender_id, "colleague": transfer["to_agent"]})
    ring(turn, item_id, sender_id)
    return True


def hold_music(turn: Turn, *, first: bool) -> None:
    """The caller on hold while their agent talks to a colleague (warm transfer): music, looped by <Redirect>."""
    if first:
        turn.say(turn.text("transfer_hold"))
    turn.response.play(turn.urls.static(HOLD_MUSIC))
    turn.response.redirect(turn.urls.transfer_hold(turn.sid, again=True))


def agent_left(turn: Turn, agent: Row | None) -> None:
    """The agent's call ended: wrap-up; the call keeps the talk time (once, whichever report comes first)."""
    if agent is None or agent["presence"] != "busy":
        return
    turn.do(AgentDone(agent["id"]))
    if agent["current_call_sid"] == turn.sid:
        talk_s = seconds_since(agent["presence_since"], turn.now)
        turn.call.set(talk_s=talk_s)
        turn.call.log("agent-left", {"agent": agent["id"], "talk_s": talk_s})
    turn.then(KickRouting())


def agent_leg(turn: Turn, item: Row | None, agent: Row | None, agent_id: str, status: str, leg_sid: str,
              transfer: Row | None = None) -> None:
    """Status of the agent's leg: ringing, answered (busy on the call; a cold transfer to them done), completed
    (wrap-up)."""
    if status == "ringing" and is_offered_to(item, agent_id):
        turn.do(Ringing(item["id"], agent_id))
    elif status == "in-progress" and is_offered_to(item, agent_id):
        accept(turn, item, agent_id, leg_sid)
        if transfer is not None and transfer["state"] == "ringing" and transfer["to_agent"] == agent_id:
            turn.do(TransferEnded(transfer["id"], "completed"))
            turn.call.log("transfer-answered", {"agent": agent_id, "from": transfer["from_agent"]})
    elif status in TERMINAL_STATUSES:
        agent_left(turn, agent)


def dial_ended(turn: Turn, item: Row | None, agent: Row | None, agent_id: str, dial_status: str, call_status: str,
               leg_sid: str | None = None, transfer: Row | None = None, sender: Row | None = None) -> None:
    """The Dial's action. Talked: survey. The agent's leg moved into the call's conference: the caller follows (or
    holds while their agent consults a colleague). The caller was moved on (a cold transfer): the agent's part is
    over. The caller hung up while it rang: nobody's fault. Not answered: the agent is not ready and the caller is
    back in line at the same place, or rings the agent who transferred them."""
    call = turn.call
    offered_here = is_offered_to(item, agent_id)
    callback_id = call["callback_id"] if call["direction"] == "outbound-api" else None
    caller_gone = call_status in TERMINAL_STATUSES
    on_call = agent is not None and agent["presence"] == "busy" and agent["current_call_sid"] == call.sid
    if dial_status == "completed" and conference.moving(call) and on_call and not caller_gone:
        if transfer is not None and transfer["mode"] == "warm" and transfer["hold"] == "music" and transfer["state"] in (
                "ringing", "consulting"):
            call.log("caller-on-hold", {"agent": agent_id, "colleague": transfer["to_agent"]})
            hold_music(turn, first=True)
        else:
            conference.caller_enters(turn, agent_id)
        return
    if dial_status == "completed" and not caller_gone and sent_on(call, transfer, agent_id):
        agent_left(turn, agent)  # the caller went back in line or to a colleague (a cold transfer): not a hang-up
        call.log("sender-left", {"agent": agent_id, "to_queue": transfer["to_queue"], "to_agent": transfer["to_agent"]})
        return
    if dial_status in ("completed", "answered"):
        if offered_here:  # the "answered" report of the agent's leg was lost: they did answer
            accept(turn, item, agent_id, leg_sid)
            agent = {**agent, "presence": "busy", "current_call_sid": call.sid, "presence_since": iso(turn.now)} if agent else None
        agent_left(turn, agent)
        if callback_id:
            turn.do(CallbackCompleted(callback_id))
        call.set(outcome="answered")
        call.log("agent-call-ended", {"agent": agent_id})
        if caller_gone or not turn.env.flows.survey(turn):
            turn.hang_up("goodbye")
        return
    if caller_gone:
        call.log("caller-left-while-ringing", {"agent": agent_id, "dial_status": dial_status})
        if callback_id and item is not None:
            turn.do(CallbackNotReached(callback_id, "hung-up"))
        gone(turn, item)
        turn.response.hangup()
        return
    if offered_here and dial_status == "canceled":
        turn.do(Withdraw(item["id"], reason="dial canceled"))
    elif offered_here:
        turn.do(RingNoAnswer(item["id"], agent_id))
        call.log("ring-no-answer", {"agent": agent_id})
        if transfer is not None and transfer["state"] == "ringing" and transfer["to_agent"] == agent_id:
            turn.do(TransferEnded(transfer["id"], "no-answer"))
            if back_to_sender(turn, item["id"], transfer, sender):
                return
    if callback_id:  # the customer is on the line now: they wait like any caller, at the same place
        turn.do(CustomerWaits(callback_id, call.sid))
        call.fill(queued_at=iso(turn.now))
    wait_in_queue(turn, call["queue"])
    turn.then(KickRouting())
