"""Every SQL statement of routing: queues, agents, queue items, the routing event log, admin upserts.

Rows come back as plain dicts with JSON columns decoded; times are ISO 8601 UTC text as in
the rest of the store. Callers (``routing.service``, ``routing.admin``) hold the transaction.

Rule for writers: a change to an agent's routing columns or skills, or to a queue item, is
logged in ``routing_events`` naming that agent or item, in the same transaction; a change to
queues or skills is logged as a ``config`` event. Processes keep their routing indexes
current from this log (``routing.live``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from typing import Any

import sqlite_utils

from core.clock import now_text as now
from store import dialect
from store.db import fetch_all, insert, one, to_json, update

log = logging.getLogger(__name__)


def _placeholders(values: Collection[Any]) -> str:
    return ", ".join("?" for _ in values)


# Queues and skills


def queues(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = fetch_all(db, "SELECT * FROM queues ORDER BY name")
    return [{**row, "skills": json.loads(row["skills"]), "escalation": json.loads(row["escalation"]),
             "names": json.loads(row["names"]), "alerts": json.loads(row["alerts"])} for row in rows]


def skill_names(db: sqlite_utils.Database) -> set[str]:
    return {row["name"] for row in fetch_all(db, "SELECT name FROM skills")}


def upsert_skill(db: sqlite_utils.Database, name: str, description: str, at: str | None = None) -> None:
    db["skills"].upsert({"name": name, "description": description}, pk="name")
    add_event(db, at or now(), "config", reason=f"skill {name}")


def upsert_queue(db: sqlite_utils.Database, row: dict[str, Any], at: str | None = None) -> None:
    encoded = {**row, **{key: json.dumps(row[key], ensure_ascii=False) for key in ("skills", "escalation", "names", "alerts")
                          if key in row}}
    db["queues"].upsert(encoded, pk="name")
    add_event(db, at or now(), "config", queue=row["name"], reason=f"queue {row['name']}")


# Agents


def agents(
    db: sqlite_utils.Database,
    presence: Collection[str] | None = None,
    ids: Collection[str] | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    """Agents (role agent) with their skills {skill: level} and languages; optionally only in ``presence``, with
    these ``ids``, speaking ``language``."""
    where, params = ["role = 'agent'"], []
    for column, values in (("presence", presence), ("id", ids)):
        if values is not None:
            where.append(f"{column} IN ({_placeholders(values)})")
            params.extend(values)
    if language is not None:
        where.append(dialect.of(db).in_json_list("a.languages"))
        params.append(language)
    rows = fetch_all(db,
        f"""SELECT a.*, (SELECT {dialect.of(db).json_object_of("skill", "level")} FROM agent_skills WHERE agent_id = a.id) AS skills
            FROM agents a WHERE {" AND ".join(where)} ORDER BY id""",
        params,
    )
    return [{**row, "languages": json.loads(row["languages"]), "skills": json.loads(row["skills"])} for row in rows]


def agent(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any] | None:
    row = one(db, "SELECT * FROM agents WHERE id = ?", [agent_id])
    if row is None:
        return None
    levels = fetch_all(db, "SELECT skill, level FROM agent_skills WHERE agent_id = ?", [agent_id])
    return {**row, "languages": json.loads(row["languages"]), "skills": {r["skill"]: r["level"] for r in levels}}


def update_agent(db: sqlite_utils.Database, agent_id: str, **fields: Any) -> None:
    update(db, "agents", "id", agent_id, fields)


def upsert_agent(db: sqlite_utils.Database, row: dict[str, Any], skills: dict[str, int], at: str | None = None) -> None:
    """Create or update an agent and replace its skills."""
    db["agents"].upsert({**row, "languages": json.dumps(row["languages"])}, pk="id")
    db.execute("DELETE FROM agent_skills WHERE agent_id = ?", [row["id"]])
    db["agent_skills"].insert_all(
        ({"agent_id": row["id"], "skill": skill, "level": level} for skill, level in skills.items()),
        pk=("agent_id", "skill"),
    )
    add_event(db, at or now(), "agent-updated", agent_id=row["id"])


def agent_on_call(db: sqlite_utils.Database, call_sid: str) -> dict[str, Any] | None:
    """The agent busy on (or wrapping up) ``call_sid``, if any."""
    return one(db, "SELECT * FROM agents WHERE current_call_sid = ?", [call_sid])


def wrapups_due(db: sqlite_utils.Database, at: str) -> list[dict[str, Any]]:
    return list(fetch_all(db, "SELECT * FROM agents WHERE presence = 'wrapup' AND wrapup_until <= ? ORDER BY id", [at]))


# Queue items


def _decode_item(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "context": json.loads(row["context"] or "{}")}


def items(
    db: sqlite_utils.Database, state: str | None = None, ids: Collection[str] | None = None, queue: str | None = None
) -> list[dict[str, Any]]:
    """Queue items: all, or in one ``state`` (waiting | offered), with these ``ids``, in one ``queue``."""
    where, params = ["TRUE"], []
    for column, values in (
        ("state", None if state is None else [state]),
        ("id", ids),
        ("queue", None if queue is None else [queue]),
    ):
        if values is not None:
            where.append(f"{column} IN ({_placeholders(values)})")
            params.extend(values)
    return [_decode_item(row) for row in fetch_all(db, f"SELECT * FROM queue_items WHERE {' AND '.join(where)}", params)]


def item(db: sqlite_utils.Database, item_id: str) -> dict[str, Any] | None:
    row = one(db, "SELECT * FROM queue_items WHERE id = ?", [item_id])
    return _decode_item(row) if row else None


def insert_item(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    insert(db, "queue_items", {**row, "context": to_json(row.get("context") or {})})


def update_item(db: sqlite_utils.Database, item_id: str, **fields: Any) -> None:
    update(db, "queue_items", "id", item_id, fields)


def mark_ringing(db: sqlite_utils.Database, item_id: str, agent_id: str, at: str) -> None:
    """The agent's phone rings for the item (once per offer)."""
    db.execute("UPDATE queue_items SET ringing_at = ? WHERE id = ? AND offered_to = ? AND ringing_at IS NULL",
               [at, item_id, agent_id])


