"""Historical reports: per queue or per agent, by 15/30/60-minute interval or by day of the center's local clock.

Every figure comes from the append-only routing events (and the callbacks and survey answers), counted in the
interval in which it happened:

- **offered**: callers who entered the queue (``enqueued``); a call transferred into a queue is offered there too,
  but a call transferred back into a queue it was in is not offered there again (``requeued``);
- **answered**: items an agent answered (``accepted``), of which **within target**: after a wait of at most the
  queue's ``sl_target_s``; **ASA**: their mean wait. A transferred call counts once in each queue it was answered
  in: answered again in the same queue (``answered-again``) it is not counted again there, and a warm transfer
  is not a new answer; per agent, every call they answered counts;
- **transferred**: calls handed to another queue or colleague that reached them (cold transfers, warm transfers
  completed), counted in the queue they left and for the agent who sent them;
- **abandoned**: callers who hung up while waiting (or while an agent's phone rang), and **abandon wait**: how long
  they had waited before giving up;
- **service level**: within target / (answered + abandoned), as the live monitor counts it;
- **handled**, **talk**, **wrap**, **AHT**: the calls whose talk ended in the interval, their mean talk time and the
  mean wrap-up their agents spent after them; AHT = mean talk + wrap;
- **callbacks requested** (asked for in the interval), **completed** and **failed** (finished in it);
- **survey**: mean score (1–5) of the answers given in the interval, and how many;
- per agent, **outbound**: the calls they placed (click-to-call) in the interval; their talk and wrap-up count in
  handled and AHT like any call's;
- per agent, **occupancy**: time reserved, on calls or in wrap-up / time staffed (those and available), within the
  interval.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from core.clock import iso, parse_time
from routing.exceptions import RoutingError
from routing.model import STAFFED, WORKING, Presence
from store import reports as store
from store import routing as store_routing

INTERVALS = {"15": 15, "30": 30, "60": 60, "day": None}
MAX_DAYS = 92
QUEUE_COLUMNS = ("offered", "answered", "within_target", "abandoned", "abandon_wait_s", "service_level", "asa_s",
                 "handled", "talk_s", "wrap_s", "aht_s", "transferred", "callbacks_requested", "callbacks_completed",
                 "callbacks_failed", "survey_score", "survey_answers")
AGENT_COLUMNS = ("answered", "outbound", "transferred", "handled", "talk_s", "wrap_s", "aht_s", "staffed_s", "working_s",
                 "occupancy", "survey_score", "survey_answers")


def local_date(moment: datetime, timezone: str) -> date:
    """The center's calendar date at ``moment``."""
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Period:
    """The report's range: local dates ``first``..``last`` (inclusive) in ``zone``, cut into ``minutes`` (None: days)."""

    first: date
    last: date
    minutes: int | None
    zone: ZoneInfo

    @classmethod
    def parse(cls, first: str, last: str, interval: str, timezone: str) -> Period:
        """From the API's strings; RoutingError (a 400) naming what is wrong."""
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            raise RoutingError("from and to are dates, YYYY-MM-DD") from None
        if interval not in INTERVALS:
            raise RoutingError(f"interval is one of {', '.join(INTERVALS)}")
        if end < start or (end - start).days >= MAX_DAYS:
            raise RoutingError(f"to must be on or after from, and the range at most {MAX_DAYS} days")
        return cls(start, end, INTERVALS[interval], ZoneInfo(timezone))

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.zone).astimezone(UTC)

    def bucket(self, moment: datetime) -> datetime:
        """The local start of the interval ``moment`` falls in."""
        local = moment.astimezone(self.zone)
        if self.minutes is None:
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = local.minute - local.minute % self.minutes if self.minutes < 60 else 0
        return local.replace(minute=minute, second=0, microsecond=0)

    def next_bucket(self, bucket: datetime) -> datetime:
        if self.minutes is None:
            return datetime.combine(bucket.date() + timedelta(days=1), time(), tzinfo=self.zone)
        return (bucket.astimezone(UTC) + timedelta(minutes=self.minutes)).astimezone(self.zone)


@dataclass
class Tally:
    """The counts and sums of one row (a queue or an agent in one interval)."""

    counts: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, name: str, amount: float = 1) -> None:
        self.counts[name] += amount

    def sample(self, name: str, value: float) -> None:
        self.waits[name].append(value)

    def mean(self, name: str) -> float | None:
        values = self.waits.get(name)
        return round(sum(values) / len(values), 1) if values else None


