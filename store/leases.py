"""SQL of leases: a named piece of work held by one node until a time, taken over once that time has passed."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from store.db import one, transaction


def claim(db: sqlite_utils.Database, name: str, holder: str, now: str, until: str) -> bool:
    """Take or renew ``name`` for ``holder`` until ``until``; False while another holder's lease runs."""
    with transaction(db):
        db.execute("INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                   "SET holder = excluded.holder, until = excluded.until "
                   "WHERE leases.holder = excluded.holder OR leases.until < ?", [name, holder, until, now])
        return one(db, "SELECT holder FROM leases WHERE name = ?", [name])["holder"] == holder


def current(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    return one(db, "SELECT holder, until FROM leases WHERE name = ?", [name])
