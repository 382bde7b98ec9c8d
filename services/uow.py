"""The unit of work: what one transition changed lands in one write transaction, or nothing does.

A webhook: ``with store.unit() as unit:`` load the rows the transition needs (inside ``BEGIN IMMEDIATE``,
so what it decides on cannot change under it), run the transition, ``unit.apply(turn)``; the commit
happens when the block ends. Each operation of ``core.ops`` is carried out here by the package that owns
its tables (``routing.service``, ``callbacks.service``, ``store``); then the call is saved, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlite_utils

from callbacks import service as callbacks
from core import ops
from core.clock import Clock, iso, utcnow
from core.errors import ServiceError
from core.model import Call
from core.policy import CallbackPolicy
from core.turn import Env, Turn
from routing import service as routing
from store import calls, dialect, monitors, transfers
from store import routing as routing_store
from store.db import connect, snapshot, transaction
from store.exceptions import StoreError, StoreUnavailable
from store.postgres import masked

log = logging.getLogger(__name__)


class Store:
    """The database of this center: one connection per thread, reused (threads outlive requests)."""

    def __init__(self, path: str, policy: CallbackPolicy, clock: Clock = utcnow, *,
                 write_wait_s: float | None = None) -> None:
        self.path = path
        self.policy = policy
        self.clock = clock
        self.write_wait_s = write_wait_s  # request threads: a write gives up after this long (StoreUnavailable)
        self._down_until = 0.0  # after a write gave up: webhooks do not try again before this (time.monotonic)
        self.checkpointed_elsewhere = False  # the routing ticker runs: request threads never checkpoint
        self._local = threading.local()

    @property
    def backend(self) -> str:
        return dialect.of_target(self.path).name

    @property
    def where(self) -> str:
        """The database file or URL, without a password."""
        return masked(self.path)

    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path, autocheckpoint=not self.checkpointed_elsewhere,
                                          write_wait_s=self.write_wait_s)
        return db

    def connect(self) -> sqlite_utils.Database:
        """A connection of its own, for a long-lived loop (the routing ticker, an event stream, a media socket)."""
        return connect(self.path)

    @contextmanager
    def unit(self, db: sqlite_utils.Database | None = None) -> Iterator[UnitOfWork]:
        database = db or self.db()
        with transaction(database):
            yield UnitOfWork(database, self.policy)

    def decided(self, decide: Callable[[sqlite_utils.Database], Turn]) -> Turn:
        """A transition decided on a snapshot, and not applied."""
        db = self.db()
        with snapshot(db):
            return decide(db)

    def run(self, decide: Callable[[sqlite_utils.Database], Turn], *, journal_id: str | None = None) -> Turn:
        """One webhook's transition: read and decide without the write lock, then apply under it, so that what
        holds the lock is only the writing. If what was read changed meanwhile (the call's version, or the check
        an operation makes of its own rows), everything is read and decided again under the lock, where nothing
        can change: the result is always one that the state at its commit allows.

        StoreUnavailable (the database cannot be written now) carries the turn decided on the snapshot, for the
        webhook to answer with. ``journal_id``: a journaled report replayed; applied once, whatever happens."""
        db = self.db()
        with snapshot(db):
            turn = decide(db)
        if journal_id is None and not turn.writes:
            return turn  # it only read
        if journal_id is None and time.monotonic() < self._down_until:  # do not queue up behind a lock that holds
            raise StoreUnavailable("the database could not be written a moment ago; not waiting again yet", turn=turn)
        try:
            try:
                with self.unit(db) as unit:
                    if unit.first_replay(journal_id):
                        unit.apply(turn)
                return turn
            except ServiceError as exc:
                if isinstance(exc, StoreUnavailable):
                    raise
                log.info("%s changed while deciding (%s): deciding again under the lock", turn.sid, exc)
            with self.unit(db) as unit:
                if unit.first_replay(journal_id):
                    turn = decide(db)
                    unit.apply(turn)
            return turn
        except StoreUnavailable as exc:
            self._down_until = time.monotonic() + (self.write_wait_s or 0.0)
            raise StoreUnavailable(str(exc), turn=turn) from exc

    @contextmanager
    def transition(self, sid: str, env: Env, now: datetime,
                   db: sqlite_utils.Database | None = None) -> Iterator[tuple[Turn, sqlite_utils.Database]]:
        """A transition of a stored call outside a webhook (the ticker, the day simulation): in one unit of work,
        the call loaded, the turn handed to the block with the connection to read from, its result applied."""
        with self.unit(db) as unit:
            call = calls.load(unit.db, sid)
            if call is None:
                raise StoreError(f"no call {sid}")
            turn = Turn(call, env, now)
            yield turn, unit.db
            unit.apply(turn)


class UnitOfWork:
    """Inside one write transaction: applies transitions' results."""

    def __init__(self, db: sqlite_utils.Database, policy: CallbackPolicy) -> None:
        self.db = db
        self.policy = policy

    def first_replay(self, journal_id: str | None) -> bool:
        """Note that a journaled report is being applied; False if it was applied before (or no report: True)."""
        return journal_id is None or calls.mark_replayed(self.db, journal_id)

    def apply(self, turn: Turn) -> None:
        """Carry out the turn's operations in order (they may complete the call: its caller, its callback), then
        save the call (changes and events) once."""
        self.carry_out(turn.ops, turn.now, turn.call)
        calls.save(self.db, turn.call)

    def carry_out(self, operations: list[ops.Operation], now: datetime, call: Call | None = None) -> None:
        for op in operations:
            APPLY[type(op)](self, op, now, call)