def report(db: sqlite_utils.Database, period: Period, now: datetime, *, by: str = "queue",
           queue: str | None = None) -> list[dict]:
    """The rows of the report: one per interval with activity and queue (``by="queue"``) or agent (``"agent"``)."""
    queues = {q["name"]: q for q in store_routing.queues(db)}
    if queue is not None and queue not in queues:
        raise RoutingError(f"no queue {queue}")
    if by not in ("queue", "agent"):
        raise RoutingError("by is queue or agent")
    start, end = iso(period.start), iso(period.end)
    tallies: dict[tuple[datetime, str], Tally] = defaultdict(Tally)
    events = store.events(db, start, end)
    for key, event, kind in list(_timeline(db, period, events, now)):  # (whole first: wrap-up is known later)
        if by == "queue" and event.get("queue") and (queue is None or event["queue"] == queue):
            _count_queue(tallies[(key, event["queue"])], kind, event, queues)
        if by == "agent" and event.get("agent_id") and (queue is None or event.get("queue") in (queue, None)):
            _count_agent(tallies[(key, event["agent_id"])], kind, event)
    for row in store.callbacks(db, start, end):
        if by == "queue" and (queue is None or row["queue"] == queue):
            _count_callback(tallies, period, row)
    for made in store.transfers(db, start, end):
        owner = made["from_queue"] if by == "queue" else made["from_agent"]
        if owner and (queue is None or made["from_queue"] == queue):
            tallies[(period.bucket(parse_time(made["created_at"])), owner)].add("transferred")
    for answer in store.survey_scores(db, start, end):
        owner = answer["queue"] if by == "queue" else answer["agent_id"]
        if owner and (queue is None or answer["queue"] == queue):
            tally = tallies[(period.bucket(parse_time(answer["at"])), owner)]
            tally.sample("survey", answer["score"])
    names = store.agent_names(db)
    rows = [_row(bucket, owner, tally, by, queues, names) for (bucket, owner), tally in tallies.items()]
    return sorted((row for row in rows if row is not None), key=lambda row: (row["interval_start"], row[by]))


def _timeline(db: sqlite_utils.Database, period: Period, events: list[dict], now: datetime):
    """Each event with the interval it counts in, and each agent's time in a state split at interval boundaries
    (as ("state", {"agent_id", "state", "seconds"}) items); wrap-up time is given to the call that ended before it."""
    state = store.presence_before(db, iso(period.start))
    since = dict.fromkeys(state, period.start)
    ended: dict[str, dict] = {}  # agent → the "ended" event whose wrap-up is running
    for event in events:
        at = parse_time(event["at"])
        agent = event["agent_id"]
        new_state = _state_after(event)
        if agent and new_state is not None:
            yield from _spent(period, agent, state.get(agent), since.get(agent, period.start), at)
            if state.get(agent) == Presence.WRAPUP and new_state != Presence.WRAPUP and agent in ended:
                finished = ended.pop(agent)
                finished["wrap_s"] += (at - since.get(agent, at)).total_seconds()
            state[agent], since[agent] = new_state, at
        if event["kind"] == "ended":
            event["wrap_s"] = 0.0
            if agent:
                ended[agent] = event
        if event["kind"] != "presence":
            yield period.bucket(at), event, event["kind"]
    for agent, current in state.items():
        yield from _spent(period, agent, current, since.get(agent, period.start), min(period.end, now))
    for agent, finished in ended.items():  # wrap-up still running at the period's end: the call's own, to its end
        if state.get(agent) == Presence.WRAPUP:
            left = store.wrapup_ended(db, agent, iso(period.end), (*STATE_AFTER, "presence"))
            until = min(parse_time(left), now) if left else now
            finished["wrap_s"] += max(0.0, (until - since[agent]).total_seconds())


STATE_AFTER = {"offered": Presence.RESERVED, "accepted": Presence.BUSY, "answered-again": Presence.BUSY,
               "dialing": Presence.RESERVED, "outbound": Presence.BUSY, "consult-ringing": Presence.RESERVED,
               "consult": Presence.BUSY}  # the state an agent is in once an event of this kind happened


def _state_after(event: dict) -> str | None:
    """The agent's state once this event happened (None: unchanged)."""
    return event["reason"] if event["kind"] == "presence" else STATE_AFTER.get(event["kind"])


