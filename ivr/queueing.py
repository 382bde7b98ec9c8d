"""Handing a call to a queue and what the caller hears while waiting.

This is the telephony side; who answers is decided by routing/ once it is wired in through
``app.extensions["enqueue"]`` (see app.py). Without it the caller waits in a Twilio queue named
after the flow's queue, hearing their position and hold music.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from twilio.twiml.voice_response import VoiceResponse

from ivr.engine import Turn, enter
from ivr.flows import Node
from store import calls
from store.db import now

log = logging.getLogger(__name__)

HOLD_MUSIC = "hold.wav"
DEFAULT_HANDLE_S = 180


def enqueue(turn: Turn, node: Node, response: VoiceResponse) -> None:
    """Put the caller in ``node.queue``: recorded on the call, then <Enqueue> with our wait URL."""
    calls.update_call(turn.db, turn.sid, "queued", {"queue": node.queue}, queue=node.queue, queued_at=now())
    response.enqueue(
        node.queue,
        wait_url=turn.urls.queue_wait(node.queue),
        wait_url_method="POST",
        action=turn.urls.queue_result(),
        method="POST",
    )


def wait(turn: Turn, queue: str, params: Mapping[str, str]) -> VoiceResponse:
    """The waitUrl TwiML: position and estimated wait, then hold music (Twilio loops it)."""
    position = int(params.get("QueuePosition") or 1) if str(params.get("QueuePosition", "1")).isdigit() else 1
    minutes = max(1, round(position * DEFAULT_HANDLE_S / 60))
    turn.say(turn.flow.text("wait_position", position=position, minutes=minutes))
    turn.response.play(turn.urls.static(HOLD_MUSIC))
    return turn.response


def left_queue(turn: Turn, result: str) -> VoiceResponse:
    """The <Enqueue> action: after the agent leg ends, the caller gets the survey (or goodbye)."""
    calls.add_event(turn.db, turn.sid, "left-queue", {"result": result})
    if result in ("bridged", "redirected-from-bridged") and turn.flow.survey_node:
        enter(turn, turn.flow.survey_node)
    else:
        turn.say(turn.flow.messages["goodbye"])
        turn.response.hangup()
    return turn.response