Applier = Callable[["UnitOfWork", Any, datetime, "Call | None"], None]


def _new_caller(unit: UnitOfWork, op: ops.NewCaller, now: datetime, call: Call | None) -> None:
    call.set(caller_id=calls.caller_for_number(unit.db, op.number)["id"])  # (found, if they called meanwhile)


def _enqueue(unit: UnitOfWork, op: ops.Enqueue, now: datetime, call: Call | None) -> None:
    caller_id = op.caller_id if op.caller_id is not None else call["caller_id"] if call is not None else None
    routing.enqueue_call(unit.db, op.call_sid, op.queue, op.entered_at or now, language=op.language,
                         priority=op.priority, caller_id=caller_id, context=op.context)


def _book(unit: UnitOfWork, op: ops.BookCallback, now: datetime, call: Call | None) -> None:
    row = callbacks.request(unit.db, call.snapshot(), op.number, now, unit.policy, at=op.at)
    call.set(callback_id=row["id"])
    call.log("callback", {"callback_id": row["id"]})


def _survey(unit: UnitOfWork, op: ops.SurveyAnswer, now: datetime, call: Call | None) -> None:
    if calls.record_survey(unit.db, op.call_sid, op.question, op.score) and call is not None:
        call.log("survey", {"question": op.question, "score": op.score})


def _consult_answered(unit: UnitOfWork, op: ops.ConsultAnswered, now: datetime, call: Call | None) -> None:
    routing.consult_answered(unit.db, op.agent_id, op.call_sid, now)
    transfers.change(unit.db, op.transfer_id, state="consulting", answered_at=iso(now))


def _consult_missed(unit: UnitOfWork, op: ops.ConsultMissed, now: datetime, call: Call | None) -> None:
    routing.consult_missed(unit.db, op.agent_id, op.call_sid, now)
    transfers.change(unit.db, op.transfer_id, state="no-answer", ended_at=iso(now))


APPLY: dict[type, Applier] = {
    ops.NewCaller: _new_caller,
    ops.CallerLanguage: lambda unit, op, now, call: calls.set_caller_language(unit.db, call["caller_id"], op.language),
    ops.Enqueue: _enqueue,
    ops.Abandon: lambda unit, op, now, call: routing.abandon(unit.db, op.call_sid, now),
    ops.Accept: lambda unit, op, now, call: routing.accept(unit.db, op.item_id, op.agent_id, now, call_sid=op.call_sid),
    ops.RingNoAnswer: lambda unit, op, now, call: routing.ring_no_answer(unit.db, op.item_id, op.agent_id, now),
    ops.Withdraw: lambda unit, op, now, call: routing.withdraw(unit.db, op.item_id, now, reason=op.reason,
                                                               not_before=op.not_before),
    ops.AgentDone: lambda unit, op, now, call: routing.hang_up(unit.db, op.agent_id, now),
    ops.OutboundAnswered: lambda unit, op, now, call: routing.outbound_answered(unit.db, op.agent_id, op.call_sid, now),
    ops.OutboundMissed: lambda unit, op, now, call: routing.outbound_missed(unit.db, op.agent_id, op.call_sid, now),
    ops.Ringing: lambda unit, op, now, call: routing_store.mark_ringing(unit.db, op.item_id, op.agent_id, iso(now)),
    ops.BookCallback: _book,
    ops.CallbackAnswered: lambda unit, op, now, call: callbacks.answered(unit.db, op.callback_id),
    ops.CallbackNotReached: lambda unit, op, now, call: callbacks.not_reached(unit.db, op.callback_id, op.result, now,
                                                                             unit.policy),
    ops.CallbackCompleted: lambda unit, op, now, call: callbacks.completed(unit.db, op.callback_id),
    ops.CustomerWaits: lambda unit, op, now, call: callbacks.customer_waits(unit.db, op.callback_id, op.call_sid, now),
    ops.CancelCallback: lambda unit, op, now, call: callbacks.cancel(unit.db, op.callback_id, now, op.reason),
    ops.MonitorJoined: lambda unit, op, now, call: monitors.joined(unit.db, op.call_sid, op.supervisor_id, iso(now)),
    ops.MonitorEnded: lambda unit, op, now, call: monitors.end(unit.db, op.call_sid, op.supervisor_id, iso(now)),
    ops.OfferTo: lambda unit, op, now, call: routing.offer_to(unit.db, op.item_id, op.agent_id, op.reason, now,
                                                              from_wrapup=op.from_wrapup),
    ops.ConsultAnswered: _consult_answered,
    ops.ConsultMissed: _consult_missed,
    ops.ConsultDropped: lambda unit, op, now, call: routing.consult_dropped(unit.db, op.agent_id, op.call_sid, now),
    ops.TransferEnded: lambda unit, op, now, call: transfers.change(unit.db, op.transfer_id, state=op.state,
                                                                    ended_at=iso(now)),
    ops.SurveyAnswer: _survey,
    ops.RecordStatus: lambda unit, op, now, call: calls.record_status(unit.db, op.call_sid, op.status, op.duration_s),
}
