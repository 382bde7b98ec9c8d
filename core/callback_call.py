"""The callback call: customer first, agent reserved.

When routing offers a callback to an agent, a job dials the customer; a person who answers is put
straight through to the reserved agent. Answering-machine detection runs with ``DetectMessageEnd``,
so a message for a machine is left after its greeting; a fax is hung up on; an unsure result asks the
person to press 1 before an agent is rung. Not reached: retried later, keeping the place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.twiml.voice_response import Gather

from core.callback import MENU_TIMEOUT_S
from core.ops import CallbackAnswered, CallbackCompleted, CallbackNotReached, Operation
from core.queue import connect
from core.turn import Turn

MACHINE = frozenset({"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other"})
CONFIRM_STEP = "confirm"

Row = Mapping[str, Any]


def answered(turn: Turn, row: Row, agent_id: str, answered_by: str, item: Row | None, pressed: str | None) -> None:
    """Our callback call was answered (``pressed``: the key after "press 1", when we had to ask)."""
    callback_id = row["id"]
    turn.call.log("answered-by", {"answered_by": answered_by or "not detected", "pressed": pressed})
    if pressed is None and answered_by in MACHINE | {"fax"}:
        turn.do(CallbackNotReached(callback_id, "voicemail" if answered_by in MACHINE else "fax"))
        if answered_by != "fax":
            turn.say(turn.text("callback_voicemail"))
        turn.response.hangup()
        return
    confirm = turn.urls.callback_answer(callback_id, agent_id, CONFIRM_STEP)
    if pressed is None and answered_by == "unknown":
        g = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT_S, action=confirm)
        turn.say(turn.text("callback_press_one"), g)
        turn.response.append(g)
        turn.response.redirect(confirm)
        return
    if pressed is not None and pressed != "1":
        turn.do(CallbackNotReached(callback_id, "no key pressed"))
        turn.say(turn.text("callback_voicemail"))
        turn.response.hangup()
        return
    turn.do(CallbackAnswered(callback_id))
    turn.say(turn.text("callback_hello"))
    connect(turn, item, agent_id)


def ended(row: Row, status: str, talked: bool) -> list[Operation]:
    """The callback call ended: not reached (busy, no answer, failed) → retry later or fail; talked → done; a
    person who answered and hung up before the agent came → retry."""
    if status in ("busy", "no-answer", "failed", "canceled"):
        return [CallbackNotReached(row["id"], status)]
    if status == "completed" and row["status"] == "connected":
        return [CallbackCompleted(row["id"]) if talked else CallbackNotReached(row["id"], "hung-up")]
    return []
