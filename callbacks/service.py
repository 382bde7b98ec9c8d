"""Callback rules: request (keeping the caller's place), claim before dialling, outcomes, retries, recovery.

Virtual hold: a callback replaces the caller's waiting item in the routing queue with the same
``entered_at``, so it is served exactly when the caller would have been. When routing offers it to
an agent (the agent is reserved), an rq job dials the customer: **customer first, agent reserved**.
The agent is already idle and waiting for this call, so ringing the customer first costs the agent
only the customer's ring time, while the customer who answers is put straight through to a person
(never to hold music, which is what calling the agent first and the customer second would risk when
the customer does not answer). If the customer does not answer, is busy or a voicemail answers, the
offer is withdrawn (the agent is free again at once, keeping their idle time) and the callback waits
for a retry with exponential backoff, within opening hours, keeping its place; after
``max_attempts`` it is ``failed`` and shows on the supervisor's board.

Exactly once: the job claims the callback (pending → dialing) in one UPDATE before dialling; a
second job for the same callback finds it claimed and does nothing. A worker killed between the
claim and recording the placed call leaves a ``dialing`` callback with no call: ``recover`` asks
Twilio's call log whether that call was placed before dialling again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from callbacks.exceptions import CallbackError
from core.clock import parse_time
from core.policy import CallbackPolicy
from routing import service as routing
from routing.service import callback_item_id
from store import callbacks as store
from store import calls
from store import routing as routing_store
from store.db import transaction
from telephony.port import Telephony

log = logging.getLogger(__name__)

NOT_REACHED = frozenset({"busy", "no-answer", "voicemail", "failed", "canceled", "hung-up"})
DIALING_GRACE_S = 120  # a callback "dialing" this long with no call placed is checked against the call log


Policy = CallbackPolicy


def request(
    db: sqlite_utils.Database, call: Mapping[str, Any], number: str, now: datetime, policy: Policy, *,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Book a callback for the waiting ``call`` (its row): committed (and its place kept) before anything is said to
    the caller. The call records the callback (``callback_id``) in the same transaction, through the lifecycle."""
    call_sid = call["sid"]
    with transaction(db):
        if len(store.open_for_number(db, number)) >= policy.max_pending_per_number:
            raise CallbackError(f"{number} already has {policy.max_pending_per_number} callbacks pending")
        item = routing_store.item(db, call_sid)
        if item is None:
            raise CallbackError(f"call {call_sid} is not waiting in a queue")
        not_before = policy.hours.next_open(max(at or now, now))
        callback_id = store.insert(db, {
            "call_sid": call_sid, "caller_id": call["caller_id"], "number": number, "queue": item["queue"],
            "entered_at": item["entered_at"], "scheduled_for": not_before.isoformat(timespec="seconds"),
            "status": "pending", "attempts": 0, "from_number": call["to_number"], "language": call["language"],
        })
        routing.hold_as_callback(db, call_sid, callback_id, now, not_before=max(not_before, now))  # escalation counts from here
    return store.get(db, callback_id)


def cancel(db: sqlite_utils.Database, callback_id: int, now: datetime, reason: str) -> bool:
    """Cancel an open callback (the caller asked, or it failed for good): it leaves the queue."""
    with transaction(db):
        row = store.get(db, callback_id)
        if row["status"] not in ("pending", "dialing"):
            return False
        routing.cancel(db, callback_item_id(callback_id), now, reason=reason)
        store.update(db, callback_id, status="cancelled", last_result=reason)
    return True


def claim(db: sqlite_utils.Database, callback_id: int, agent_id: str, now: datetime) -> dict[str, Any] | None:
    """The job's right to dial: pending → dialing, only while the agent is still reserved for it."""
    with transaction(db):
        item = routing_store.item(db, callback_item_id(callback_id))
        if item is None or item["state"] != "offered" or item["offered_to"] != agent_id:
            return None
        if not store.claim(db, callback_id, agent_id, now.isoformat(timespec="milliseconds")):
            return None
    return store.get(db, callback_id)


def placed(db: sqlite_utils.Database, callback_id: int, call_sid: str) -> None:
    store.update(db, callback_id, placed_call_sid=call_sid)


def answered(db: sqlite_utils.Database, callback_id: int) -> None:
    """The customer picked up (a person): the callback is connected; the agent's leg comes next."""
    store.update(db, callback_id, status="connected", last_result="answered")


