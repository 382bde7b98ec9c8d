"""Telephony of queues: the caller waits in <Enqueue>, hears position and estimate, and is bridged to
the agent routing chose.

Bridging: when routing reserves an agent, the caller's live call is redirected with a REST update
(``calls(sid).update(url=/voice/connect…)``) to ``<Dial><Client>agent</Client></Dial>``. We chose this
over ``<Dial><Queue>`` from the agent's leg because routing, not Twilio's FIFO queue, decides who is
served next (skills, stickiness, priority with ageing), and because the Dial's timeout, action and
``<Client statusCallback>`` tell us exactly when the agent answered, did not answer, or hung up. A
ring-no-answer puts the caller back in <Enqueue>; routing kept their original place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, VoiceResponse

from callbacks import service as callback_service
from ivr.engine import Turn, enter
from ivr.flows import Node
from routing import service
from routing.exceptions import RoutingError
from store import calls
from store import routing as routing_store

log = logging.getLogger(__name__)

HOLD_MUSIC = "hold.wav"
HOLD_MUSIC_S = 10  # length of hold.wav: one pass of the wait loop
ANNOUNCE_EVERY_S = 30


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_offered_to(db: Any, item_id: str, agent_id: str) -> bool:
    """Is ``item_id`` still ringing ``agent_id`` (not taken back, expired or abandoned)?"""
    row = routing_store.item(db, item_id)
    return row is not None and row["state"] == "offered" and row["offered_to"] == agent_id


def context_of(call: dict[str, Any]) -> dict[str, Any]:
    """What the agent should know before saying hello, taken from the call row."""
    return {"path": call["path"], "intent": call["intent"], "confidence": call["confidence"],
            "digits": call["digits"], "speech": call["speech"], "language": call["language"]}


def enqueue(turn: Turn, node: Node, response: VoiceResponse) -> None:
    """Hand the caller to routing (``node.queue``) and wait in <Enqueue> with our wait URL."""
    service.enqueue_call(turn.db, turn.sid, node.queue, utcnow(), language=turn.flow.language,
                         priority=node.priority, context=context_of(turn.call))
    _wait_in_queue(turn, node.queue, response)
    turn.kick()


def _wait_in_queue(turn: Turn, queue: str, response: VoiceResponse) -> None:
    response.enqueue(queue, wait_url=turn.urls.queue_wait(queue), wait_url_method="POST",
                     action=turn.urls.queue_result(), method="POST")


def wait(turn: Turn, queue: str, params: Mapping[str, str]) -> VoiceResponse:
    """The waitUrl TwiML, requested again after each pass: position and estimate every ~30 s, hold music."""
    queue_time = int(params["QueueTime"]) if str(params.get("QueueTime", "")).isdigit() else 0
    estimate = service.estimate(turn.db, turn.sid, utcnow())
    if estimate is not None and estimate.position > 0 and queue_time % ANNOUNCE_EVERY_S < HOLD_MUSIC_S:
        if estimate.wait_s is None:  # nobody who could take the call is signed in: no number to promise
            turn.say(turn.flow.text("wait_position_only", position=estimate.position))
        else:
            turn.say(turn.flow.text("wait_position", position=estimate.position, minutes=max(1, round(estimate.wait_s / 60))))
        for hook in turn.wait_hooks:  # e.g. the callback offer when the wait is long
            hook(turn, estimate)
    turn.response.play(turn.urls.static(HOLD_MUSIC))
    return turn.response


def left_queue(turn: Turn, result: str) -> VoiceResponse:
    """<Enqueue>'s action: the caller left the Twilio queue without a REST redirect (hangup, leave, error)."""
    calls.add_event(turn.db, turn.sid, "left-queue", {"result": result})
    if result == "hangup":
        service.abandon(turn.db, turn.sid, utcnow())
    turn.response.hangup()
    return turn.response


# --- bridging caller and agent --------------------------------------------------------------


def connect_twiml(turn: Turn, item_id: str, agent_id: str, ring_timeout_s: int) -> VoiceResponse:
    """TwiML for the redirected caller: ring the agent's softphone; the Dial reports back."""
    if not is_offered_to(turn.db, item_id, agent_id):
        log.info("offer of %s to %s is gone; back to the queue", item_id, agent_id)
        _wait_in_queue(turn, turn.call["queue"], turn.response)
        return turn.response
    query = {"item": item_id, "agent": agent_id}
    dial = Dial(action=turn.urls.voice("voice.connect_result", **query), timeout=ring_timeout_s, answer_on_bridge=True)
    dial.client(agent_id, status_callback=turn.urls.voice("voice.agent_leg", **query),
                status_callback_event="answered completed", status_callback_method="POST")
    turn.response.append(dial)
    return turn.response


def agent_leg(db: Any, item_id: str, agent_id: str, status: str, customer_sid: str | None) -> None:
    """Status of the agent's leg: answered → the agent is busy on the customer's call; completed → wrap-up."""
    now = utcnow()
    if status == "in-progress" and is_offered_to(db, item_id, agent_id):
        service.accept(db, item_id, agent_id, now, call_sid=customer_sid)
    elif status == "completed":
        service.hang_up(db, agent_id, now)


def connect_result(turn: Turn, item_id: str, agent_id: str, dial_status: str) -> VoiceResponse:
    """The Dial's action: after the agent hung up → survey; no answer → back in line at the same place."""
    db, now = turn.db, utcnow()
    callback_id = service.callback_id_of(item_id)
    if dial_status == "completed":
        if is_offered_to(db, item_id, agent_id):  # the "answered" callback was lost: it did answer
            service.accept(db, item_id, agent_id, now, call_sid=turn.sid)
        service.hang_up(db, agent_id, now)
        if callback_id is not None:
            callback_service.completed(db, callback_id)
        calls.update_call(db, turn.sid, "agent-call-ended", {"agent": agent_id}, outcome="answered")
        if turn.flow.survey_node:
            enter(turn, turn.flow.survey_node)
        else:
            turn.say(turn.flow.messages["goodbye"])
            turn.response.hangup()
        turn.kick()
        return turn.response
    try:
        service.ring_no_answer(db, item_id, agent_id, now)
    except RoutingError as exc:  # the offer was already expired or withdrawn
        log.info("ring-no-answer for %s: %s", item_id, exc)
    if callback_id is not None:  # the customer is on the line now: they wait like any caller, at the same place
        callback_service.customer_waits(db, callback_id, turn.sid, now)
    _wait_in_queue(turn, turn.call["queue"], turn.response)
    turn.kick()
    return turn.response


def caller_gone(db: Any, sid: str, status: str) -> None:
    """Status hook: a caller who hangs up while waiting leaves the queue at once, counted as abandoned."""
    if status in calls.TERMINAL_STATUSES:
        service.abandon(db, sid, utcnow())


def bridge_by_redirect(client: Any, base_url: str) -> Callable[[Any, service.Offer], None]:
    """The offer handler for calls: redirect the caller's live call to /voice/connect (REST update)."""

    def bridge(db: Any, offer: service.Offer) -> None:
        url = f"{base_url.rstrip('/')}/voice/connect?{urlencode({'item': offer.item_id, 'agent': offer.agent_id})}"
        client.calls(offer.call_sid).update(url=url, method="POST")
        log.info("redirected %s to ring %s", offer.call_sid, offer.agent_id)

    return bridge
