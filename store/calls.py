"""Callers, calls and their append-only event log: a ``core.model.Call`` loaded and saved."""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlite_utils

from core import conference
from core.clock import now_text
from core.model import JSON_COLUMNS, Call
from store.db import fetch_all, insert, one, to_json, transaction
from store.exceptions import Stale

log = logging.getLogger(__name__)


def get_caller(db: sqlite_utils.Database, caller_id: int | None) -> dict[str, Any] | None:
    return one(db, "SELECT * FROM callers WHERE id = ?", [caller_id]) if caller_id else None


def find_caller(db: sqlite_utils.Database, number: str | None) -> dict[str, Any] | None:
    """The caller row of an E.164 number, if we know it (a withheld number is nobody we know)."""
    return one(db, "SELECT * FROM callers WHERE number = ?", [number]) if number else None


def caller_for_number(db: sqlite_utils.Database, number: str) -> dict[str, Any]:
    """The caller row for an E.164 number, created on first contact."""
    row = one(db, "SELECT * FROM callers WHERE number = ?", [number])
    if row:
        return row
    caller_id = insert(db, "callers", {"number": number, "created_at": now_text()})
    return {"id": caller_id, "number": number, "name": None, "language": None, "notes": None}


def set_caller_language(db: sqlite_utils.Database, caller_id: int | None, language: str) -> None:
    if caller_id:
        db.execute("UPDATE callers SET language = ? WHERE id = ?", [language, caller_id])


def upsert_caller(db: sqlite_utils.Database, number: str, **fields: Any) -> dict[str, Any]:
    """Create or update the caller with this number (demo data, admin)."""
    with transaction(db):
        caller = caller_for_number(db, number)
        if fields:
            db["callers"].update(caller["id"], fields)
    return db["callers"].get(caller["id"])


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for column in JSON_COLUMNS:
        row[column] = json.loads(row[column] or "[]")
    return row


def load(db: sqlite_utils.Database, sid: str) -> Call | None:
    """The call with its row, or None."""
    row = one(db, "SELECT * FROM calls WHERE sid = ?", [sid])
    return None if row is None else Call(_decoded(row))


def unsettled(db: sqlite_utils.Database, started_before: str) -> list[str]:
    """Calls that may still be live, or whose end we were not told of: not ended, started before ``started_before``,
    and every call an agent is reserved for or busy on (whatever its age)."""
    rows = fetch_all(db, """
        SELECT sid FROM calls WHERE ended_at IS NULL AND started_at < ?
        UNION SELECT call_sid FROM queue_items WHERE state = 'offered' AND kind = 'call'
        UNION SELECT current_call_sid FROM agents WHERE presence IN ('reserved', 'busy') AND current_call_sid IS NOT NULL
        """, [started_before])
    return [row["sid"] for row in rows]


