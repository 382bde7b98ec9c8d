"""Staffing advice: the agents each interval of a day needs to reach its queue's service-level target.

From the last ``weeks`` same weekdays on which the queue had any calls: the mean arrivals in each interval
(``offered``), the measured AHT (talk + wrap, weighted by calls handled) and the callers' patience (the
maximum-likelihood mean of an exponential patience: all time spent waiting / callers who abandoned). Agents
needed: the fewest reaching the target by Erlang C (nobody abandons) and by Erlang A (callers abandon with
the measured patience; Erlang C when nobody abandoned), beside the agents signed in now who can take the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils

from routing import reports, service
from routing.erlang import agents_for, load_of
from routing.exceptions import RoutingError
from store import routing as store_routing

WEEKS = 4


@dataclass(frozen=True)
class History:
    """What the queue's past weekdays say: arrivals per interval start (local "HH:MM"), AHT, patience."""

    days: int
    arrivals: dict[str, float]
    aht_s: float | None
    patience_s: float


def history(db: sqlite_utils.Database, queue: str, day: date, minutes: int, timezone: str, now: datetime,
            weeks: int = WEEKS) -> History:
    """The queue's last ``weeks`` same weekdays before ``day`` (those with any call)."""
    counts: dict[str, float] = {}
    days = 0
    handled = handle_sum = waiting_sum = abandoned = 0.0
    for back in range(1, weeks + 1):
        past = (day - timedelta(weeks=back)).isoformat()
        period = reports.Period.parse(past, past, str(minutes), timezone)
        rows = reports.report(db, period, now, queue=queue)
        if not any(row["offered"] for row in rows):
            continue
        days += 1
        for row in rows:
            slot = row["interval_start"][11:16]
            counts[slot] = counts.get(slot, 0) + row["offered"]
            handled += row["handled"]
            handle_sum += (row["aht_s"] or 0) * row["handled"]
            waiting_sum += (row["asa_s"] or 0) * row["answered"] + (row["abandon_wait_s"] or 0) * row["abandoned"]
            abandoned += row["abandoned"]
    return History(
        days=days,
        arrivals={slot: count / days for slot, count in sorted(counts.items())} if days else {},
        aht_s=handle_sum / handled if handled else None,
        patience_s=waiting_sum / abandoned if abandoned else math.inf,
    )


def advice(db: sqlite_utils.Database, queue: str, day: date, now: datetime, timezone: str, minutes: int = 30,
           weeks: int = WEEKS) -> dict[str, Any]:
    """Per interval of ``day`` with expected calls: arrivals, load and agents needed (Erlang C and A)."""
    spec = next((q for q in store_routing.queues(db) if q["name"] == queue), None)
    if spec is None:
        raise RoutingError(f"no queue {queue}")
    past = history(db, queue, day, minutes, timezone, now, weeks)
    target_s, level = spec["sl_target_s"], spec["sl_target_pct"] / 100
    intervals = []
    for slot, arrivals in past.arrivals.items():
        if not past.aht_s or not arrivals:
            continue
        load = load_of(arrivals, minutes * 60, past.aht_s)
        intervals.append({
            "start": slot, "arrivals": round(arrivals, 1), "load": round(load, 2),
            "agents_erlang_c": agents_for(load, past.aht_s, target_s, level),
            "agents_erlang_a": agents_for(load, past.aht_s, target_s, level, patience_s=past.patience_s),
        })
    staffed = next((b["staffed"] for b in service.queue_board(db, now) if b["queue"] == queue), 0)
    return {
        "queue": queue, "day": day.isoformat(), "interval_minutes": minutes, "weekdays_seen": past.days,
        "aht_s": round(past.aht_s, 1) if past.aht_s else None,
        "patience_s": None if math.isinf(past.patience_s) else round(past.patience_s, 1),
        "sl_target_s": target_s, "sl_target_pct": spec["sl_target_pct"], "signed_in_now": staffed,
        "intervals": intervals,
    }