def _spent(period: Period, agent: str, current: str | None, start: datetime, end: datetime):
    """The agent's time in ``current`` from ``start`` to ``end``, one item per interval it touches."""
    if current is None or end <= start:
        return
    moment = start
    while moment < end:
        bucket = period.bucket(moment)
        until = min(end, period.next_bucket(bucket).astimezone(UTC))
        yield bucket, {"agent_id": agent, "state": current, "seconds": (until - moment).total_seconds()}, "state"
        moment = until


def _count_queue(tally: Tally, kind: str, event: dict, queues: dict[str, dict]) -> None:
    if kind == "enqueued":
        tally.add("offered")
    elif kind == "accepted":
        tally.add("answered")
        tally.sample("wait", event["seconds"] or 0)
        if (event["seconds"] or 0) <= queues.get(event["queue"], {}).get("sl_target_s", 20):
            tally.add("within_target")
    elif kind == "abandoned":
        tally.add("abandoned")
        tally.sample("abandon_wait", event["seconds"] or 0)
    elif kind == "ended":
        _count_handled(tally, event)


def _count_handled(tally: Tally, event: dict) -> None:
    talk = event["seconds"] or 0
    tally.sample("talk", talk)
    tally.sample("wrap", event.get("wrap_s", 0.0))
    tally.sample("handle", talk + event.get("wrap_s", 0.0))


def _count_agent(tally: Tally, kind: str, event: dict) -> None:
    if kind in ("accepted", "answered-again", "outbound"):
        tally.add("outbound" if kind == "outbound" else "answered")
    elif kind == "ended":
        _count_handled(tally, event)
    elif kind == "state":
        if event["state"] in {p.value for p in STAFFED}:
            tally.add("staffed_s", event["seconds"])
        if event["state"] in {p.value for p in WORKING}:
            tally.add("working_s", event["seconds"])


def _count_callback(tallies: dict, period: Period, row: dict) -> None:
    created, updated = parse_time(row["created_at"]), parse_time(row["updated_at"])
    if created and period.start <= created < period.end:
        tallies[(period.bucket(created), row["queue"])].add("callbacks_requested")
    if updated and period.start <= updated < period.end and row["status"] in ("completed", "failed"):
        tallies[(period.bucket(updated), row["queue"])].add(f"callbacks_{row['status']}")


def _row(bucket: datetime, owner: str, tally: Tally, by: str, queues: dict, names: dict) -> dict[str, Any] | None:
    """A report row, or None for an interval where nothing was counted (time spent offline, say)."""
    c = tally.counts
    survey = tally.mean("survey")
    common = {"survey_score": survey, "survey_answers": len(tally.waits.get("survey", []))}
    if by == "queue":
        if owner not in queues:
            return None
        handled = c["answered"] + c["abandoned"]
        figures = {
            "offered": int(c["offered"]), "answered": int(c["answered"]), "within_target": int(c["within_target"]),
            "abandoned": int(c["abandoned"]), "abandon_wait_s": tally.mean("abandon_wait"),
            "service_level": round(c["within_target"] / handled, 3) if handled else None,
            "asa_s": tally.mean("wait"), "handled": len(tally.waits.get("talk", [])), "talk_s": tally.mean("talk"), "wrap_s": tally.mean("wrap"),
            "aht_s": tally.mean("handle"), "transferred": int(c["transferred"]),
            "callbacks_requested": int(c["callbacks_requested"]),
            "callbacks_completed": int(c["callbacks_completed"]), "callbacks_failed": int(c["callbacks_failed"]),
            **common,
        }
        head = {"queue": owner}
    else:
        if owner not in names:
            return None
        figures = {
            "answered": int(c["answered"]), "outbound": int(c["outbound"]), "transferred": int(c["transferred"]),
            "handled": len(tally.waits.get("talk", [])), "talk_s": tally.mean("talk"), "wrap_s": tally.mean("wrap"),
            "aht_s": tally.mean("handle"), "staffed_s": round(c["staffed_s"], 1), "working_s": round(c["working_s"], 1),
            "occupancy": round(c["working_s"] / c["staffed_s"], 3) if c["staffed_s"] else None, **common,
        }
        head = {"agent": owner, "agent_name": names[owner]}
    if not any(value for key, value in figures.items() if key not in ("service_level", "occupancy")):
        return None
    return {"interval_start": bucket.isoformat(), **head, **figures}