def use_stream_token(db: sqlite_utils.Database, token: str, at: str) -> bool:
    """Note a stream token as used (in a transaction); False if it was used before."""
    return db.conn.execute("INSERT INTO stream_tokens (token, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [token, at]).rowcount == 1


def mark_replayed(db: sqlite_utils.Database, journal_id: str) -> bool:
    """Record that a journaled webhook was applied (in its transaction); False if it had been already."""
    return db.conn.execute("INSERT INTO journal_replayed (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [journal_id, now_text()]).rowcount == 1


def forget_replayed(db: sqlite_utils.Database) -> None:
    """The journal was emptied: its ids will not come again."""
    db.conn.execute("DELETE FROM journal_replayed")


def get_call(db: sqlite_utils.Database, sid: str) -> dict[str, Any] | None:
    """The call row as a dict (JSON columns decoded), or None."""
    call = load(db, sid)
    return None if call is None else call.snapshot()


def _encode(column: str, value: Any) -> Any:
    return to_json(value) if column in JSON_COLUMNS else value


def _encoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **{column: to_json(row[column]) for column in JSON_COLUMNS if column in row}}


def save(db: sqlite_utils.Database, call: Call) -> None:
    """Write what changed on the call (the whole row when new) and its new events; call inside a transaction.

    Raises Stale when the row is not the one the call was read as: it was created meanwhile, or another
    transition saved it (each save bumps ``version``)."""
    if call.new:
        row = _encoded(call.snapshot())
        created = db.conn.execute(f"INSERT INTO calls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                                  "ON CONFLICT DO NOTHING", list(row.values())).rowcount
        if created != 1:
            raise Stale(f"call {call.sid} was created meanwhile")
        call.new = False
    elif call.changed or call.events:
        version = call["version"] or 0
        assignments = "".join(f"{column} = ?, " for column in call.changed)
        values = [_encode(k, v) for k, v in call.changed.items()]
        updated = db.conn.execute(f"UPDATE calls SET {assignments}version = ? WHERE sid = ? AND version = ?",
                                  [*values, version + 1, call.sid, version]).rowcount
        if updated != 1:
            raise Stale(f"call {call.sid} changed after it was read")
        call.stored(version + 1)
    if call.events:
        at = now_text()
        db.conn.executemany(
            "INSERT INTO call_events (call_sid, at, kind, data) VALUES (?, ?, ?, ?)",
            [(call.sid, at, kind, to_json(data)) for kind, data in call.events],
        )
    call.changed.clear()
    call.events.clear()


def amend(db: sqlite_utils.Database, sid: str, event: tuple[str, dict[str, Any]] | None = None, **columns: Any) -> None:
    """Set columns of a stored call and log one event on it, saved as one change (in the caller's transaction)."""
    call = load(db, sid)
    call.set(**columns)
    if event is not None:
        call.log(*event)
    save(db, call)


def room_sid_learned(db: sqlite_utils.Database, sid: str, conference_sid: str | None) -> None:
    """The platform named the call's conference by its SID (``core.conference.sid_learned``), in the caller's
    transaction."""
    call = load(db, sid)
    conference.sid_learned(call, conference_sid)
    save(db, call)


def events(db: sqlite_utils.Database, sid: str) -> list[dict[str, Any]]:
    rows = db.query("SELECT at, kind, data FROM call_events WHERE call_sid = ? ORDER BY id", [sid])
    return [{**row, "data": json.loads(row["data"])} for row in rows]


def status_seen(db: sqlite_utils.Database, sid: str, status: str) -> bool:
    """Was this (call, status) reported before? Twilio retries status callbacks."""
    return db.conn.execute("SELECT 1 FROM call_statuses WHERE call_sid = ? AND status = ?", [sid, status]).fetchone() is not None


def record_status(db: sqlite_utils.Database, sid: str, status: str, duration_s: int | None) -> None:
    db.conn.execute("INSERT INTO call_statuses (call_sid, status, at, duration_s) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [sid, status, now_text(), duration_s])


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
    return one(db, "SELECT * FROM orders WHERE number = ?", [number])


def open_orders(db: sqlite_utils.Database, caller_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM orders WHERE caller_id = ? AND status != 'delivered' ORDER BY number", [caller_id]))


def record_survey(db: sqlite_utils.Database, sid: str, question: str, score: int) -> bool:
    """Keep the caller's answer once (a retried webhook does not count twice); True when it is new."""
    return bool(db.conn.execute(
        "INSERT INTO survey_answers (call_sid, question, score, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [sid, question, score, now_text()],
    ).rowcount)


def stream_result(db: sqlite_utils.Database, sid: str, turn_key: str) -> dict[str, Any] | None:
    """The latest result the Media Streams socket stored for this turn, if any."""
    for (data,) in db.conn.execute(
        "SELECT data FROM call_events WHERE call_sid = ? AND kind = 'heard' ORDER BY id DESC", [sid]
    ).fetchall():
        heard = json.loads(data)
        if heard.get("turn") == turn_key:
            return heard
    return None
