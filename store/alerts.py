"""Alerts and their webhook deliveries (see routing.alerts): each open alert is unique per queue and kind."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from store.db import fetch_all, one


def open_alerts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    rows = fetch_all(db, "SELECT * FROM alerts WHERE cleared_at IS NULL ORDER BY raised_at, id")
    return [{**row, "detail": json.loads(row["detail"] or "{}")} for row in rows]


def raise_alert(db: sqlite_utils.Database, queue: str, kind: str, detail: dict[str, Any], at: str) -> int | None:
    """The new alert's id; None when one is open for this queue and kind already."""
    row = db.execute("INSERT INTO alerts (queue, kind, detail, raised_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING "
                     "RETURNING id", [queue, kind, json.dumps(detail), at]).fetchone()
    return row[0] if row else None


def clear_alert(db: sqlite_utils.Database, alert_id: int, at: str) -> None:
    db.execute("UPDATE alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL", [at, alert_id])


def add_delivery(db: sqlite_utils.Database, alert_id: int, state: str, at: str) -> None:
    db.execute("INSERT INTO alert_deliveries (alert_id, state, next_attempt_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
               [alert_id, state, at])


def claim_due_deliveries(db: sqlite_utils.Database, now: str, lease_until: str) -> list[tuple[int, int]]:
    """(id, attempts so far) of the deliveries due by ``now``, claimed until ``lease_until`` (another process then
    leaves them alone; a lost attempt is due again once the lease ends)."""
    due = fetch_all(db, "SELECT id, attempts FROM alert_deliveries WHERE delivered_at IS NULL AND next_attempt_at <= ? "
                        "ORDER BY id", [now])
    for row in due:
        db.execute("UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ?", [lease_until, row["id"]])
    return [(row["id"], row["attempts"]) for row in due]


def delivery(db: sqlite_utils.Database, delivery_id: int) -> dict[str, Any] | None:
    row = one(db, """SELECT d.id, d.state, d.attempts, d.delivered_at, a.id AS alert_id, a.queue, a.kind, a.detail,
                            a.raised_at, a.cleared_at
                     FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = ?""", [delivery_id])
    return None if row is None else {**row, "detail": json.loads(row["detail"] or "{}")}


def delivered(db: sqlite_utils.Database, delivery_id: int, at: str) -> None:
    db.execute("UPDATE alert_deliveries SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
               [at, delivery_id])


def delivery_failed(db: sqlite_utils.Database, delivery_id: int, error: str, next_attempt_at: str | None) -> None:
    """One more failed attempt; tried again at ``next_attempt_at`` (None: given up)."""
    db.execute("UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
               [error[:500], next_attempt_at, delivery_id])