def not_reached(db: sqlite_utils.Database, callback_id: int, result: str, now: datetime, policy: Policy) -> str:
    """Busy, no answer, voicemail…: retry later keeping the place, or fail after the last attempt. Returns the status."""
    with transaction(db):
        row = store.get(db, callback_id)
        if row["status"] not in ("dialing", "connected"):
            return row["status"]
        item_id = callback_item_id(callback_id)
        if row["attempts"] >= policy.max_attempts:
            routing.cancel(db, item_id, now, reason=f"failed after {row['attempts']} attempts: {result}")
            store.update(db, callback_id, status="failed", last_result=result)
            log.warning("callback %s failed after %s attempts (%s)", callback_id, row["attempts"], result)
            return "failed"
        retry = policy.retry_at(row["attempts"], now)
        item = routing_store.item(db, item_id)
        if item is not None and item["state"] == "offered":
            routing.withdraw(db, item_id, now, reason=result, not_before=retry)
        store.update(db, callback_id, status="pending", last_result=result, scheduled_for=retry.isoformat(timespec="seconds"))
    return "pending"


def completed(db: sqlite_utils.Database, callback_id: int) -> None:
    store.update(db, callback_id, status="completed")


def customer_waits(db: sqlite_utils.Database, callback_id: int, call_sid: str, now: datetime) -> None:
    """The customer answered but the agent did not: the customer's live call takes the callback's place in line."""
    with transaction(db):
        row = store.get(db, callback_id)
        routing.cancel(db, callback_item_id(callback_id), now, reason="customer on the line")
        routing.enqueue_call(db, call_sid, row["queue"], parse_time(row["entered_at"]), language=row["language"],
                             caller_id=row["caller_id"])
        store.update(db, callback_id, status="completed", last_result="agent did not answer; customer waited on the line")


def pending_for(db: sqlite_utils.Database, number: str | None) -> list[dict[str, Any]]:
    return store.open_for_number(db, number) if number else []


# --- recovery ----------------------------------------------------------------------------------

def recover(db: sqlite_utils.Database, now: datetime, telephony: Telephony, enqueue_job: Callable[[int, str], None],
            policy: Policy, *, after_s: float = DIALING_GRACE_S,
            dialling: Callable[[int], bool] = lambda callback_id: False) -> dict[str, int]:
    """After a crash, a restart or a lost job: every open callback is back in line, or its job queued again, or its
    placed call looked up at Twilio; none is lost and none is dialled twice. Safe to run at any time. ``dialling``
    tells whether a callback's job is running now: a worker still placing the call (a slow REST request, a busy
    machine) is waited for, never raced by a second dial."""
    counts = {"requeued": 0, "jobs": 0, "adopted": 0, "reset": 0, "settled": 0}
    for row in store.by_status(db, "pending", "dialing", "connected"):
        item_id = callback_item_id(row["id"])
        item = routing_store.item(db, item_id)
        since = parse_time(row["dialing_since"])
        quiet = (since is None or (now - since).total_seconds() >= after_s) and not (
            row["status"] == "dialing" and not row["placed_call_sid"] and dialling(row["id"]))
        if row["status"] == "pending" and item is None:
            routing.enqueue_callback(db, row["id"], row["queue"], parse_time(row["entered_at"]), now,
                                     caller_id=row["caller_id"], language=row["language"],
                                     not_before=parse_time(row["scheduled_for"]))
            counts["requeued"] += 1
        elif row["status"] == "pending" and item["state"] == "offered":
            enqueue_job(row["id"], item["offered_to"])  # the job was lost with the queue; the claim keeps it single
            counts["jobs"] += 1
        elif row["status"] != "pending" and not row["placed_call_sid"] and quiet:
            placed_calls = telephony.calls_to(row["number"], since or now)
            if placed_calls:  # the call went out before the crash: adopt it, never dial twice
                placed(db, row["id"], placed_calls[0].sid)
                counts["adopted"] += 1
                continue
            with transaction(db):
                store.update(db, row["id"], status="pending", attempts=max(0, row["attempts"] - 1), last_result="dialing interrupted")
                if item is not None and item["state"] == "offered":
                    routing.withdraw(db, item_id, now, reason="dialing interrupted")
            counts["reset"] += 1
        elif row["status"] != "pending" and row["placed_call_sid"] and quiet:
            info = telephony.fetch(row["placed_call_sid"])
            if info.ended:  # its status callback was lost (the server was down): settle it now
                _settle(db, row, info.status, now, policy)
                counts["settled"] += 1
    return counts


def _settle(db: sqlite_utils.Database, row: dict[str, Any], status: str, now: datetime, policy: Policy) -> None:
    """A finished callback call whose outcome we never heard (the server was down).

    Completed with the agent on the line: done. Answered but we cannot tell what the customer heard: not dialled
    again automatically (a second call could be a duplicate), but ``failed`` with a note for a supervisor. Not
    answered (busy, no answer): the usual retry."""
    if status != "completed":
        not_reached(db, row["id"], status, now, policy)
        return
    call = calls.get_call(db, row["placed_call_sid"])
    reached = call is not None and call["connected_at"]
    with transaction(db):
        item = routing_store.item(db, callback_item_id(row["id"]))
        if item is not None:
            routing.cancel(db, item["id"], now, reason="settled after an outage")
        if reached:
            completed(db, row["id"])
        else:
            store.update(db, row["id"], status="failed", last_result="answered during an outage; call the customer")
