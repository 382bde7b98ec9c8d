"""The routing ticker: wrap-ups end, stale offers expire, waiting items are offered to agents, and each
offer is acted on (the caller's call redirected to ring the agent; a callback's dial job queued).

Each serving process runs one ticker thread (several processes are safe: every routing change is one
transaction, so an agent is reserved once whichever process gets there first). It ticks every
``interval`` seconds and at once when ``kick()`` is called; every ``housekeeping_every_s`` it runs
callback recovery (lost jobs, interrupted dialling, lost status callbacks).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlite_utils

from callbacks import service as callbacks
from core import queue
from core.clock import Clock, iso, utcnow
from core.ops import PlaceCallback, RedirectCall
from core.policy import CallbackPolicy
from core.turn import Env
from routing import alerts
from routing import service as routing
from routing.service import Offer
from services.every import Every
from services.jobqueue import JobQueue
from services.journal import Entry, Journal
from services.reconcile import Reconciler
from services.uow import Store
from store import alerts as store_alerts
from store import calls, leases, privacy
from store import routing as routing_store
from store.db import checkpoint, transaction
from store.exceptions import StoreUnavailable
from telephony.exceptions import CallNotInProgress, TelephonyError
from telephony.port import Telephony

log = logging.getLogger(__name__)

EXPIRY_GRACE_S = 10  # an offer outlives the Dial timeout by this much before it is taken back
HOUSEKEEPING_EVERY_S = 10
RETRY_AFTER_S = 10  # an offer that could not be handed over waits this long before the next try
DAY_S = 86400
ALERT_EVERY_S = 5  # alert conditions are looked at this often
HOUSEKEEPING = "housekeeping"  # the lease of callback recovery, reconciliation and retention
LEASE_S = 3 * HOUSEKEEPING_EVERY_S  # not renewed for this long (its node died): another node takes it
DELIVERY_LEASE_S = 60  # a delivery attempt claimed by one process; due again if it has not ended by then
STARTUP_GRACE_S = 30  # routing waits at most this long for the start-up reconciliation (a platform that does not answer)


def _safely(what: str, work: Callable[[], object]) -> None:
    """Run one part of the loop; a failure is logged (a database that cannot be written, in one line) and the
    loop goes on."""
    try:
        work()
    except StoreUnavailable as exc:
        log.warning("%s paused: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)


class Ticker:
    def __init__(self, store: Store, env: Env, telephony: Telephony, jobs: JobQueue, policy: CallbackPolicy,
                 journal: Journal, *,
                 recover_after_s: float, reconcile: Reconciler, retention_days: int = 0, deliver_alerts: bool = False,
                 interval: float = 1.0, clock: Clock = utcnow, node: str = "") -> None:
        self.store = store
        self.node = node or socket.gethostname()  # this node's name as the lease knows it
        self.leading = False
        self.journal = journal
        self.replay: Callable[[Entry], None] | None = None  # set by the web app: a journaled webhook, run again
        self.reconcile = reconcile
        self.retention_days = retention_days
        self._retention = Every(DAY_S)
        self._housekeeping = Every(HOUSEKEEPING_EVERY_S)
        self._alerts = Every(ALERT_EVERY_S)
        self.deliver_alerts = deliver_alerts
        self.env = env
        self.telephony = telephony
        self.jobs = jobs
        self.policy = policy
        self.recover_after_s = recover_after_s
        self.interval = interval
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def start(self) -> Ticker:
        self.store.checkpointed_elsewhere = True
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
        db = self.store.connect()
        while not self._stop.is_set():
            if self._housekeeping.take() and self.leads(db):
                _safely("callback recovery", lambda: self.recover(db))  # e.g. Twilio unreachable: tried again later
                _safely("reconciliation", lambda: self.reconcile.passes.take() and self.reconcile.run(db) and self.kick())
                _safely("retention", lambda: self.retain(db))
            _safely("alerts", lambda: self.alert(db))
            _safely("routing tick", lambda: self._round(db))  # a bad tick must not stop routing for good
            self._wake.wait(self.interval)
            self._wake.clear()

    def leads(self, db: sqlite_utils.Database) -> bool:
        """Whether this node holds the housekeeping lease (taken or renewed now; another node's, once it has not
        been renewed for LEASE_S, is taken over). Routing, alerts and the journal run on every node: each of their
        changes is one transaction under the write lock; housekeeping asks Twilio about calls, once is enough."""
        now = self.clock()
        try:
            held = leases.claim(db, HOUSEKEEPING, self.node, iso(now), iso(now + timedelta(seconds=LEASE_S)))
        except StoreUnavailable as exc:
            log.warning("housekeeping lease not renewed: %s", exc)
            return False
        if held != self.leading:
            log.info("node %s %s the housekeeping lease", self.node, "took" if held else "lost")
            self.leading = held
        return held

    def _round(self, db: sqlite_utils.Database) -> None:
        self.drain(db)
        if self.may_route():
            self.tick(db)
        checkpoint(db)  # the request threads leave it to us (services.uow.Store.checkpointed_elsewhere)

    def may_route(self) -> bool:
        """Not before the start-up reconciliation on the node that does it: a caller who hung up while the server was
        down is settled before an agent can be offered them. Other nodes route at once (the leader reconciles), and a
        platform that does not answer holds routing back STARTUP_GRACE_S at the most."""
        return self.reconcile.caught_up or not self.leading or time.monotonic() - self._started >= STARTUP_GRACE_S

    def retain(self, db: sqlite_utils.Database) -> int:
        """Once a day (and at start-up): what is personal about calls older than RETENTION_DAYS is erased."""
        if not self.retention_days or not self._retention.take():
            return 0
        now = self.clock()
        erased = privacy.expire(db, iso(now - timedelta(days=self.retention_days)), iso(now))
        if erased:
            log.info("retention: %s call(s) older than %s days made anonymous", erased, self.retention_days)
        return erased

    def alert(self, db: sqlite_utils.Database) -> None:
        """Every ALERT_EVERY_S: alerts raised and cleared (routing.alerts), and their due deliveries queued."""
        if not self._alerts.take():
            return
        now = self.clock()
        alerts.check(db, now, deliver=self.deliver_alerts)
        if self.deliver_alerts:
            with transaction(db):
                due = store_alerts.claim_due_deliveries(db, iso(now), iso(now + timedelta(seconds=DELIVERY_LEASE_S)))
            for delivery_id, attempts in due:
                self.jobs.deliver_alert(delivery_id, attempts)

    def drain(self, db: sqlite_utils.Database) -> None:
        """Apply the webhooks kept in the journal while the database could not be written (first: they happened
        before anything this tick decides)."""
        if self.replay is not None and self.journal.pending():
            if self.journal.drain(self.replay, lambda: self._forget_replayed(db)):
                self.kick()

    def _forget_replayed(self, db: sqlite_utils.Database) -> None:
        with transaction(db):
            calls.forget_replayed(db)

    def recover(self, db: sqlite_utils.Database) -> dict[str, int]:
        self.jobs.cleanup_abandoned()  # first: a dial job whose worker died is then no longer "started"
        counts = callbacks.recover(db, self.clock(), self.telephony, self.jobs.place_callback, self.policy,
                                   after_s=self.recover_after_s, dialling=self.jobs.dialling)
        if any(counts.values()):
            log.info("callback recovery: %s", counts)
        return counts

    def tick(self, db: sqlite_utils.Database, now: datetime | None = None) -> list[Offer]:
        """One round: finish wrap-ups, expire lost offers, dispatch, and act on every new offer."""
        now = now or self.clock()
        routing.finish_wrapups(db, now)
        self._expire(db, now)
        handovers: list[tuple[Offer, RedirectCall | PlaceCallback]] = []

        def record(offers: list[Offer]) -> None:
            for offer in offers:
                handovers.append((offer, self._note_offer(db, offer)))

        offers = routing.dispatch(db, now, record)
        for offer, command in handovers:
            self._hand_over(db, offer, command, now)
        return offers

    def _note_offer(self, db: sqlite_utils.Database, offer: Offer) -> RedirectCall | PlaceCallback:
        """Inside the dispatch transaction: the call notes the offer; the command that acts on it."""
        if offer.kind == "callback":
            return queue.offered_callback(offer.callback_id, offer.agent_id)
        call = calls.load(db, offer.call_sid)
        if call is None:  # an item of a call we have no row of: ring anyway, the Dial's webhooks will tell
            return RedirectCall(offer.call_sid, self.env.urls.connect(offer.item_id, offer.agent_id))
        command = queue.offered(call, offer.item_id, offer.agent_id, offer.reason, self.env.urls)
        calls.save(db, call)
        return command

    def _expire(self, db: sqlite_utils.Database, now: datetime) -> None:
        """Ring-no-answer for offers whose Dial never reported back (a safety net for lost callbacks), once the
        platform has been asked whether the agent answered after all (then they are on the call, not on break)."""
        timeout_s = self.env.rules.ring_timeout_s + EXPIRY_GRACE_S
        for row in routing_store.offers_older_than(db, iso(now - timedelta(seconds=timeout_s)), "call"):
            try:
                self.reconcile.settle_call(db, row["call_sid"])
            except TelephonyError as exc:  # not known or not reachable: the offer is taken back as before
                log.info("offer of %s to %s could not be checked with the platform: %s", row["call_sid"],
                         row["offered_to"], exc)
        with transaction(db):
            for row in routing.expire_offers(db, now, timeout_s):
                call = calls.load(db, row["call_sid"]) if row["call_sid"] else None
                if call is not None:
                    call.log("ring-no-answer", {"agent": row["offered_to"], "expired": True})
                    calls.save(db, call)

    def _hand_over(self, db: sqlite_utils.Database, offer: Offer, command: RedirectCall | PlaceCallback, now: datetime) -> None:
        try:
            if isinstance(command, RedirectCall):
                self.telephony.redirect(command.call_sid, command.url)
                log.info("redirected %s to ring %s", command.call_sid, offer.agent_id)
            else:
                self.jobs.place_callback(command.callback_id, command.agent_id)
        except CallNotInProgress:  # the caller is gone (hung up a moment ago, or while we were down): settle at once
            log.info("call %s ended before %s could be rung; it leaves the queue", offer.call_sid, offer.agent_id)
            self._caller_gone(db, offer, now)
        except Exception:
            log.exception("could not act on offer %s to %s; taking it back", offer.item_id, offer.agent_id)
            routing.withdraw(db, offer.item_id, now, reason="handover failed", not_before=now + timedelta(seconds=RETRY_AFTER_S))

    def _caller_gone(self, db: sqlite_utils.Database, offer: Offer, now: datetime) -> None:
        with self.store.transition(offer.call_sid, self.env, now, db) as (turn, tx):
            queue.gone(turn, routing_store.item(tx, offer.item_id))
