"""Routing on the shared SQLite state: enqueue, dispatch, answer, no-answer, abandon, wrap-up, presence.

Every change is one ``BEGIN IMMEDIATE`` transaction (``store.db.transaction``): it reads the
state, decides with the pure core (``routing.selection``) and writes the result before any
other process may write. So gunicorn workers, rq workers and tickers sharing the database
never reserve one agent twice nor offer one item to two agents. Two more guards: each
reservation re-checks in SQL that the agent is still available and the item still waiting,
and a partial unique index on ``queue_items.offered_to`` refuses a second open offer to an
agent. Every change is appended to ``routing_events``; ``dispatch`` decides on this process's
live indexes (``routing.live``), brought up to date from that log inside its transaction.

Routing never writes calls: each operation returns what happened, and the call lifecycle (``core``)
records it on the call in the same transaction.

Lifecycle of an item: ``enqueue_*`` → waiting → ``dispatch`` → offered (agent reserved) →
``accept`` (agent busy, item leaves the queue) or ``ring_no_answer`` (agent on break, item
waiting again at its original place) or ``withdraw`` (agent available again). ``abandon`` /
``cancel`` remove it at any point. Agent: ``hang_up`` → wrap-up for the queue's seconds →
``finish_wrapups`` (a ticker) → available.

The clock is an argument (``now``, an aware datetime) everywhere, so tests and the day
simulator run this code in simulated time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from core.clock import iso, parse_time, seconds_since
from core.outbound import reserved_for
from routing import live as routing_live
from routing.estimates import HANDLE_WINDOW, Estimate, estimate_all, handle_time
from routing.exceptions import RoutingError
from routing.model import MANUAL, STAFFED, Agent, Presence, Queue, WaitingItem, move, wrapup_until
from routing.rows import agent_from_row, item_from_row, queue_from_row
from routing.selection import Decision, Ladders
from store import routing as store
from store.db import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offer:
    """An item offered to a reserved agent: ring the agent's phone now."""

    item_id: str
    kind: str  # call | callback
    call_sid: str | None
    callback_id: int | None
    agent_id: str
    queue: str
    reason: str
    context: dict[str, Any]


def _ladders(db: sqlite_utils.Database) -> Ladders:
    return Ladders(queue_from_row(row) for row in store.queues(db))


def _agent_row(db: sqlite_utils.Database, agent_id: str) -> dict[str, Any]:
    row = store.agent(db, agent_id)
    if row is None:
        raise RoutingError(f"no agent {agent_id}")
    return row


def _offered_item(db: sqlite_utils.Database, item_id: str, agent_id: str) -> dict[str, Any]:
    """The item, which must be offered to ``agent_id`` right now."""
    row = store.item(db, item_id)
    if row is None or row["state"] != "offered" or row["offered_to"] != agent_id:
        raise RoutingError(f"{item_id} is not offered to {agent_id}")
    return row


CALLBACK_ITEM_PREFIX = "callback:"


def callback_item_id(callback_id: int) -> str:
    return f"{CALLBACK_ITEM_PREFIX}{callback_id}"


def callback_id_of(item_id: str) -> int | None:
    """The callback id of a queue item that is a callback (``callback_item_id`` read back), else None."""
    rest = item_id.removeprefix(CALLBACK_ITEM_PREFIX)
    return int(rest) if rest != item_id and rest.isdigit() else None


# Entering the queue


