"""Callers' voicemails (the WAV files live in VOICEMAIL_DIR; rows say where)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from store.db import fetch_all, insert, one

LISTED = 50


def add(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    return insert(db, "voicemails", {**row, "status": "open"})


def get(db: sqlite_utils.Database, voicemail_id: int) -> dict[str, Any] | None:
    return one(db, "SELECT * FROM voicemails WHERE id = ?", [voicemail_id])


def listed(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The open messages, oldest first, then the latest done ones; with the caller's name."""
    return fetch_all(db, f"""SELECT v.id, v.call_sid, v.number, v.language, v.queue, v.seconds, v.transcript,
                                    v.ended_by, v.created_at, v.status, v.done_by, v.done_at, c.name AS caller_name
                             FROM voicemails v LEFT JOIN callers c ON c.id = v.caller_id
                             ORDER BY v.status = 'done', CASE WHEN v.status = 'done' THEN v.done_at END DESC,
                                      v.created_at LIMIT {LISTED}""")


def mark_done(db: sqlite_utils.Database, voicemail_id: int, by: str, at: str) -> bool:
    return db.execute("UPDATE voicemails SET status = 'done', done_by = ?, done_at = ? WHERE id = ? AND status = 'open'",
                      [by, at, voicemail_id]).rowcount == 1


def of_calls(db: sqlite_utils.Database, sids: list[str]) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in sids)
    return fetch_all(db, f"SELECT id, path FROM voicemails WHERE call_sid IN ({marks})", sids) if sids else []


def delete(db: sqlite_utils.Database, ids: list[int]) -> None:
    for voicemail_id in ids:
        db.execute("DELETE FROM voicemails WHERE id = ?", [voicemail_id])
