"""SQL of the agent and supervisor pages: the change marker, today's figures, who may see which call."""

from __future__ import annotations

import logging
from typing import Any

import sqlite_utils

from store import dialect
from store.db import transaction

log = logging.getLogger(__name__)


def data_version(db: sqlite_utils.Database) -> int:
    """A number that moves when a write commits on any connection of any process or node (store.dialect)."""
    return db.execute(dialect.of(db).change_marker).fetchone()[0]


def answered_today(db: sqlite_utils.Database, since: str) -> dict[str, dict[str, Any]]:
    """Per queue since ``since``: items answered and their average wait (ASA, seconds)."""
    rows = db.query(
        """SELECT queue, COUNT(*) AS answered, AVG(seconds) AS asa_s FROM routing_events
           WHERE kind = 'accepted' AND at >= ? GROUP BY queue""",
        [since],
    )
    return {row["queue"]: row for row in rows}


def callback_counts(db: sqlite_utils.Database, since: str) -> dict[str, dict[str, int]]:
    """Per queue: callbacks pending (or being dialled) now, and callbacks failed since ``since``."""
    rows = db.query(
        """SELECT queue,
                  COUNT(*) FILTER (WHERE status IN ('pending', 'dialing')) AS pending,
                  COUNT(*) FILTER (WHERE status = 'failed' AND updated_at >= ?) AS failed
           FROM callbacks GROUP BY queue""",
        [since],
    )
    return {row["queue"]: {"pending": row["pending"], "failed": row["failed"]} for row in rows}


def answer_times(db: sqlite_utils.Database, since: str) -> list[str]:
    """When each item answered since ``since`` was answered (the per-hour chart buckets them)."""
    return [row["at"] for row in db.query("SELECT at FROM routing_events WHERE kind = 'accepted' AND at >= ?", [since])]


def waiting_callers(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """The caller (name, number) of every queued item, by item id."""
    rows = db.query(
        """SELECT qi.id, c.name, c.number FROM queue_items qi LEFT JOIN callers c ON c.id = qi.caller_id"""
    )
    return {row["id"]: {"name": row["name"], "number": row["number"]} for row in rows}


def offer_for(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    """The item ringing ``agent_id`` now, with the call whose context the screen pop shows."""
    rows = list(
        db.query(
            """SELECT qi.id AS item_id, qi.kind, qi.call_sid, qi.callback_id, qi.queue, qi.reason, qi.entered_at,
                      qi.offered_at, qi.ringing_at, COALESCE(qi.call_sid, cb.call_sid) AS context_sid
               FROM queue_items qi LEFT JOIN callbacks cb ON cb.id = qi.callback_id
               WHERE qi.state = 'offered' AND qi.offered_to = ?""",
            [agent_id],
        )
    )
    return rows[0] if rows else None


def agent_may_see_call(db: sqlite_utils.Database, agent_id: str, sid: str) -> bool:
    """Was the call handled by the agent, is it their current call, or is it (or its callback) offered to them?"""
    row = db.execute(
        """SELECT EXISTS (SELECT 1 FROM calls WHERE sid = :sid AND agent_id = :agent)
               OR EXISTS (SELECT 1 FROM agents WHERE id = :agent AND current_call_sid = :sid)
               OR EXISTS (SELECT 1 FROM queue_items qi LEFT JOIN callbacks cb ON cb.id = qi.callback_id
                          WHERE qi.offered_to = :agent AND :sid IN (qi.call_sid, cb.call_sid))""",
        {"sid": sid, "agent": agent_id},
    ).fetchone()
    return bool(row[0])


def replace_skills(db: sqlite_utils.Database, agent_id: str, levels: dict[str, int]) -> None:
    db.execute("DELETE FROM agent_skills WHERE agent_id = ?", [agent_id])
    db["agent_skills"].insert_all(
        ({"agent_id": agent_id, "skill": skill, "level": level} for skill, level in levels.items()),
        pk=("agent_id", "skill"),
    )


def user(db: sqlite_utils.Database, user_id: str) -> dict[str, Any] | None:
    """A person who may sign in: id, name, role, page language and password hash (None without a password)."""
    rows = list(
        db.query("SELECT id, name, role, ui_language, password_hash, session_epoch, demo FROM agents "
                 "WHERE id = ? AND password_hash IS NOT NULL", [user_id])
    )
    return rows[0] if rows else None


def known_callers(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """Callers with a number (the /phone page offers to call as one of them)."""
    return list(db.query("SELECT number, name, language FROM callers WHERE number IS NOT NULL ORDER BY id LIMIT ?", [limit]))


def end_sessions(db: sqlite_utils.Database, user_id: str) -> None:
    """Every session of this person ends (logout, or a password changed)."""
    with transaction(db):
        db.execute("UPDATE agents SET session_epoch = session_epoch + 1 WHERE id = ?", [user_id])


def set_ui_language(db: sqlite_utils.Database, user_id: str, language: str) -> None:
    with transaction(db):
        db.execute("UPDATE agents SET ui_language = ? WHERE id = ?", [language, user_id])


def sign_in_failures(db: sqlite_utils.Database, keys: list[str], since: str) -> dict[str, list[str]]:
    """The times of failed sign-ins since ``since`` for each key (``user:…``, ``address:…``), oldest first."""
    found: dict[str, list[str]] = {key: [] for key in keys}
    marks = ", ".join("?" * len(keys))
    for row in db.query(f"SELECT key, at FROM sign_in_failures WHERE key IN ({marks}) AND at >= ? ORDER BY at",
                        [*keys, since]):
        found[row["key"]].append(row["at"])
    return found


def failed_sign_in(db: sqlite_utils.Database, keys: list[str], at: str, forget_before: str) -> None:
    with transaction(db):
        db.execute("DELETE FROM sign_in_failures WHERE at < ?", [forget_before])
        for key in keys:
            db.execute("INSERT INTO sign_in_failures (key, at) VALUES (?, ?)", [key, at])


def signed_in(db: sqlite_utils.Database, key: str) -> None:
    """A right password: that account's failures are forgotten (the address's are kept)."""
    with transaction(db):
        db.execute("DELETE FROM sign_in_failures WHERE key = ?", [key])
