"""Supervisors monitoring live calls: one row per session (who, which call, in which mode, when)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from store.db import fetch_all, one


def open_session(db: sqlite_utils.Database, call_sid: str, supervisor_id: str) -> dict[str, Any] | None:
    """The supervisor's session on the call that has not ended, if any."""
    return one(db, "SELECT * FROM monitors WHERE call_sid = ? AND supervisor_id = ? AND ended_at IS NULL",
               [call_sid, supervisor_id])


def on_call(db: sqlite_utils.Database, call_sid: str) -> list[dict[str, Any]]:
    """The sessions on ``call_sid`` that have not ended, oldest first."""
    return fetch_all(db, "SELECT * FROM monitors WHERE call_sid = ? AND ended_at IS NULL ORDER BY id", [call_sid])


def live(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every session that has not ended (the supervisors' page shows who monitors which call)."""
    return fetch_all(db, "SELECT * FROM monitors WHERE ended_at IS NULL ORDER BY id")


def start(db: sqlite_utils.Database, call_sid: str, supervisor_id: str, mode: str, at: str) -> None:
    db["monitors"].insert({"call_sid": call_sid, "supervisor_id": supervisor_id, "mode": mode, "started_at": at})


def change(db: sqlite_utils.Database, call_sid: str, supervisor_id: str, **columns: Any) -> None:
    """Set columns of the supervisor's open session on the call (mode, leg_sid)."""
    names = ", ".join(f"{name} = ?" for name in columns)
    db.execute(f"UPDATE monitors SET {names} WHERE call_sid = ? AND supervisor_id = ? AND ended_at IS NULL",
               [*columns.values(), call_sid, supervisor_id])


def joined(db: sqlite_utils.Database, call_sid: str, supervisor_id: str, at: str) -> None:
    db.execute("UPDATE monitors SET joined_at = COALESCE(joined_at, ?) WHERE call_sid = ? AND supervisor_id = ?"
               " AND ended_at IS NULL", [at, call_sid, supervisor_id])


def end(db: sqlite_utils.Database, call_sid: str, supervisor_id: str, at: str) -> bool:
    """End the open session; False when there was none (ended before)."""
    cursor = db.execute("UPDATE monitors SET ended_at = ? WHERE call_sid = ? AND supervisor_id = ? AND ended_at IS NULL",
                        [at, call_sid, supervisor_id])
    return bool(cursor.rowcount)
