"""Data protection: everything we hold on one caller, exported whole or forgotten, and retention by age.

What is personal here: the caller row (number, name, notes), and on each of their calls the numbers, the keys
pressed and words said (``digits``, ``speech``, ``transcript``), the agent's notes, the call's event log, the
context a queued call carries, and their callbacks' numbers. Forgetting erases all of that and unlinks their
orders; it keeps what the figures are made of (each call's queue, times, outcome, agent; the routing events),
anonymous, so the supervisor's figures stay what they were. The call event log is append-only (a trigger refuses
updates): the events of a forgotten or expired call are deleted, and one "erased" event says when and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

from store import voicemails
from store.db import fetch_all, insert, one, to_json, transaction
from store.routing import add_event

PERSONAL_CALL_COLUMNS = ("from_number = NULL, digits = '[]', speech = '[]', transcript = NULL, notes = NULL, "
                         "to_number = CASE WHEN direction = 'outbound-api' THEN NULL ELSE to_number END")


def caller_of(db: sqlite_utils.Database, number: str) -> dict[str, Any] | None:
    return one(db, "SELECT * FROM callers WHERE number = ?", [number])


def export(db: sqlite_utils.Database, number: str) -> dict[str, Any] | None:
    """Everything held on the caller with this number (None: nobody), as JSON-ready data."""
    caller = caller_of(db, number)
    if caller is None:
        return None
    calls = fetch_all(db, "SELECT * FROM calls WHERE caller_id = ? ORDER BY started_at", [caller["id"]])
    for call in calls:
        for column in ("path", "digits", "speech"):
            call[column] = json.loads(call[column] or "[]")
        call["events"] = [{**event, "data": json.loads(event["data"] or "{}")} for event in fetch_all(
            db, "SELECT at, kind, data FROM call_events WHERE call_sid = ? ORDER BY id", [call["sid"]])]
        call["statuses"] = fetch_all(db, "SELECT status, at, duration_s FROM call_statuses WHERE call_sid = ?",
                                     [call["sid"]])
        call["survey"] = fetch_all(db, "SELECT question, score, at FROM survey_answers WHERE call_sid = ?", [call["sid"]])
    return {
        "caller": caller,
        "calls": calls,
        "callbacks": fetch_all(db, "SELECT * FROM callbacks WHERE caller_id = ? OR number = ?", [caller["id"], number]),
        "orders": fetch_all(db, "SELECT * FROM orders WHERE caller_id = ?", [caller["id"]]),
        "waiting": fetch_all(db, "SELECT * FROM queue_items WHERE caller_id = ?", [caller["id"]]),
        "voicemails": fetch_all(db, "SELECT * FROM voicemails WHERE caller_id = ? OR number = ?", [caller["id"], number]),
    }


def forget(db: sqlite_utils.Database, number: str, at: str, by: str) -> dict[str, int] | None:
    """Erase what is personal about the caller with this number, in one transaction (None: nobody), with a
    "privacy" routing event saying who did it (not whom). Their open callbacks are cancelled: nobody can call back
    a number we no longer hold."""
    reason = f"forgotten by {by}"
    with transaction(db):
        caller = caller_of(db, number)
        if caller is None:
            return None
        sids = [row["sid"] for row in fetch_all(db, "SELECT sid FROM calls WHERE caller_id = ?", [caller["id"]])]
        _erase_calls(db, sids, at, reason)
        db.conn.execute("UPDATE calls SET caller_id = NULL WHERE caller_id = ?", [caller["id"]])
        db.conn.execute("UPDATE queue_items SET caller_id = NULL, context = '{}' WHERE caller_id = ?", [caller["id"]])
        callbacks = db.conn.execute(
            "UPDATE callbacks SET number = '', from_number = NULL, caller_id = NULL, last_result = ?, "
            "status = CASE WHEN status IN ('pending', 'dialing') THEN 'cancelled' ELSE status END "
            "WHERE caller_id = ? OR number = ?", [reason, caller["id"], number]).rowcount
        db.conn.execute("UPDATE orders SET caller_id = NULL WHERE caller_id = ?", [caller["id"]])
        db.conn.execute("DELETE FROM callers WHERE id = ?", [caller["id"]])
        add_event(db, at, "privacy", reason=f"a caller {reason}: {len(sids)} call(s), {callbacks} callback(s)")
    return {"calls": len(sids), "callbacks": callbacks}


def expire(db: sqlite_utils.Database, ended_before: str, at: str) -> int:
    """Retention: what is personal about calls that ended before ``ended_before`` is erased (their figures stay),
    and anonymous callers left with no call are removed. How many calls."""
    with transaction(db):
        sids = [row["sid"] for row in fetch_all(
            db, "SELECT sid FROM calls WHERE ended_at < ? AND NOT (from_number IS NULL AND digits = '[]' AND "
                "speech = '[]' AND transcript IS NULL AND notes IS NULL)", [ended_before])]
        _erase_calls(db, sids, at, "retention")
        db.conn.execute("UPDATE calls SET caller_id = NULL WHERE ended_at < ? AND caller_id IN "
                        "(SELECT id FROM callers WHERE number IS NULL)", [ended_before])
        db.conn.execute("DELETE FROM callers WHERE number IS NULL AND id NOT IN "
                        "(SELECT caller_id FROM calls WHERE caller_id IS NOT NULL UNION "
                        "SELECT caller_id FROM callbacks WHERE caller_id IS NOT NULL UNION "
                        "SELECT caller_id FROM queue_items WHERE caller_id IS NOT NULL)")
    return len(sids)


def _erase_calls(db: sqlite_utils.Database, sids: list[str], at: str, reason: str) -> None:
    messages = voicemails.of_calls(db, sids)  # a caller's voice and words: the file and its row go
    for message in messages:
        Path(message["path"]).unlink(missing_ok=True)
    voicemails.delete(db, [message["id"] for message in messages])
    for sid in sids:
        db.conn.execute(f"UPDATE calls SET {PERSONAL_CALL_COLUMNS} WHERE sid = ?", [sid])
        db.conn.execute("DELETE FROM call_events WHERE call_sid = ?", [sid])
        insert(db, "call_events", {"call_sid": sid, "at": at, "kind": "erased", "data": to_json({"reason": reason})})
        db.conn.execute("UPDATE queue_items SET context = '{}' WHERE call_sid = ?", [sid])
