"""Reconciliation: what the platform says happened to a call that we were never told.

Webhooks are lost while the server is down, restarting or failing (Twilio does not retry a status callback).
The platform still knows: the call's status and the legs it dialled. ``settle`` turns what it knows into the
same transitions the lost webhooks would have run, so a reconciled call ends as a reported one would: an agent
who answered is on the call (not blamed for not answering), an agent whose leg ended goes to wrap-up, a caller
who hung up leaves the queue (abandoned, once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core import calls, queue
from core.clock import iso
from core.constants import TERMINAL_STATUSES
from core.turn import Turn

Row = Mapping[str, Any]
ANSWERED_LEG = frozenset({"in-progress", "completed"})  # a <Dial> leg that ends "completed" was answered


@dataclass(frozen=True)
class Seen:
    """A call as the platform reports it: its status, its duration once ended, and the status of the leg it
    dialled to each agent (<Dial><Client>, newest leg per agent)."""

    status: str
    duration_s: int | None = None
    legs: Mapping[str, str] = field(default_factory=dict)


def needs_settling(seen: Seen, item: Row | None, agent_on_call: Row | None, status_seen: bool) -> bool:
    """Does the platform know something about this call that we do not?"""
    if seen.status in TERMINAL_STATUSES and not status_seen:
        return True
    offered_leg = seen.legs.get(item["offered_to"]) if item is not None and item["state"] == "offered" else None
    agent_leg = seen.legs.get(agent_on_call["id"]) if agent_on_call is not None else None
    return offered_leg in ANSWERED_LEG or (agent_on_call is not None and agent_on_call["presence"] == "busy"
                                           and agent_leg in TERMINAL_STATUSES)


def settle(turn: Turn, seen: Seen, item: Row | None, offered_agent: Row | None, agent_on_call: Row | None,
           status_seen: bool) -> None:
    """Run the transitions of the reports we missed, in the order Twilio sends them: the agent's leg answered,
    the agent's leg ended, the call ended."""
    call = turn.call
    call.log("reconciled", {"status": seen.status, "legs": dict(seen.legs)})
    agent = agent_on_call
    if item is not None and item["state"] == "offered" and seen.legs.get(item["offered_to"]) in ANSWERED_LEG:
        queue.accept(turn, item, item["offered_to"], None)
        agent = {**(offered_agent or {"id": item["offered_to"]}), "presence": "busy", "current_call_sid": call.sid,
                 "presence_since": iso(turn.now)}
        item = None  # taken: the caller is with the agent, not waiting
    if agent is not None and seen.legs.get(agent["id"]) in TERMINAL_STATUSES:
        queue.agent_left(turn, agent)
        agent = None
    if seen.status in TERMINAL_STATUSES and not status_seen:
        calls.status(turn, seen.status, seen.duration_s, item, agent)
