"""Queue alerts: raised once when a condition starts, cleared when it ends, shown on the monitor at once and
sent to ``ALERT_WEBHOOK_URL`` (by ``services.jobs.deliver_alert``, retried with backoff until delivered).

Conditions, per queue (thresholds in the center file's ``alerts:`` of each queue):

- ``service_level``: over the last 30 minutes, answered within target / (answered + abandoned) is below
  ``service_level_pct`` (default: the queue's own ``sl_target_pct``), once at least one caller was counted;
- ``longest_wait``: a caller has waited longer than ``longest_wait_s`` (default 120 s; 0: never);
- ``no_agent``: callers are waiting and no agent who could take them is signed in (``no_agent: false``: never).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from core.clock import iso
from routing import service
from routing.exceptions import RoutingError
from store import alerts as store
from store import routing as store_routing
from store.db import transaction

log = logging.getLogger(__name__)

KINDS = ("service_level", "longest_wait", "no_agent")
WINDOW = timedelta(minutes=30)
DEFAULT_LONGEST_WAIT_S = 120
BACKOFF_S = (5, 15, 60, 300, 900, 3600)  # between delivery attempts; given up after the last


def thresholds(queue: Mapping[str, Any]) -> dict[str, Any]:
    """A queue's alert thresholds with their defaults filled in."""
    given = queue.get("alerts") or {}
    return {
        "service_level_pct": given.get("service_level_pct", queue["sl_target_pct"]),
        "longest_wait_s": given.get("longest_wait_s", DEFAULT_LONGEST_WAIT_S),
        "no_agent": given.get("no_agent", True),
    }


def check_thresholds(owner: str, given: Any) -> dict[str, Any]:
    """The center file's ``alerts:`` of a queue, checked (RoutingError names the fault)."""
    if not isinstance(given, Mapping) or set(given) - {"service_level_pct", "longest_wait_s", "no_agent"}:
        raise RoutingError(f"{owner}: alerts has service_level_pct (1–100), longest_wait_s (≥ 0), no_agent (true/false)")
    if "service_level_pct" in given and not 1 <= int(given["service_level_pct"]) <= 100:
        raise RoutingError(f"{owner}: alerts.service_level_pct is 1–100")
    if "longest_wait_s" in given and int(given["longest_wait_s"]) < 0:
        raise RoutingError(f"{owner}: alerts.longest_wait_s is ≥ 0")
    return dict(given)


def conditions(db: sqlite_utils.Database, now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """The alert conditions that hold now: (queue, kind) → what the monitor and the webhook say of them."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    queues = {row["name"]: row for row in store_routing.queues(db)}
    for board in service.queue_board(db, now, since=now - WINDOW):
        limits = thresholds(queues[board["queue"]])
        name = board["queue"]
        level = board["service_level"]
        if level is not None and level * 100 < limits["service_level_pct"]:
            found[(name, "service_level")] = {"service_level": level, "threshold_pct": limits["service_level_pct"],
                                              "minutes": int(WINDOW.total_seconds() // 60)}
        if limits["longest_wait_s"] and board["longest_wait_s"] > limits["longest_wait_s"]:
            found[(name, "longest_wait")] = {"longest_wait_s": round(board["longest_wait_s"]),
                                             "threshold_s": limits["longest_wait_s"]}
        if limits["no_agent"] and board["waiting"] and not board["staffed"]:
            found[(name, "no_agent")] = {"waiting": board["waiting"]}
    return found


def check(db: sqlite_utils.Database, now: datetime, *, deliver: bool) -> list[tuple[int, str]]:
    """Raise the alerts whose condition began, clear those whose condition ended; (alert id, "raised"/"cleared")
    for each change, with a delivery queued for each when ``deliver``."""
    holding = conditions(db, now)
    changes: list[tuple[int, str]] = []
    if set(holding) == {(row["queue"], row["kind"]) for row in store.open_alerts(db)}:
        return changes  # nothing began or ended: no write (the webhooks keep the lock to themselves)
    with transaction(db):
        current = {(row["queue"], row["kind"]): row for row in store.open_alerts(db)}
        for key, detail in holding.items():
            if key not in current:
                alert_id = store.raise_alert(db, key[0], key[1], detail, iso(now))
                if alert_id is not None:
                    changes.append((alert_id, "raised"))
        for key, row in current.items():
            if key not in holding:
                store.clear_alert(db, row["id"], iso(now))
                changes.append((row["id"], "cleared"))
        if deliver:
            for alert_id, state in changes:
                store.add_delivery(db, alert_id, state, iso(now))
    for alert_id, state in changes:
        log.warning("alert %s %s", alert_id, state)
    return changes


def payload(delivery: Mapping[str, Any]) -> dict[str, Any]:
    """What the webhook receives for one alert change."""
    return {"alert": delivery["alert_id"], "state": delivery["state"], "queue": delivery["queue"],
            "kind": delivery["kind"], "detail": delivery["detail"], "raised_at": delivery["raised_at"],
            "cleared_at": delivery["cleared_at"]}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Alert-Signature``: HMAC-SHA256 of "<timestamp>.<body>" with ALERT_WEBHOOK_SECRET, as "sha256=<hex>"."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try a delivery again after ``attempts`` failures (None: given up)."""
    return now + timedelta(seconds=BACKOFF_S[attempts - 1]) if attempts <= len(BACKOFF_S) else None
