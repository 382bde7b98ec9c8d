"""SQL of callbacks."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from core.clock import now_text as now
from store.db import NotFoundError, fetch_all
from store.exceptions import StoreError

OPEN_STATUSES = ("pending", "dialing", "connected")


def get(db: sqlite_utils.Database, callback_id: int) -> dict[str, Any]:
    try:
        return db["callbacks"].get(callback_id)
    except NotFoundError:
        raise StoreError(f"no callback {callback_id}") from None


def insert(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    stamp = now()
    return db["callbacks"].insert({**row, "created_at": stamp, "updated_at": stamp}).last_pk


def update(db: sqlite_utils.Database, callback_id: int, **fields: Any) -> None:
    db["callbacks"].update(callback_id, {**fields, "updated_at": now()})


def claim(db: sqlite_utils.Database, callback_id: int, agent_id: str, at: str) -> bool:
    """pending → dialing, once: the row changes only if nobody claimed it first (no double dialling)."""
    changed = db.execute(
        "UPDATE callbacks SET status = 'dialing', attempts = attempts + 1, agent_id = ?, dialing_since = ?, "
        "placed_call_sid = NULL, updated_at = ? WHERE id = ? AND status = 'pending'",
        [agent_id, at, now(), callback_id],
    ).rowcount
    return changed == 1


OPEN_FOR_NUMBER = f"SELECT * FROM callbacks WHERE number = ? AND status IN ({', '.join('?' for _ in OPEN_STATUSES)}) ORDER BY id"


def open_for_number(db: sqlite_utils.Database, number: str) -> list[dict[str, Any]]:
    """The number's callbacks still to be made (every incoming call asks)."""
    return fetch_all(db, OPEN_FOR_NUMBER, [number, *OPEN_STATUSES])


def by_status(db: sqlite_utils.Database, *statuses: str) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in statuses)
    return list(db.query(f"SELECT * FROM callbacks WHERE status IN ({marks}) ORDER BY id", list(statuses)))


def by_placed_call(db: sqlite_utils.Database, call_sid: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM callbacks WHERE placed_call_sid = ?", [call_sid]))
    return rows[0] if rows else None
