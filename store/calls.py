"""Callers, calls and their append-only event log."""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlite_utils

from store.db import now, seconds_between, transaction
from store.exceptions import StoreError

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
JSON_COLUMNS = ("path", "digits", "speech")


def _one(db: sqlite_utils.Database, sql: str, params: list[Any]) -> dict[str, Any] | None:
    """One row as a dict, or None (straight on the connection: webhooks run this several times each)."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def get_caller(db: sqlite_utils.Database, caller_id: int | None) -> dict[str, Any] | None:
    return _one(db, "SELECT * FROM callers WHERE id = ?", [caller_id]) if caller_id else None


def _insert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> int:
    """Plain INSERT (the hot webhook path: no schema introspection); returns the rowid."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return db.conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())).lastrowid


def _update_call(db: sqlite_utils.Database, sid: str, changes: dict[str, Any]) -> None:
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.conn.execute(f"UPDATE calls SET {assignments} WHERE sid = ?", [*changes.values(), sid])


def caller_for_number(db: sqlite_utils.Database, number: str | None) -> dict[str, Any]:
    """The caller row for an E.164 number, created on first contact; withheld → a new anonymous caller."""
    if number:
        row = _one(db, "SELECT * FROM callers WHERE number = ?", [number])
        if row:
            return row
    caller_id = _insert(db, "callers", {"number": number, "created_at": now()})
    return get_caller(db, caller_id)


def upsert_caller(db: sqlite_utils.Database, number: str, **fields: Any) -> dict[str, Any]:
    """Create or update the caller with this number (demo data, admin)."""
    with transaction(db):
        caller = caller_for_number(db, number)
        if fields:
            db["callers"].update(caller["id"], fields)
    return db["callers"].get(caller["id"])


def get_call(db: sqlite_utils.Database, sid: str) -> dict[str, Any]:
    row = _one(db, "SELECT * FROM calls WHERE sid = ?", [sid])
    if row is None:
        raise StoreError(f"no call {sid}")
    for column in JSON_COLUMNS:
        row[column] = json.loads(row[column] or "[]")
    return row


def find_call(db: sqlite_utils.Database, sid: str) -> dict[str, Any] | None:
    try:
        return get_call(db, sid)
    except StoreError:
        return None


def start_call(db: sqlite_utils.Database, sid: str, **fields: Any) -> tuple[dict[str, Any], bool]:
    """Insert the call row unless it exists (Twilio retries webhooks); returns (row, created)."""
    with transaction(db):
        existing = find_call(db, sid)
        if existing:
            return existing, False
        fields.setdefault("started_at", now())
        _insert(db, "calls", {"sid": sid, "path": "[]", "digits": "[]", "speech": "[]", **fields})
        add_event(db, sid, "started", {k: v for k, v in fields.items() if k != "started_at"})
    return get_call(db, sid), True


def add_event(db: sqlite_utils.Database, sid: str, kind: str, data: dict[str, Any] | None = None) -> None:
    _insert(db, "call_events", {"call_sid": sid, "at": now(), "kind": kind, "data": json.dumps(data or {}, ensure_ascii=False)})


