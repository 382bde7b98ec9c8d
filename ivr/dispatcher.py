"""The routing ticker: wrap-ups end, stale offers expire, waiting items are offered to agents.

Each web process runs one ticker thread (several processes are safe: every routing change is
one SQLite transaction, so an agent is reserved once whichever process gets there first). It
ticks every ``interval`` seconds and at once when ``kick()`` is called (a caller joined a queue,
an agent became free). Offers are handed to a handler per item kind: calls are bridged to the
agent by ``ivr.connect``; callbacks are placed by ``callbacks``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlite_utils

from routing import service
from routing.service import Offer
from store.db import connect

log = logging.getLogger(__name__)

OfferHandler = Callable[[sqlite_utils.Database, Offer], None]
EXPIRY_GRACE_S = 10  # an offer outlives the Dial timeout by this much before it is taken back
HOUSEKEEPING_EVERY_S = 10  # callbacks' recovery: lost jobs, interrupted dialling, lost status callbacks
RETRY_AFTER_S = 10  # an offer that could not be handed over waits this long before the next try


class Dispatcher:
    def __init__(self, database_path: str, handlers: dict[str, OfferHandler], *, interval: float = 1.0, ring_timeout_s: float = 15,
                 housekeeping: Callable[[], None] | None = None, housekeeping_every_s: float = HOUSEKEEPING_EVERY_S) -> None:
        self.housekeeping = housekeeping
        self.housekeeping_every_s = housekeeping_every_s
        self.database_path = database_path
        self.handlers = handlers
        self.interval = interval
        self.ring_timeout_s = ring_timeout_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Dispatcher:
        self._thread = threading.Thread(target=self._run, name="routing-ticker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)

    def kick(self) -> None:
        """Tick now rather than at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        db = connect(self.database_path)
        last_housekeeping = -self.housekeeping_every_s
        while not self._stop.is_set():
            if self.housekeeping is not None and time.monotonic() - last_housekeeping >= self.housekeeping_every_s:
                last_housekeeping = time.monotonic()
                try:
                    self.housekeeping()
                except Exception:  # e.g. Twilio unreachable: routing goes on, housekeeping tries again later
                    log.exception("routing housekeeping failed")
            try:
                self.tick(db)
            except Exception:  # a bad tick must not stop routing for good
                log.exception("routing tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def tick(self, db: sqlite_utils.Database, now: datetime | None = None) -> list[Offer]:
        """One round: finish wrap-ups, expire lost offers, dispatch, and act on every new offer."""
        now = now or datetime.now(UTC)
        service.finish_wrapups(db, now)
        service.expire_offers(db, now, self.ring_timeout_s + EXPIRY_GRACE_S)
        offers = service.dispatch(db, now)
        for offer in offers:
            self._hand_over(db, offer, now)
        return offers

    def _hand_over(self, db: sqlite_utils.Database, offer: Offer, now: datetime) -> None:
        handler = self.handlers.get(offer.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for {offer.kind} offers")
            handler(db, offer)
        except Exception:
            log.exception("could not act on offer %s to %s; taking it back", offer.item_id, offer.agent_id)
            service.withdraw(db, offer.item_id, now, reason="handover failed", not_before=now + timedelta(seconds=RETRY_AFTER_S))