def reserve(db: sqlite_utils.Database, item_id: str, agent_id: str, at: str, reason: str) -> bool:
    """Offer a waiting item to an available agent. False when either no longer is so: the caller must then roll
    the transaction back (one of the two rows may have changed)."""
    offered = db.execute(
        """UPDATE queue_items SET state = 'offered', offered_to = ?, offered_at = ?, reason = ?, offers = offers + 1,
                  ringing_at = NULL
           WHERE id = ? AND state = 'waiting'""",
        [agent_id, at, reason, item_id],
    ).rowcount
    reserved = db.execute(
        """UPDATE agents SET presence = 'reserved', presence_since = ?, current_item = ?,
                  current_queue = (SELECT queue FROM queue_items WHERE id = ?), not_ready_reason = NULL
           WHERE id = ? AND presence = 'available'""",
        [at, item_id, item_id, agent_id],
    ).rowcount
    return offered == reserved == 1


def delete_item(db: sqlite_utils.Database, item_id: str) -> None:
    db.execute("DELETE FROM queue_items WHERE id = ?", [item_id])


def anyone_waiting_and_available(db: sqlite_utils.Database) -> bool:
    """True when an item waits and an agent is available: only then can a dispatch match anything."""
    return bool(
        db.execute(
            """SELECT EXISTS (SELECT 1 FROM queue_items WHERE state = 'waiting')
                  AND EXISTS (SELECT 1 FROM agents WHERE presence = 'available' AND role = 'agent')"""
        ).fetchone()[0]
    )


def offers_older_than(db: sqlite_utils.Database, at: str, kind: str) -> list[dict[str, Any]]:
    rows = fetch_all(db, "SELECT * FROM queue_items WHERE state = 'offered' AND offered_at <= ? AND kind = ?", [at, kind])
    return [_decode_item(r) for r in rows]


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
    insert(
        db,
        "routing_events",
        {
            "at": at,
            "kind": kind,
            "item_id": item_id,
            "agent_id": agent_id,
            "queue": queue,
            "seconds": seconds,
            "reason": reason,
        },
    )


def instance_id(db: sqlite_utils.Database) -> str:
    """The random identity this database was given when it was created."""
    return db.execute("SELECT id FROM routing_instance").fetchone()[0]


def last_event_id(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM routing_events").fetchone()[0]


def touched_since(db: sqlite_utils.Database, after_id: int) -> tuple[bool, set[str], set[str]]:
    """Since event ``after_id``: whether queues or skills changed, and the agents and items events name."""
    config, agent_ids, item_ids = False, set(), set()
    for kind, agent_id, item_id in db.execute(
        "SELECT kind, agent_id, item_id FROM routing_events WHERE id > ?", [after_id]
    ).fetchall():
        config = config or kind == "config"
        if agent_id:
            agent_ids.add(agent_id)
        if item_id:
            item_ids.add(item_id)
    return config, agent_ids, item_ids


def events(db: sqlite_utils.Database, after_id: int = 0) -> list[dict[str, Any]]:
    """The routing event log in commit order."""
    return list(fetch_all(db, "SELECT * FROM routing_events WHERE id > ? ORDER BY id", [after_id]))


def recent_talk_times(db: sqlite_utils.Database, queue: str, limit: int) -> list[float]:
    """Talk seconds of the queue's last ``limit`` finished interactions."""
    rows = fetch_all(db,
        "SELECT seconds FROM routing_events WHERE queue = ? AND kind = 'ended' ORDER BY id DESC LIMIT ?", [queue, limit]
    )
    return [row["seconds"] for row in rows]


def happened_before(db: sqlite_utils.Database, item_id: str, queue: str, kind: str) -> bool:
    """Has the item had a ``kind`` event in ``queue`` (a transferred call back in a queue it was in)?"""
    return one(db, "SELECT 1 AS yes FROM routing_events WHERE item_id = ? AND kind = ? AND queue = ? LIMIT 1",
               [item_id, kind, queue]) is not None


def answer_counts(db: sqlite_utils.Database, queue: str, since: str, target_s: float) -> dict[str, int]:
    """Since ``since``: items answered, answered within ``target_s``, abandoned."""
    return one(
        db,
        """SELECT COUNT(*) FILTER (WHERE kind = 'accepted') AS answered,
                  COUNT(*) FILTER (WHERE kind = 'accepted' AND seconds <= ?) AS within_target,
                  COUNT(*) FILTER (WHERE kind = 'abandoned') AS abandoned
           FROM routing_events WHERE queue = ? AND at >= ? AND kind IN ('accepted', 'abandoned')""",
        [target_s, queue, since],
    )


# Calls (the columns routing owns or reads)


def last_agent_for_caller(db: sqlite_utils.Database, caller_id: int, exclude_sid: str | None = None) -> str | None:
    """The agent who last talked with this caller (sticky routing), if any."""
    row = db.execute(
        """SELECT agent_id FROM calls WHERE caller_id = ? AND agent_id IS NOT NULL AND sid != ?
           ORDER BY COALESCE(connected_at, started_at) DESC LIMIT 1""",
        [caller_id, exclude_sid or ""],
    ).fetchone()
    return row[0] if row else None