def events(db: sqlite_utils.Database, sid: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT at, kind, data FROM call_events WHERE call_sid = ? ORDER BY id", [sid])
    return [{**row, "data": json.loads(row["data"])} for row in rows]


def record_step(
    db: sqlite_utils.Database,
    sid: str,
    node: str,
    *,
    enter: bool,
    digits: str | None = None,
    speech: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    **updates: Any,
) -> dict[str, Any]:
    """Record one flow step on the call, atomically: entering a node (appended to the path) or input heard there."""
    with transaction(db):
        call = get_call(db, sid)
        changes: dict[str, Any] = dict(updates)
        if enter:
            changes["path"] = json.dumps(call["path"] + [node])
        if digits:
            changes["digits"] = json.dumps(call["digits"] + [{"node": node, "digits": digits}])
        if speech:
            changes["speech"] = json.dumps(call["speech"] + [{"node": node, **speech}], ensure_ascii=False)
        changes["node"] = node
        _update_call(db, sid, changes)
        detail = {"digits": digits} if digits else {}
        if speech:
            detail["speech"] = speech
        add_event(db, sid, "enter" if enter else "input", {"node": node, **detail, **(event or {})})
    return get_call(db, sid)


def update_call(db: sqlite_utils.Database, sid: str, kind: str, data: dict[str, Any] | None = None, **fields: Any) -> None:
    """Change columns of a call and log why, in one transaction."""
    with transaction(db):
        get_call(db, sid)
        if fields:
            _update_call(db, sid, fields)
        add_event(db, sid, kind, data if data is not None else fields)


def apply_status(db: sqlite_utils.Database, sid: str, status: str, duration_s: int | None = None) -> bool:
    """Apply a status callback once: False (and no change) when this status was already applied."""
    with transaction(db):
        if db.execute("SELECT 1 FROM call_statuses WHERE call_sid = ? AND status = ?", [sid, status]).fetchone():
            return False
        call = find_call(db, sid)
        at = now()
        _insert(db, "call_statuses", {"call_sid": sid, "status": status, "at": at, "duration_s": duration_s})
        if call is None:
            log.info("status %s for call %s, which has no row (yet), kept", status, sid)
            return True
        changes: dict[str, Any] = {"status": status}
        if status == "in-progress" and not call["answered_at"]:
            changes["answered_at"] = at
        if status in TERMINAL_STATUSES and not call["ended_at"]:
            changes["ended_at"] = at
            if call["connected_at"] and call["talk_s"] is None:  # hang_up already measured the agent's talk
                changes["talk_s"] = seconds_between(call["connected_at"], at)
            elif call["queued_at"]:
                changes["wait_s"] = seconds_between(call["queued_at"], at)
            if not call["outcome"]:
                changes["outcome"] = _outcome_when_ended(call, status)
        _update_call(db, sid, changes)
        add_event(db, sid, "status", {"status": status, "duration_s": duration_s})
    return True


def _outcome_when_ended(call: dict[str, Any], status: str) -> str:
    """Why the call ended, when nothing else said so."""
    if status != "completed":
        return status
    if call["queued_at"] and not call["connected_at"]:
        return "abandoned"
    return "hung-up-in-ivr"


def caller_history(db: sqlite_utils.Database, caller_id: int, *, before_sid: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """The caller's previous calls, newest first, with what an agent needs to know."""
    return list(
        db.query(
            """SELECT c.sid, c.started_at, c.intent, c.outcome, c.queue, c.disposition, c.notes,
                      c.agent_id, a.name AS agent_name
               FROM calls c LEFT JOIN agents a ON a.id = c.agent_id
               WHERE c.caller_id = ? AND c.sid != ? ORDER BY c.started_at DESC LIMIT ?""",
            [caller_id, before_sid or "", limit],
        )
    )


def order(db: sqlite_utils.Database, number: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM orders WHERE number = ?", [number]))
    return rows[0] if rows else None


def open_orders(db: sqlite_utils.Database, caller_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM orders WHERE caller_id = ? AND status != 'delivered' ORDER BY number", [caller_id]))


def record_survey(db: sqlite_utils.Database, sid: str, question: str, score: int) -> bool:
    """Keep the caller's answer once (a retried webhook does not count twice)."""
    with transaction(db):
        inserted = db.execute(
            "INSERT OR IGNORE INTO survey_answers (call_sid, question, score, at) VALUES (?, ?, ?, ?)",
            [sid, question, score, now()],
        ).rowcount
        if inserted:
            add_event(db, sid, "survey", {"question": question, "score": score})
    return bool(inserted)


def save_stream_result(db: sqlite_utils.Database, sid: str, turn_key: str, result: dict[str, Any]) -> None:
    """Keep what the Media Streams socket heard for one turn (``node:attempt[:confirming]``)."""
    add_event(db, sid, "heard", {"turn": turn_key, **result})


def stream_result(db: sqlite_utils.Database, sid: str, turn_key: str) -> dict[str, Any] | None:
    """The latest result the socket stored for this turn, if any."""
    for row in db.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = 'heard' ORDER BY id DESC", [sid]):
        data = json.loads(row["data"])
        if data.get("turn") == turn_key:
            return data
    return None


def turn_key(node: str, attempt: int, confirming: str | None = None) -> str:
    return f"{node}:{attempt}" + (f":{confirming}" if confirming else "")
