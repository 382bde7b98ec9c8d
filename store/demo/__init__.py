"""Demo data for `make run`: callers, orders and earlier calls; the staffed demo center is ``CENTER``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils
import yaml

from store import calls
from store.db import transaction

HERE = Path(__file__).parent
CENTER = HERE / "center.yaml"  # skills, queues and agents, loaded by routing.admin.load_center


def seed(db: sqlite_utils.Database) -> dict[str, int]:
    """Load the demo callers, orders and earlier calls, idempotently; returns what was loaded."""
    data = yaml.safe_load((HERE / "callers.yaml").read_text(encoding="utf-8"))
    with transaction(db):
        ids = {}
        for caller in data["callers"]:
            ids[caller["number"]] = calls.upsert_caller(db, **caller)["id"]
        for order in data["orders"]:
            row = {k: v for k, v in order.items() if k != "caller"}
            db["orders"].upsert({**row, "caller_id": ids[order["caller"]]}, pk="number")
        now = datetime.now(UTC)
        for past in data["history"]:
            started = (now - timedelta(days=past["days_ago"])).isoformat(timespec="milliseconds")
            row = {k: v for k, v in past.items() if k not in ("caller", "days_ago")}
            db["calls"].upsert(
                {**row, "caller_id": ids[past["caller"]], "direction": "inbound", "status": "completed",
                 "started_at": started, "ended_at": started, "path": "[]", "digits": "[]", "speech": "[]"},
                pk="sid",
            )
    return {"callers": len(data["callers"]), "orders": len(data["orders"]), "earlier calls": len(data["history"])}


def logins() -> list[dict[str, str]]:
    """The demo center's people who can sign in: id, role and (demo, local use only) password."""
    center = yaml.safe_load(CENTER.read_text(encoding="utf-8"))
    return [
        {"id": a["id"], "role": a.get("role", "agent"), "password": a["password"]}
        for a in center["agents"]
        if a.get("password")
    ]