def enqueue_call(
    db: sqlite_utils.Database,
    call_sid: str,
    queue: str,
    now: datetime,
    *,
    language: str | None = None,
    priority: int = 0,
    caller_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> WaitingItem:
    """Put the call in ``queue`` (its caller's last agent becomes the sticky agent). Idempotent per call."""
    with transaction(db):
        existing = store.item(db, call_sid)
        if existing:
            return item_from_row(existing)
        _ladders(db).queue(queue)
        row = {
            "id": call_sid,
            "kind": "call",
            "call_sid": call_sid,
            "queue": queue,
            "language": language,
            "priority": priority,
            "entered_at": iso(now),
            "caller_id": caller_id,
            "last_agent_id": store.last_agent_for_caller(db, caller_id, call_sid) if caller_id else None,
            "context": context or {},
        }
        store.insert_item(db, row)
        again = store.happened_before(db, call_sid, queue, "enqueued")  # (transferred back into it: offered once)
        store.add_event(db, iso(now), "requeued" if again else "enqueued", item_id=call_sid, queue=queue)
        return item_from_row(store.item(db, call_sid))


def enqueue_callback(
    db: sqlite_utils.Database,
    callback_id: int,
    queue: str,
    entered_at: datetime,
    now: datetime,
    *,
    caller_id: int | None = None,
    language: str | None = None,
    priority: int = 0,
    last_agent_id: str | None = None,
    not_before: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> WaitingItem:
    """Put a callback in ``queue`` at the place ``entered_at`` gives it (virtual hold). Idempotent per callback."""
    item_id = callback_item_id(callback_id)
    with transaction(db):
        existing = store.item(db, item_id)
        if existing:
            return item_from_row(existing)
        _ladders(db).queue(queue)
        row = {
            "id": item_id,
            "kind": "callback",
            "callback_id": callback_id,
            "queue": queue,
            "language": language,
            "priority": priority,
            "entered_at": iso(entered_at),
            "not_before": iso(not_before) if not_before else None,
            "caller_id": caller_id,
            "last_agent_id": last_agent_id,
            "context": context or {},
        }
        store.insert_item(db, row)
        store.add_event(db, iso(now), "enqueued", item_id=item_id, queue=queue)
        return item_from_row(store.item(db, item_id))


def hold_as_callback(
    db: sqlite_utils.Database, call_sid: str, callback_id: int, now: datetime, *, not_before: datetime | None = None
) -> WaitingItem:
    """Replace the waiting call by a callback that keeps its place, context and sticky agent; the call leaves the queue."""
    with transaction(db):
        row = store.item(db, call_sid)
        if row is None:
            raise RoutingError(f"{call_sid} is not in a queue")
        _release_offer(db, row, now)
        store.delete_item(db, call_sid)
        store.add_event(
            db, iso(now), "to-callback", item_id=call_sid, queue=row["queue"], reason=callback_item_id(callback_id)
        )
        return enqueue_callback(
            db,
            callback_id,
            row["queue"],
            parse_time(row["entered_at"]),
            now,
            caller_id=row["caller_id"],
            language=row["language"],
            priority=row["priority"],
            last_agent_id=row["last_agent_id"],
            not_before=not_before,
            context=row["context"],
        )


# Matching


class _StaleIndexes(Exception):
    """The process's routing indexes proposed an agent or item that is no longer free (a missed event)."""


def dispatch(db: sqlite_utils.Database, now: datetime, record: Callable[[list[Offer]], None] | None = None) -> list[Offer]:
    """Offer waiting items to the best available agents; each pair is reserved in this one transaction, in which
    ``record`` (the call lifecycle) also notes the offers on their calls."""
    if not db.conn.in_transaction and not store.anyone_waiting_and_available(db):
        return []  # the idle tick writes nothing (a read, not a write lock)
    live = routing_live.for_database(db)
    for attempt in (1, 2):
        try:
            with transaction(db):
                if not store.anyone_waiting_and_available(db):
                    return []
                offers = [_reserve(db, decision, now) for decision in live.current(db).dispatch(now)]
                if record is not None and offers:
                    record(offers)
        except _StaleIndexes:
            live.drop()
            log.warning("routing indexes were stale (attempt %s); rebuilt from the database", attempt)
            continue
        except BaseException:
            live.drop()  # the indexes may hold pairs whose reservation was rolled back
            raise
        for offer in offers:
            log.info("offered %s to %s: %s", offer.item_id, offer.agent_id, offer.reason)
        return offers
    raise RoutingError("routing indexes stale twice in a row")


def _reserve(db: sqlite_utils.Database, decision: Decision, now: datetime) -> Offer:
    """Write one decision: the item offered, the agent reserved (both re-checked in SQL), the events."""
    if not store.reserve(db, decision.item_id, decision.agent_id, iso(now), decision.reason):
        raise _StaleIndexes(decision.item_id)
    row = store.item(db, decision.item_id)
    store.add_event(
        db,
        iso(now),
        "offered",
        item_id=row["id"],
        agent_id=decision.agent_id,
        queue=row["queue"],
        reason=decision.reason,
    )
    return Offer(
        row["id"],
        row["kind"],
        row["call_sid"],
        row["callback_id"],
        decision.agent_id,
        row["queue"],
        decision.reason,
        row["context"],
    )


def accept(
    db: sqlite_utils.Database, item_id: str, agent_id: str, now: datetime, *, call_sid: str | None = None
) -> float:
    """The agent answered: agent busy on the call (``call_sid``: a callback's call), the item leaves the queue.
    Returns the wait in seconds."""
    with transaction(db):
        row = _offered_item(db, item_id, agent_id)
        wait_s = seconds_since(waiting_since(row), now)
        store.delete_item(db, item_id)
        store.update_agent(
            db, agent_id, presence=Presence.BUSY.value, presence_since=iso(now), current_call_sid=call_sid or row["call_sid"]
        )
        again = store.happened_before(db, item_id, row["queue"], "accepted")  # (a transferred call: answered once)
        store.add_event(
            db,
            iso(now),
            "answered-again" if again else "accepted",
            item_id=item_id,
            agent_id=agent_id,
            queue=row["queue"],
            seconds=wait_s,
            reason=row["reason"],
        )
    return wait_s


def waiting_since(item: dict[str, Any]) -> str:
    """When the item's wait for this answer began: its entry in the line, or its transfer (which kept its place)."""
    return (item["context"].get("transfer") or {}).get("at") or item["entered_at"]


def ring_no_answer(db: sqlite_utils.Database, item_id: str, agent_id: str, now: datetime) -> None:
    """The agent did not answer: agent on break (not ready), the item waits again at its original place."""
    with transaction(db):
        row = _offered_item(db, item_id, agent_id)
        store.update_item(db, item_id, state="waiting", offered_to=None, offered_at=None)
        _set_agent(db, agent_id, Presence.BREAK, now, not_ready_reason="ring-no-answer")
        store.add_event(db, iso(now), "no-answer", item_id=item_id, agent_id=agent_id, queue=row["queue"])


def withdraw(
    db: sqlite_utils.Database, item_id: str, now: datetime, *, reason: str, not_before: datetime | None = None
) -> None:
    """Take back an offer through no fault of the agent (e.g. a callback's customer did not answer): agent available,
    item waiting at its place, not offered again before ``not_before``."""
    with transaction(db):
        row = store.item(db, item_id)
        if row is None or row["state"] != "offered":
            raise RoutingError(f"{item_id} is not offered")
        _release_offer(db, row, now, reason=reason)
        store.update_item(
            db,
            item_id,
            state="waiting",
            offered_to=None,
            offered_at=None,
            not_before=iso(not_before) if not_before else None,
        )


def _release_offer(db: sqlite_utils.Database, row: dict[str, Any], now: datetime, reason: str | None = None) -> None:
    """If the item is offered, the reserved agent becomes available again keeping its idle time."""
    if row["state"] != "offered":
        return
    _set_agent(db, row["offered_to"], Presence.AVAILABLE, now, keep_idle=True)
    store.update_item(db, row["id"], offered_to=None)
    store.add_event(
        db, iso(now), "withdrawn", item_id=row["id"], agent_id=row["offered_to"], queue=row["queue"], reason=reason
    )


def abandon(db: sqlite_utils.Database, call_sid: str, now: datetime) -> bool:
    """The caller hung up while waiting (or while an agent rang): the call leaves the queue, counted as abandoned."""
    with transaction(db):
        row = store.item(db, call_sid)
        if row is None:
            return False
        _release_offer(db, row, now)
        store.delete_item(db, call_sid)
        store.add_event(db, iso(now), "abandoned", item_id=call_sid, queue=row["queue"], seconds=seconds_since(row["entered_at"], now))
    return True


def cancel(db: sqlite_utils.Database, item_id: str, now: datetime, *, reason: str) -> bool:
    """Remove an item (a callback cancelled or given up); False when it is not queued."""
    with transaction(db):
        row = store.item(db, item_id)
        if row is None:
            return False
        _release_offer(db, row, now)
        store.delete_item(db, item_id)
        store.add_event(db, iso(now), "cancelled", item_id=item_id, queue=row["queue"], reason=reason)
    return True


def expire_offers(db: sqlite_utils.Database, now: datetime, ring_timeout_s: float) -> list[dict[str, Any]]:
    """Ring-no-answer for call offers older than ``ring_timeout_s`` (a safety net for lost Dial callbacks).

    Callback offers are not expired here: their customer may still be ringing; callbacks' own recovery
    (callbacks.service.recover) looks after those whose job was lost."""
    cutoff = iso(now - timedelta(seconds=ring_timeout_s))
    if not db.conn.in_transaction and not store.offers_older_than(db, cutoff, "call"):
        return []
    with transaction(db):
        stale = store.offers_older_than(db, cutoff, "call")
        for row in stale:
            ring_no_answer(db, row["id"], row["offered_to"], now)
    return stale


# Agents


def _set_agent(
    db: sqlite_utils.Database,
    agent_id: str,
    presence: Presence,
    since: datetime,
    *,
    keep_idle: bool = False,
    not_ready_reason: str | None = None,
) -> None:
    """Move an agent to ``presence`` at ``since`` (``model.move`` has the rules)."""
    change = move(presence, since, keep_idle=keep_idle, reason=not_ready_reason)
    fields: dict[str, Any] = {
        "presence": presence.value,
        "presence_since": iso(since),
        "not_ready_reason": change.reason,
    }
    if change.drops_work:
        fields.update(current_item=None, current_queue=None, current_call_sid=None, wrapup_until=None)
    if change.idle_since is not None:
        fields["last_idle_at"] = iso(change.idle_since)
    store.update_agent(db, agent_id, **fields)
    if presence != Presence.RESERVED:
        store.add_event(db, iso(since), "presence", agent_id=agent_id, reason=presence.value)


def hang_up(db: sqlite_utils.Database, agent_id: str, now: datetime) -> bool:
    """The agent's call ended: wrap-up for the queue's seconds (available at once when 0). False if not busy."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        if row["presence"] != Presence.BUSY.value:
            return False
        _talk_ended(db, row, now)
        queue = row["current_queue"]  # (none: an outbound call the agent placed outside any queue)
        until = wrapup_until(_ladders(db).queue(queue), now) if queue else None
        if until is not None:
            store.update_agent(
                db, agent_id, presence=Presence.WRAPUP.value, presence_since=iso(now), wrapup_until=iso(until)
            )
            store.add_event(db, iso(now), "presence", agent_id=agent_id, reason=Presence.WRAPUP.value)
        else:
            _set_agent(db, agent_id, Presence.AVAILABLE, now)
    return True


def reserve_for_outbound(db: sqlite_utils.Database, agent_id: str, queue: str | None, now: datetime) -> None:
    """An available agent places a call (click-to-call): reserved while their phone and the customer's ring, so that
    routing offers them nothing meanwhile; ``queue``: the queue the call counts in (its wrap-up), if any."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        if row["presence"] != Presence.AVAILABLE.value:
            raise RoutingError(f"{agent_id} is {row['presence']}: a call is placed when available", 409)
        if queue is not None:
            _ladders(db).queue(queue)
        _set_agent(db, agent_id, Presence.RESERVED, now)
        store.update_agent(db, agent_id, current_queue=queue)
        store.add_event(db, iso(now), "dialing", agent_id=agent_id, queue=queue)


def outbound_placed(db: sqlite_utils.Database, agent_id: str, call_sid: str) -> None:
    """The agent's outbound call has its SID: it is the call in hand (unless the agent was moved on meanwhile)."""
    with transaction(db):
        if _agent_row(db, agent_id)["presence"] in (Presence.RESERVED.value, Presence.BUSY.value):
            store.update_agent(db, agent_id, current_call_sid=call_sid)


def outbound_answered(db: sqlite_utils.Database, agent_id: str, call_sid: str, now: datetime) -> None:
    """The agent answered their own phone for the call they placed: busy on it (if still reserved for it)."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        if reserved_for(row, call_sid):
            store.update_agent(db, agent_id, presence=Presence.BUSY.value, presence_since=iso(now),
                               current_call_sid=call_sid)
            store.add_event(db, iso(now), "outbound", agent_id=agent_id, queue=row["current_queue"])


def outbound_missed(db: sqlite_utils.Database, agent_id: str, call_sid: str | None, now: datetime) -> None:
    """The outbound call never reached the agent (their phone was not answered, or the platform refused the call):
    available again, keeping their idle time."""
    with transaction(db):
        if reserved_for(_agent_row(db, agent_id), call_sid):
            _set_agent(db, agent_id, Presence.AVAILABLE, now, keep_idle=True)


def offer_to(db: sqlite_utils.Database, item_id: str, agent_id: str, reason: str, now: datetime,
             *, from_wrapup: bool = False) -> None:
    """Offer a waiting item to one named agent (a transfer to them, or back to its sender: ``from_wrapup`` lets a
    sender in wrap-up take it); RoutingError 409 when they cannot take it now."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        presences = (Presence.AVAILABLE.value, Presence.WRAPUP.value) if from_wrapup else (Presence.AVAILABLE.value,)
        if row["presence"] not in presences:
            raise RoutingError(f"{agent_id} is {row['presence']}: they cannot take a call now", 409)
        if row["presence"] == Presence.WRAPUP.value:
            _set_agent(db, agent_id, Presence.AVAILABLE, now, keep_idle=True)
        if not store.reserve(db, item_id, agent_id, iso(now), reason):
            raise RoutingError(f"{item_id} cannot be offered to {agent_id} now", 409)
        item = store.item(db, item_id)
        store.add_event(db, iso(now), "offered", item_id=item_id, agent_id=agent_id, queue=item["queue"], reason=reason)


def reserve_for_consult(db: sqlite_utils.Database, agent_id: str, call_sid: str, now: datetime) -> None:
    """A colleague rung for a warm transfer of ``call_sid``: reserved (offered nothing else) while their phone rings."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        if row["presence"] != Presence.AVAILABLE.value:
            raise RoutingError(f"{agent_id} is {row['presence']}: a colleague is asked when available", 409)
        _set_agent(db, agent_id, Presence.RESERVED, now)
        store.update_agent(db, agent_id, current_call_sid=call_sid, current_queue=None, current_item=None)
        store.add_event(db, iso(now), "consult-ringing", agent_id=agent_id)


def consult_answered(db: sqlite_utils.Database, agent_id: str, call_sid: str, now: datetime) -> None:
    """The colleague answered the warm transfer: busy on the call (talking with the sender, the caller on hold)."""
    with transaction(db):
        if reserved_for(_agent_row(db, agent_id), call_sid):
            store.update_agent(db, agent_id, presence=Presence.BUSY.value, presence_since=iso(now))
            store.add_event(db, iso(now), "consult", agent_id=agent_id)


def consult_missed(db: sqlite_utils.Database, agent_id: str, call_sid: str, now: datetime) -> None:
    """The colleague did not answer the warm transfer: not ready, as for any ring-no-answer."""
    with transaction(db):
        if reserved_for(_agent_row(db, agent_id), call_sid):
            _set_agent(db, agent_id, Presence.BREAK, now, not_ready_reason="ring-no-answer")
            store.add_event(db, iso(now), "no-answer", agent_id=agent_id)


def consult_taken(db: sqlite_utils.Database, agent_id: str, queue: str | None, now: datetime) -> None:
    """The warm transfer completed: the colleague has the call, counted in ``queue`` (its wrap-up at the end)."""
    with transaction(db):
        store.update_agent(db, agent_id, current_queue=queue)
        store.add_event(db, iso(now), "transfer-taken", agent_id=agent_id, queue=queue)


def consult_dropped(db: sqlite_utils.Database, agent_id: str, call_sid: str, now: datetime) -> None:
    """The colleague's part in a transfer that did not complete is over: available again (still ringing: keeping
    their idle time; they talked: after that talk)."""
    with transaction(db):
        row = _agent_row(db, agent_id)
        if reserved_for(row, call_sid):
            _set_agent(db, agent_id, Presence.AVAILABLE, now, keep_idle=True)
        elif row["presence"] == Presence.BUSY.value and row["current_call_sid"] == call_sid:
            hang_up(db, agent_id, now)


def _talk_ended(db: sqlite_utils.Database, row: dict[str, Any], now: datetime) -> None:
    """The "ended" event of a busy agent's call, with its talk time."""
    store.add_event(db, iso(now), "ended", item_id=row["current_item"], agent_id=row["id"], queue=row["current_queue"],
                    seconds=seconds_since(row["presence_since"], now))


def finish_wrapups(db: sqlite_utils.Database, now: datetime) -> list[str]:
    """Agents whose wrap-up ended by ``now`` become available (idle since the end of wrap-up)."""
    if not db.conn.in_transaction and not store.wrapups_due(db, iso(now)):
        return []
    with transaction(db):
        due = store.wrapups_due(db, iso(now))
        for row in due:
            _set_agent(db, row["id"], Presence.AVAILABLE, parse_time(row["wrapup_until"]))
    return [row["id"] for row in due]


def set_presence(
    db: sqlite_utils.Database, agent_id: str, presence: Presence | str, now: datetime, *, reason: str | None = None,
    forced_by: str | None = None,
) -> None:
    """An agent or supervisor sets offline, available or break (with a reason); not while reserved or on a call,
    unless a supervisor forces it (``forced_by``): an offer is taken back (the caller keeps their place), a call
    ends for routing (its talk time recorded), and a "forced" event says who did it, from what, and why."""
    presence = Presence(presence)
    if presence not in MANUAL:
        raise RoutingError(f"presence {presence.value} is set by routing, not by hand")
    with transaction(db):
        row = _agent_row(db, agent_id)
        if row["role"] != "agent":
            raise RoutingError(f"{agent_id} is not an agent")
        current = Presence(row["presence"])
        if current in (Presence.RESERVED, Presence.BUSY):
            if forced_by is None:
                raise RoutingError(f"{agent_id} is {current.value}: presence changes after the call "
                                   "(a supervisor can force it)")
            _let_go(db, agent_id, current, now, forced_by)
        if forced_by is not None:
            why = f": {reason}" if reason else ""
            store.add_event(db, iso(now), "forced", agent_id=agent_id,
                            reason=f"{current.value} to {presence.value} by {forced_by}{why}")
        elif current == presence and presence != Presence.BREAK:
            return
        _set_agent(db, agent_id, presence, now, not_ready_reason=reason if presence == Presence.BREAK else None)


def _let_go(db: sqlite_utils.Database, agent_id: str, current: Presence, now: datetime, forced_by: str) -> None:
    """A forced change: the offer to a reserved agent is taken back, a busy agent's call ends for routing (no
    wrap-up: the supervisor says what comes next)."""
    if current == Presence.BUSY:
        _talk_ended(db, _agent_row(db, agent_id), now)
        return
    for item in store.items(db, state="offered"):
        if item["offered_to"] == agent_id:
            withdraw(db, item["id"], now, reason=f"agent state forced by {forced_by}")


# Read queries: the caller's estimate, the supervisor's boards


def _handle_times(db: sqlite_utils.Database, queues: Iterable[Queue]) -> dict[str, float]:
    return {
        queue.name: handle_time(store.recent_talk_times(db, queue.name, HANDLE_WINDOW), queue.wrapup_s)
        for queue in queues
    }


def estimates(db: sqlite_utils.Database, now: datetime) -> dict[str, Estimate]:
    """Position and estimated wait of every queued item (offered items: position 0, wait 0)."""
    ladders = _ladders(db)
    rows = store.items(db)
    agents = [agent_from_row(row) for row in store.agents(db, presence=[p.value for p in STAFFED])]
    handle_s = _handle_times(db, ladders.queues.values())
    waiting = [item_from_row(row) for row in rows if row["state"] == "waiting"]
    result = estimate_all(waiting, agents, ladders, handle_s, now)
    for row in rows:
        if row["state"] == "offered":
            result[row["id"]] = Estimate(row["id"], 0, 0.0, 0, 0, handle_s[row["queue"]])
    return result


def estimate(db: sqlite_utils.Database, item_id: str, now: datetime) -> Estimate | None:
    """One item's position and estimated wait now, as ``estimates`` gives it, reading only its queue and the
    agents who speak its language; None when it is not queued (or not yet ready)."""
    row = store.item(db, item_id)
    if row is None:
        return None
    ladders = _ladders(db)
    queue = ladders.queue(row["queue"])
    handle_s = _handle_times(db, [queue])
    if row["state"] == "offered":
        return Estimate(item_id, 0, 0.0, 0, 0, handle_s[queue.name])
    language = ladders.bucket_language(item_from_row(row))
    same_line = [
        item
        for item in map(item_from_row, store.items(db, state="waiting", queue=queue.name))
        if ladders.bucket_language(item) == language
    ]
    agents = [agent_from_row(a) for a in store.agents(db, presence=[p.value for p in STAFFED], language=language)]
    return estimate_all(same_line, agents, ladders, handle_s, now).get(item_id)


def waiting_board(db: sqlite_utils.Database, now: datetime) -> list[dict[str, Any]]:
    """Every queued item with its wait so far, state, position, estimate and routing reason, longest wait first."""
    found = estimates(db, now)
    board = []
    for row in store.items(db):
        est = found.get(row["id"])
        board.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "queue": row["queue"],
                "language": row["language"],
                "caller_id": row["caller_id"],
                "state": row["state"],
                "offered_to": row["offered_to"],
                "waited_s": seconds_since(row["entered_at"], now, 1),
                "reason": row["reason"],
                "position": est.position if est else None,
                "estimated_wait_s": est.wait_s if est else None,
            }
        )
    return sorted(board, key=lambda entry: -entry["waited_s"])


