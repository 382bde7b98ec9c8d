"""What the historical reports read: routing events, callbacks and survey answers in a time range (ISO strings).

Every row is read once per report and bucketed in Python (``routing.reports``), so that intervals follow the
center's local clock (15-minute, half-hour and hour boundaries of TIMEZONE, whatever its offset).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from store.db import fetch_all

# The routing events a report counts (see routing.reports for what each becomes).
REPORT_KINDS = ("enqueued", "offered", "accepted", "answered-again", "abandoned", "ended", "presence", "dialing", "outbound",
                "consult-ringing", "consult")


def events(db: sqlite_utils.Database, start: str, end: str) -> list[dict[str, Any]]:
    """Routing events of the report's kinds from ``start`` (inclusive) to ``end`` (exclusive), in order."""
    marks = ", ".join("?" for _ in REPORT_KINDS)
    return fetch_all(db, f"SELECT id, at, kind, item_id, agent_id, queue, seconds, reason FROM routing_events "
                         f"WHERE at >= ? AND at < ? AND kind IN ({marks}) ORDER BY at, id", [start, end, *REPORT_KINDS])


def presence_before(db: sqlite_utils.Database, start: str) -> dict[str, str]:
    """Each agent's state as ``start`` began: their last presence event before it."""
    rows = fetch_all(db, """SELECT agent_id, reason FROM routing_events AS e
                            WHERE kind = 'presence' AND at < ? AND id = (
                                SELECT MAX(id) FROM routing_events WHERE kind = 'presence' AND agent_id = e.agent_id
                                AND at < ?)""", [start, start])
    return {row["agent_id"]: row["reason"] for row in rows}


def wrapup_ended(db: sqlite_utils.Database, agent_id: str, after: str, kinds: tuple[str, ...]) -> str | None:
    """When an agent in wrap-up at ``after`` left it: their first state-changing event (``kinds``) from then on."""
    rows = fetch_all(db, f"""SELECT at FROM routing_events WHERE agent_id = ? AND at >= ?
                             AND kind IN ({", ".join("?" for _ in kinds)}) ORDER BY at, id LIMIT 1""",
                     [agent_id, after, *kinds])
    return rows[0]["at"] if rows else None


def callbacks(db: sqlite_utils.Database, start: str, end: str) -> list[dict[str, Any]]:
    """Callbacks asked for, or finished (completed/failed), within the range."""
    return fetch_all(db, """SELECT id, queue, status, created_at, updated_at FROM callbacks
                            WHERE (created_at >= ? AND created_at < ?) OR (updated_at >= ? AND updated_at < ?)""",
                     [start, end, start, end])


def survey_scores(db: sqlite_utils.Database, start: str, end: str) -> list[dict[str, Any]]:
    """Survey answers given within the range, with the queue and agent of their call."""
    return fetch_all(db, """SELECT s.at, s.score, c.queue, c.agent_id FROM survey_answers s
                            JOIN calls c ON c.sid = s.call_sid WHERE s.at >= ? AND s.at < ?""", [start, end])


def transfers(db: sqlite_utils.Database, start: str, end: str) -> list[dict[str, Any]]:
    """Transfers made from ``start`` to ``end`` that reached the queue or colleague (completed)."""
    return fetch_all(db, "SELECT created_at, from_queue, from_agent, mode FROM transfers "
                         "WHERE created_at >= ? AND created_at < ? AND state = 'completed' ORDER BY id", [start, end])


def agent_names(db: sqlite_utils.Database) -> dict[str, str]:
    return {row["id"]: row["name"] for row in fetch_all(db, "SELECT id, name FROM agents WHERE role = 'agent'")}
