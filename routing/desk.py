"""What the agent and supervisor pages show and do, on the shared store (no Flask).

Snapshots hold moments (``entered_at``, ``presence_since``, ``wrapup_until``), not ages, so two
snapshots of an unchanged center are equal and the pages count the seconds themselves.

The supervisor's figures, per queue; "today" starts at local midnight in the center's time zone:

- **waiting**: items waiting for an agent now; **offered**: ringing an agent now;
- **longest wait**: since the oldest queued item entered the line (its place survives ring-no-answer
  and callbacks);
- **estimated wait**: the estimate (``routing.estimates``) of the last waiting item in line, i.e.
  at least what a caller joining now faces; unknown when nobody staffed can take one of them;
- **service level**: answered within the queue's target / (answered + abandoned) today, as
  ``routing.service.queue_board`` counts it;
- **ASA**: average wait of the items answered today; **abandon rate**: abandoned / (answered + abandoned);
- a transferred call counts once in each queue it was answered in: a caller transferred back into a queue that
  answered them is neither offered nor answered there again (``requeued``, ``answered-again`` events);
- **callbacks**: pending (or being dialled) now, failed today;
- **handled per hour**: items answered by an agent in each local hour of today;
- **monitors**: which supervisor listens to, whispers to or barges into which call now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from core.clock import iso, parse_time
from core.conference import HEARD_BY_AGENT
from routing import service
from routing.exceptions import RoutingError
from routing.model import MANUAL, check_level
from store import alerts as store_alerts
from store import desk as store
from store import monitors, transfers
from store import routing as store_routing
from store.db import transaction

log = logging.getLogger(__name__)

# What the pages show of an agent: presence, time in state, current work.
AGENT_FIELDS = ("id", "name", "presence", "presence_since", "not_ready_reason", "wrapup_until", "current_call_sid", "current_queue")

PRESENCES = tuple(p.value for p in sorted(MANUAL))


def start_of_day(now: datetime, timezone: str) -> datetime:
    """Local midnight of ``now``'s day in ``timezone``, as an aware UTC datetime."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def handled_per_hour(answered_at: list[str], timezone: str) -> list[int]:
    """Answers counted by local hour of the day (24 buckets)."""
    counts = [0] * 24
    zone = ZoneInfo(timezone)
    for at in answered_at:
        counts[parse_time(at).astimezone(zone).hour] += 1
    return counts


def _queue_figures(
    board: dict[str, Any],
    mine: list[dict[str, Any]],
    waits: list[float | None],
    asa: Mapping[str, Any] | None,
    callbacks: Mapping[str, int] | None,
) -> dict[str, Any]:
    """One queue's row of the monitor (see the module doc for each figure)."""
    handled = board["answered"] + board["abandoned"]
    return {
        "queue": board["queue"],
        "waiting": board["waiting"],
        "offered": board["offered"],
        "oldest_entered_at": min((row["entered_at"] for row in mine), default=None),
        "estimated_wait_s": None if not waits or None in waits else round(max(waits)),
        "staffed": board["staffed"],
        "available": board["available"],
        "answered": board["answered"],
        "within_target": board["within_target"],
        "abandoned": board["abandoned"],
        "service_level": board["service_level"],
        "sl_target_s": board["sl_target_s"],
        "sl_target_pct": board["sl_target_pct"],
        "asa_s": round(asa["asa_s"], 1) if asa else None,
        "abandon_rate": round(board["abandoned"] / handled, 3) if handled else None,
        "callbacks_pending": callbacks["pending"] if callbacks else 0,
        "callbacks_failed": callbacks["failed"] if callbacks else 0,
    }


def supervisor_snapshot(db: sqlite_utils.Database, now: datetime, timezone: str) -> dict[str, Any]:
    """Queues with today's figures, the waiting list, the agents' board and answers per hour."""
    since = start_of_day(now, timezone)
    items = store_routing.items(db)
    estimates = service.estimates(db, now)
    asa = store.answered_today(db, iso(since))
    callbacks = store.callback_counts(db, iso(since))
    callers = store.waiting_callers(db)
    queues = []
    for board in service.queue_board(db, now, since=since):
        name = board["queue"]
        mine = [row for row in items if row["queue"] == name]
        waits = [estimates[row["id"]].wait_s for row in mine if row["state"] == "waiting" and row["id"] in estimates]
        queues.append(_queue_figures(board, mine, waits, asa.get(name), callbacks.get(name)))
    waiting = [
        {
            "id": row["id"],
            "kind": row["kind"],
            "queue": row["queue"],
            "language": row["language"],
            "state": row["state"],
            "offered_to": row["offered_to"],
            "entered_at": row["entered_at"],
            "position": estimates[row["id"]].position if row["id"] in estimates else None,
            "caller": callers.get(row["id"]) or {},
        }
        for row in sorted(items, key=lambda row: row["entered_at"])
    ]
    agents = [
        {k: row[k] for k in (*AGENT_FIELDS, "languages", "skills")}
        for row in store_routing.agents(db)
    ]
    return {
        "day_started_at": iso(since),
        "queues": queues,
        "waiting": waiting,
        "agents": agents,
        "handled_per_hour": handled_per_hour(store.answer_times(db, iso(since)), timezone),
        "alerts": store_alerts.open_alerts(db),
        "monitors": [{k: row[k] for k in ("call_sid", "supervisor_id", "mode", "joined_at")} for row in monitors.live(db)],
    }


def agent_snapshot(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any]:
    """The agent's presence and work, and the item ringing them (with the call its screen pop shows)."""
    row = store_routing.agent(db, agent_id)
    if row is None:
        raise RoutingError(f"no agent {agent_id}")
    on_line = [{"supervisor": (store_routing.agent(db, m["supervisor_id"]) or {"name": m["supervisor_id"]})["name"],
                "mode": m["mode"]}
               for m in (monitors.on_call(db, row["current_call_sid"]) if row["current_call_sid"] else [])
               if m["mode"] in HEARD_BY_AGENT and m["joined_at"]]  # (a supervisor who only listens is not shown)
    moving = transfers.open_involving(db, agent_id)
    return {"agent": {k: row[k] for k in AGENT_FIELDS}, "offer": store.offer_for(db, agent_id), "supervisors": on_line,
            "transfer_out": next((t for t in moving if t["from_agent"] == agent_id), None),
            "transfer_in": next((t for t in moving if t["to_agent"] == agent_id), None)}


def set_skills(db: sqlite_utils.Database, agent_id: str, skills: Mapping[str, Any], now: datetime) -> dict[str, int]:
    """Replace an agent's skills ({skill: level 1–5}); routing uses them from its next decision."""
    known = store_routing.skill_names(db)
    unknown = set(skills) - known
    if unknown:
        raise RoutingError(f"unknown skills {sorted(unknown)}; known: {sorted(known)}")
    levels = {skill: check_level(skill, level) for skill, level in skills.items()}
    with transaction(db):
        row = store_routing.agent(db, agent_id)
        if row is None or row["role"] != "agent":
            raise RoutingError(f"no agent {agent_id}")
        store.replace_skills(db, agent_id, levels)
        described = ", ".join(f"{skill} {level}" for skill, level in sorted(levels.items())) or "none"
        store_routing.add_event(db, iso(now), "skills", agent_id=agent_id, reason=described)
    log.info("skills of %s set to %s", agent_id, levels)
    return levels
