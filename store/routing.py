"""Every SQL statement of routing: queues, agents, queue items, the routing event log, admin upserts.

Rows come back as plain dicts with JSON columns decoded; times are ISO 8601 UTC text as in
the rest of the store. Callers (``routing.service``) hold the transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)


def iso(moment: datetime) -> str:
    """``moment`` as the store's timestamp text (UTC, milliseconds); comparable as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _placeholders(values: Collection[Any]) -> str:
    return ", ".join("?" for _ in values)


# Queues and skills


def queues(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = db.query("SELECT * FROM queues ORDER BY name")
    return [{**row, "skills": json.loads(row["skills"]), "escalation": json.loads(row["escalation"])} for row in rows]


def skill_names(db: sqlite_utils.Database) -> set[str]:
    return {row["name"] for row in db.query("SELECT name FROM skills")}


def upsert_skill(db: sqlite_utils.Database, name: str, description: str) -> None:
    db["skills"].upsert({"name": name, "description": description}, pk="name")


def upsert_queue(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    encoded = {**row, "skills": json.dumps(row["skills"]), "escalation": json.dumps(row["escalation"])}
    db["queues"].upsert(encoded, pk="name")


# Agents


def agents(db: sqlite_utils.Database, presence: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Agents (role agent) with their skills {skill: level} and languages, optionally only in ``presence``."""
    where, params = "role = 'agent'", []
    if presence is not None:
        where += f" AND presence IN ({_placeholders(presence)})"
        params = list(presence)
    rows = list(db.query(f"SELECT * FROM agents WHERE {where} ORDER BY id", params))
    skills: dict[str, dict[str, int]] = defaultdict(dict)
    for row in db.query(
        f"SELECT agent_id, skill, level FROM agent_skills WHERE agent_id IN (SELECT id FROM agents WHERE {where})",
        params,
    ):
        skills[row["agent_id"]][row["skill"]] = row["level"]
    return [{**row, "languages": json.loads(row["languages"]), "skills": skills[row["id"]]} for row in rows]


def agent(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM agents WHERE id = ?", [agent_id]))
    if not rows:
        return None
    levels = db.query("SELECT skill, level FROM agent_skills WHERE agent_id = ?", [agent_id])
    return {
        **rows[0],
        "languages": json.loads(rows[0]["languages"]),
        "skills": {r["skill"]: r["level"] for r in levels},
    }


def update_agent(db: sqlite_utils.Database, agent_id: str, **fields: Any) -> None:
    db["agents"].update(agent_id, fields)


def upsert_agent(db: sqlite_utils.Database, row: dict[str, Any], skills: dict[str, int]) -> None:
    """Create or update an agent and replace its skills."""
    db["agents"].upsert({**row, "languages": json.dumps(row["languages"])}, pk="id")
    db.execute("DELETE FROM agent_skills WHERE agent_id = ?", [row["id"]])
    db["agent_skills"].insert_all(
        ({"agent_id": row["id"], "skill": skill, "level": level} for skill, level in skills.items()),
        pk=("agent_id", "skill"),
    )


def wrapups_due(db: sqlite_utils.Database, at: str) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM agents WHERE presence = 'wrapup' AND wrapup_until <= ? ORDER BY id", [at]))


# Queue items


def _decode_item(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "context": json.loads(row["context"] or "{}")}


def items(db: sqlite_utils.Database, state: str | None = None) -> list[dict[str, Any]]:
    """Queue items, all or in one ``state`` (waiting | offered)."""
    if state is None:
        rows = db.query("SELECT * FROM queue_items")
    else:
        rows = db.query("SELECT * FROM queue_items WHERE state = ?", [state])
    return [_decode_item(row) for row in rows]


def item(db: sqlite_utils.Database, item_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM queue_items WHERE id = ?", [item_id]))
    return _decode_item(rows[0]) if rows else None


def insert_item(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    db["queue_items"].insert({**row, "context": json.dumps(row.get("context") or {}, ensure_ascii=False)})


def update_item(db: sqlite_utils.Database, item_id: str, **fields: Any) -> None:
    db["queue_items"].update(item_id, fields)


def delete_item(db: sqlite_utils.Database, item_id: str) -> None:
    db.execute("DELETE FROM queue_items WHERE id = ?", [item_id])


def offers_older_than(db: sqlite_utils.Database, at: str) -> list[dict[str, Any]]:
    return [
        _decode_item(r) for r in db.query("SELECT * FROM queue_items WHERE state = 'offered' AND offered_at <= ?", [at])
    ]


# The routing event log


def add_event(
    db: sqlite_utils.Database,
    at: str,
    kind: str,
    *,
    item_id: str | None = None,
    agent_id: str | None = None,
    queue: str | None = None,
    seconds: float | None = None,
    reason: str | None = None,
) -> None:
    db["routing_events"].insert(
        {
            "at": at,
            "kind": kind,
            "item_id": item_id,
            "agent_id": agent_id,
            "queue": queue,
            "seconds": seconds,
            "reason": reason,
        }
    )


def events(db: sqlite_utils.Database, after_id: int = 0) -> list[dict[str, Any]]:
    """The routing event log in commit order."""
    return list(db.query("SELECT * FROM routing_events WHERE id > ? ORDER BY id", [after_id]))


def recent_talk_times(db: sqlite_utils.Database, queue: str, limit: int) -> list[float]:
    """Talk seconds of the queue's last ``limit`` finished interactions."""
    rows = db.query(
        "SELECT seconds FROM routing_events WHERE queue = ? AND kind = 'ended' ORDER BY id DESC LIMIT ?", [queue, limit]
    )
    return [row["seconds"] for row in rows]


def answer_counts(db: sqlite_utils.Database, queue: str, since: str, target_s: float) -> dict[str, int]:
    """Since ``since``: items answered, answered within ``target_s``, abandoned."""
    row = next(
        db.query(
            """SELECT COUNT(*) FILTER (WHERE kind = 'accepted') AS answered,
                      COUNT(*) FILTER (WHERE kind = 'accepted' AND seconds <= ?) AS within_target,
                      COUNT(*) FILTER (WHERE kind = 'abandoned') AS abandoned
               FROM routing_events WHERE queue = ? AND at >= ? AND kind IN ('accepted', 'abandoned')""",
            [target_s, queue, since],
        )
    )
    return dict(row)


# Calls (the columns routing owns or reads)


def last_agent_for_caller(db: sqlite_utils.Database, caller_id: int, exclude_sid: str | None = None) -> str | None:
    """The agent who last talked with this caller (sticky routing), if any."""
    row = db.execute(
        """SELECT agent_id FROM calls WHERE caller_id = ? AND agent_id IS NOT NULL AND sid != ?
           ORDER BY COALESCE(connected_at, started_at) DESC LIMIT 1""",
        [caller_id, exclude_sid or ""],
    ).fetchone()
    return row[0] if row else None
