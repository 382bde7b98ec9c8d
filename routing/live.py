"""Each process's live routing indexes, kept current from the routing event log instead of rebuilt per dispatch.

Rebuilding the indexes from SQLite costs O(available agents + waiting items) per dispatch (see
``bench.bench_routing``). Instead a process keeps one ``Router`` per database file and, inside the
dispatch transaction, reads which agents and items the ``routing_events`` written since it last
looked name (by any process), re-reads just those rows and re-files them. A ``config`` event
(queues or skills changed), a long gap or a first use rebuilds it whole.

It is touched only inside a ``BEGIN IMMEDIATE`` transaction, so no other process or thread writes
meanwhile and two threads never use it at once. It is a cache, never the truth: every reservation
re-checks in SQL that the agent is still available and the item still waiting (``store.routing.reserve``),
and any failure drops the cache so the next use rebuilds it from the database.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import sqlite_utils

from routing.model import Presence
from routing.rows import agent_from_row, item_from_row, queue_from_row
from routing.selection import Router
from store import routing as store

log = logging.getLogger(__name__)

MAX_REPLAY = 5_000  # more events than this since the last look: rebuild instead of replaying


class LiveRouter:
    """A Router for one database, brought up to date by ``current`` (call inside a write transaction)."""

    def __init__(self) -> None:
        self.router: Router | None = None
        self.seen = 0  # the last routing event reflected in ``router``

    def current(self, db: sqlite_utils.Database) -> Router:
        if not db.conn.in_transaction:
            raise RuntimeError("LiveRouter.current needs the write transaction")
        latest = store.last_event_id(db)
        if self.router is None or not 0 <= latest - self.seen <= MAX_REPLAY:
            return self._rebuild(db, latest)
        config, agent_ids, item_ids = store.touched_since(db, self.seen)
        if config:
            return self._rebuild(db, latest)
        router = self.router
        for agent_id in agent_ids & router.available.agents.keys():
            router.available.remove(agent_id)
        for row in store.agents(db, presence=[Presence.AVAILABLE.value], ids=agent_ids) if agent_ids else ():
            router.available.add(agent_from_row(row))
        for item_id in item_ids & router.waiting.items.keys():
            router.waiting.remove(item_id)
        for row in store.items(db, state="waiting", ids=item_ids) if item_ids else ():
            router.waiting.add(item_from_row(row))
        self.seen = latest
        return router

    def drop(self) -> None:
        self.router = None

    def _rebuild(self, db: sqlite_utils.Database, latest: int) -> Router:
        self.router = Router(
            (queue_from_row(row) for row in store.queues(db)),
            (agent_from_row(row) for row in store.agents(db, presence=[Presence.AVAILABLE.value])),
            (item_from_row(row) for row in store.items(db, state="waiting")),
        )
        self.seen = latest
        log.debug("routing indexes rebuilt at event %s", latest)
        return self.router


_BY_DATABASE: OrderedDict[str, LiveRouter] = OrderedDict()
KEEP_DATABASES = 8  # a process rarely serves more; the least recently used beyond this are forgotten


def for_database(db: sqlite_utils.Database) -> LiveRouter:
    """This process's LiveRouter for the database ``db`` is connected to (known by its ``routing_instance`` id)."""
    key = store.instance_id(db)
    live = _BY_DATABASE.pop(key, None) or LiveRouter()
    _BY_DATABASE[key] = live
    while len(_BY_DATABASE) > KEEP_DATABASES:
        _BY_DATABASE.popitem(last=False)
    return live