def queue_staffing(db: sqlite_utils.Database, queue: str) -> dict[str, Any] | None:
    """Whether ``queue`` refuses callers when unstaffed, and how many signed-in agents could take one now."""
    row = next((q for q in store.queues(db) if q["name"] == queue), None)
    if row is None or not row["refuse_unstaffed"]:  # (most queues: nothing more to read for a caller joining)
        return None if row is None else {"refuse_unstaffed": False}
    staffed = [agent_from_row(agent) for agent in store.agents(db, presence=[p.value for p in STAFFED])]
    return {"refuse_unstaffed": True, "staffed": len(_eligible(_ladders(db), queue, staffed))}


def free_for_queue(db: sqlite_utils.Database, queue: str) -> list[str]:
    """The available agents who could take a caller of ``queue`` (unknown queue: RoutingError), idle longest first."""
    rows = store.agents(db, presence=[Presence.AVAILABLE.value])
    eligible = {agent.id for agent in _eligible(_ladders(db), queue, [agent_from_row(row) for row in rows])}
    return [row["id"] for row in sorted(rows, key=lambda row: row["last_idle_at"] or "") if row["id"] in eligible]


def _eligible(ladders: Ladders, queue: str, agents: list[Agent]) -> list[Agent]:
    """The agents who could take a caller of ``queue`` (its first escalation step's requirements)."""
    base = ladders.ladder(queue, None)[0]
    return [agent for agent in agents if base.skip_reason(agent) is None]


