"""A call's life driven as the webhooks drive it, for tests that start in the middle of one: each helper is one
transition of the call core, applied in one transaction through the unit of work (``services.uow``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlite_utils

from callbacks import service as callbacks
from core import callback, queue
from core import calls as lifecycle
from core.hours import parse
from core.policy import CallbackPolicy
from core.turn import Env, Rules
from core.urls import Urls
from ivr import flows as flow_data
from ivr.engine import Engine
from services.uow import Store
from store import calls
from store import routing as routing_store

POLICY = CallbackPolicy(max_pending_per_number=2, max_attempts=3, retry_base_s=60, hours=parse("mon-sun 00:00-24:00"))
ENV = Env(Rules(callback=POLICY), Urls("http://127.0.0.1:5000"), Engine(flow_data.load_all(), "en"))


STORE = Store("", POLICY)  # every helper runs on the test's own connection


def start(db: sqlite_utils.Database, sid: str, now: datetime, number: str | None = None, **columns: Any) -> str:
    """A call arrives (its row, as /voice/incoming makes it); returns its sid."""
    with STORE.unit(db) as unit:
        caller = calls.caller_for_number(unit.db, number)
        calls.save(unit.db, lifecycle.new(sid, now, caller_id=caller["id"], from_number=number, direction="inbound",
                                          status="in-progress", **columns))
    return sid


def enqueue(db: sqlite_utils.Database, sid: str, queue_name: str, now: datetime, *, priority: int = 0) -> None:
    """The call reaches a queue node (its language is the call's)."""
    with STORE.transition(sid, ENV, now, db) as (turn, _):
        queue.enqueue(turn, queue_name, priority)


def answer(db: sqlite_utils.Database, sid: str, agent_id: str, now: datetime) -> None:
    """The agent's leg reports "answered" for the call's item."""
    with STORE.transition(sid, ENV, now, db) as (turn, tx):
        queue.agent_leg(turn, routing_store.item(tx, sid), routing_store.agent(tx, agent_id), agent_id, "in-progress", "CA" + "1" * 32)


def agent_hangs_up(db: sqlite_utils.Database, sid: str, agent_id: str, now: datetime) -> None:
    """The agent's leg reports "completed"."""
    with STORE.transition(sid, ENV, now, db) as (turn, tx):
        queue.agent_leg(turn, None, routing_store.agent(tx, agent_id), agent_id, "completed", "CA" + "1" * 32)


def caller_hangs_up(db: sqlite_utils.Database, sid: str, now: datetime) -> None:
    """Twilio's "completed" status callback for the call."""
    with STORE.transition(sid, ENV, now, db) as (turn, tx):
        lifecycle.status(turn, "completed", None, routing_store.item(tx, sid), routing_store.agent_on_call(tx, sid))


def row(db: sqlite_utils.Database, sid: str) -> dict[str, Any]:
    found = calls.get_call(db, sid)
    assert found is not None, sid
    return found


def book_callback(db: sqlite_utils.Database, sid: str, number: str, now: datetime) -> None:
    """The waiting caller presses 1 for a callback to ``number`` and confirms it."""
    with STORE.transition(sid, ENV, now, db) as (turn, tx):
        callback.book(turn, number, None, ENV.urls.static(queue.HOLD_MUSIC), len(callbacks.pending_for(tx, number)),
                      routing_store.item(tx, sid) is not None)
