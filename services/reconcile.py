"""Reconciliation with the platform: at start-up and every ``every_s``, each call whose reports may have been lost
is looked up at Twilio (telephony port: the call, and the legs it dialled) and settled by ``core.reconcile``.

Which calls: those not ended that started over ``after_s`` ago (a younger call's webhooks may still be on their
way), and every call an agent is reserved for or busy on. Until a whole pass has run since start-up, every call not
ended, however young: a caller who hung up while the server was down must be settled before routing offers them, even
if the restart came within ``after_s`` of their call's start. The ticker also asks before it takes back an offer
that rang too long (``settle_call``): an agent who answered while we were not told is on the call, not on break.
Each settlement is one transaction, decided on rows read inside it, so a late webhook and the reconciler cannot
both apply the same report.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlite_utils

from core import reconcile
from core.clock import Clock, iso, utcnow
from core.constants import CLIENT
from core.reconcile import Seen
from core.turn import Env
from services.every import Every
from services.uow import Store
from store import calls
from store import routing as routing_store
from telephony.exceptions import CallNotInProgress, TelephonyError
from telephony.port import Telephony

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, store: Store, env: Env, telephony: Telephony, *, every_s: float, after_s: float,
                 clock: Clock = utcnow) -> None:
        self.store = store
        self.env = env
        self.telephony = telephony
        self.passes = Every(every_s)  # the first one at once: start-up
        self.caught_up = False  # a whole pass has run since start-up (the platform answered for every call)
        self.after_s = after_s
        self.clock = clock

    def run(self, db: sqlite_utils.Database) -> int:
        """One pass over every call that may need it; how many were settled."""
        now = self.clock()
        settled = 0
        started_before = now - timedelta(seconds=self.after_s) if self.caught_up else now
        for sid in calls.unsettled(db, iso(started_before)):
            try:
                settled += self.settle_call(db, sid)
            except CallNotInProgress:
                log.debug("call %s is unknown to the platform; left as it is", sid)
            except TelephonyError as exc:  # the platform cannot be reached: the next pass tries again
                log.warning("reconciliation stopped: %s", exc)
                break
        else:
            self.caught_up = True
        if settled:
            log.info("reconciliation settled %s call(s) from the platform's records", settled)
        return settled

    def settle_call(self, db: sqlite_utils.Database, sid: str) -> bool:
        """Look ``sid`` up at the platform and apply what we missed; True when something was."""
        if calls.load(db, sid) is None:
            return False
        info = self.telephony.fetch(sid)
        item, on_call = routing_store.item(db, sid), routing_store.agent_on_call(db, sid)
        seen = Seen(info.status, info.duration_s, self._legs(sid) if item or on_call else {})
        if not reconcile.needs_settling(seen, item, on_call, calls.status_seen(db, sid, seen.status)):
            return False  # (checked again below, under the write lock, where it is decided)
        settled = False
        with self.store.transition(sid, self.env, self.clock(), db) as (turn, tx):
            item, on_call = routing_store.item(tx, sid), routing_store.agent_on_call(tx, sid)
            status_seen = calls.status_seen(tx, sid, seen.status)
            if reconcile.needs_settling(seen, item, on_call, status_seen):
                offered = routing_store.agent(tx, item["offered_to"]) if item and item["state"] == "offered" else None
                reconcile.settle(turn, seen, item, offered, on_call, status_seen)
                settled = True
        if settled:
            log.info("call %s settled from the platform: %s, legs %s", sid, seen.status, dict(seen.legs))
        return settled

    def _legs(self, sid: str) -> dict[str, str]:
        """The newest <Dial><Client> leg to each agent: agent id → its status."""
        legs: dict[str, str] = {}
        for leg in self.telephony.children(sid):
            if leg.to.startswith(CLIENT):
                legs.setdefault(leg.to.removeprefix(CLIENT), leg.status)
        return legs