def queue_board(db: sqlite_utils.Database, now: datetime, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Per queue: waiting, offered, longest wait, staffed/available agents and service level since ``since``
    (default: midnight UTC). Service level = answered within target / (answered + abandoned)."""
    since = since or now.replace(hour=0, minute=0, second=0, microsecond=0)
    ladders = _ladders(db)
    rows = store.items(db)
    staffed = [agent_from_row(row) for row in store.agents(db, presence=[p.value for p in STAFFED])]
    board = []
    for name, queue in ladders.queues.items():
        mine = [row for row in rows if row["queue"] == name]
        eligible = _eligible(ladders, name, staffed)
        counts = store.answer_counts(db, name, iso(since), queue.sl_target_s)
        handled = counts["answered"] + counts["abandoned"]
        board.append(
            {
                "queue": name,
                "waiting": sum(row["state"] == "waiting" for row in mine),
                "offered": sum(row["state"] == "offered" for row in mine),
                "callbacks": sum(row["kind"] == "callback" for row in mine),
                "longest_wait_s": max((seconds_since(r["entered_at"], now, 1) for r in mine), default=0.0),
                "staffed": len(eligible),
                "available": sum(a.presence == Presence.AVAILABLE for a in eligible),
                **counts,
                "service_level": round(counts["within_target"] / handled, 3) if handled else None,
                "sl_target_s": queue.sl_target_s,
                "sl_target_pct": queue.sl_target_pct,
            }
        )
    return board


def agents_board(db: sqlite_utils.Database, now: datetime) -> list[dict[str, Any]]:
    """Every agent: presence and time in it, skills, languages, current work."""
    board = []
    for row in store.agents(db):
        wrapup_until = parse_time(row["wrapup_until"])
        board.append(
            {
                "id": row["id"],
                "name": row["name"],
                "presence": row["presence"],
                "in_state_s": seconds_since(row["presence_since"], now, 1) if row["presence_since"] else None,
                "not_ready_reason": row["not_ready_reason"],
                "languages": row["languages"],
                "skills": row["skills"],
                "current_item": row["current_item"],
                "current_call_sid": row["current_call_sid"],
                "current_queue": row["current_queue"],
                "wrapup_left_s": max(0.0, round((wrapup_until - now).total_seconds(), 1)) if wrapup_until else None,
            }
        )
    return board
