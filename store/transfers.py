"""Transfers of calls from one agent to a colleague or a queue: one row each (who, to whom, why, how it went)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from store.db import fetch_all, one


def open_for(db: sqlite_utils.Database, call_sid: str) -> dict[str, Any] | None:
    """The call's transfer under way, if any."""
    return one(db, "SELECT * FROM transfers WHERE call_sid = ? AND ended_at IS NULL", [call_sid])


def open_involving(db: sqlite_utils.Database, agent_id: str) -> list[dict[str, Any]]:
    """The transfers under way that ``agent_id`` sent or is asked to take, with both agents' names."""
    return fetch_all(db, """SELECT t.id, t.call_sid, t.mode, t.state, t.note, t.from_agent, t.to_agent, t.to_queue,
                                   f.name AS from_name, o.name AS to_name
                            FROM transfers t JOIN agents f ON f.id = t.from_agent LEFT JOIN agents o ON o.id = t.to_agent
                            WHERE t.ended_at IS NULL AND (t.from_agent = ? OR t.to_agent = ?) ORDER BY t.id""",
                     [agent_id, agent_id])


def latest(db: sqlite_utils.Database, call_sid: str) -> dict[str, Any] | None:
    """The call's last transfer (what the receiving agent's screen pop says: who, why)."""
    return one(db, "SELECT * FROM transfers WHERE call_sid = ? ORDER BY id DESC LIMIT 1", [call_sid])


def of_call(db: sqlite_utils.Database, call_sid: str) -> list[dict[str, Any]]:
    return fetch_all(db, "SELECT * FROM transfers WHERE call_sid = ? ORDER BY id", [call_sid])


def start(db: sqlite_utils.Database, **row: Any) -> int:
    """A new transfer (``ended_at`` set when it is done at once: a cold transfer to a queue)."""
    return db["transfers"].insert(row).last_pk


def change(db: sqlite_utils.Database, transfer_id: int, **columns: Any) -> None:
    db["transfers"].update(transfer_id, columns)
