"""A contact-center day, simulated event by event on the real routing code.

What happens. Callers of each ``Demand`` arrive as a Poisson process whose rate is constant
within each hour; each has a talk time (exponential or lognormal, scaled by the answering
agent's level in the call's topic) and, if the demand says so, an exponential patience after
which they hang up while waiting. Agents work ``Shift``\\s: available at the start, offline at
the end (after finishing the call in hand). Wrap-up lasts the queue's ``wrapup_s``. A call
offered to an agent is answered at once (no ring time, no ring-no-answer).

Routing is not modelled here: every decision (who takes which caller, in which order, with
escalation, overflow, priority and the wait estimates) is made by ``routing/``, through one of
two interchangeable backends:

- ``CoreRouting``: the pure core (``routing.selection.Router`` kept live across the day, its
  indexes updated as agents and callers come and go, ``routing.estimates`` for estimates).
  Fast: a 12-hour day of the 40-agent center takes well under a second.
- ``StoreRouting``: the server's own call lifecycle on an in-memory SQLite database: each step is
  the transition a webhook or the routing ticker runs (``core`` through ``services.uow``: a call
  enqueued, offered, answered, abandoned, booked as a callback, dialled, not reached, hung up), with
  the simulated clock as ``now``. Slower; tests check both backends produce the same day, and the
  in-memory one moves its agents by the same rules (``routing.model.move`` and ``wrapup_until``).

Callbacks (virtual hold). A ``CallbackPolicy`` decides, each time a waiting caller hears the
wait announcement (on entry, then every ``announce_every_s``), from routing's own estimate,
whether to offer a callback, and how to retry a callback whose customer does not answer.
The caller accepts an offer with probability ``accept_p``; routing then replaces the call by a
callback item with the call's original ``entered_at`` (``hold_as_callback``), so the caller
keeps their place. When an agent gets the callback (reserved, as the server does: customer
first), the customer's phone rings; they answer with probability ``answer_p`` after
``answer_after_s``, otherwise the attempt fails after ``no_answer_s`` (CALLBACK_RING_S) and
routing withdraws the item until the policy's retry time, or cancels it when the policy gives
up. ``VirtualHold`` is the server's policy: the offer rule of ``callbacks.views.offer_hook``
with CALLBACK_OFFER_AFTER_S, and the retries of ``callbacks.service.Policy`` (backoff within
OPENING_HOURS, CALLBACK_MAX_ATTEMPTS) built from the default settings.

Figures. Service level = calls answered live within the queue's target / (answered live +
abandoned); ASA = mean wait of calls answered live. Callbacks are counted apart, as contact
centers usually report them: accepted, completed (customer reached), failed, and their delay
from the caller's original place in line. (Routing's supervisor board counts a completed
callback as answered with that delay instead.) Hold = time callers spent on the line waiting,
per offered call. Lost = abandoned + callbacks given up + still queued at closing. Occupancy =
time on calls, wrap-up and dialing / time staffed.

Determinism. The clock is whole milliseconds (the store's resolution, so both backends see
the same instants). Every demand has its own arrival stream and its own caller stream, and
each caller draws the same number of values from it, seeded by (seed, demand): two scenarios
that differ only in routing or callbacks see the very same callers (common random numbers).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Any, Protocol

import settings
from callbacks import service as callbacks
from core import callback
from core import calls as lifecycle
from core import queue as queueing
from core.ops import CallbackAnswered, CallbackCompleted, CallbackNotReached
from core.policy import CallbackPolicy as CallbackRules
from core.turn import Env, Rules, Turn
from core.urls import Urls
from ivr.engine import Engine
from ivr.flows import Flow, load_all
from routing import service
from routing.estimates import HANDLE_WINDOW, Estimate, estimate_all, handle_time
from routing.model import Agent, Presence, Queue, WaitingItem, move, wrapup_until
from routing.selection import Router
from services.uow import Store
from store import callbacks as store_callbacks
from store import calls as store_calls
from store import routing as store_routing
from store.db import connect, transaction
from store.migrations import migrate

DAY_START = datetime(2025, 1, 6, 8, tzinfo=UTC)  # Monday 08:00, when the default OPENING_HOURS open; the clock
SERVER = settings.load({})  # the server's default settings: callback offer threshold, attempts, retries, ring time
MAX_LEVEL = 5
STANDARD_NORMAL = NormalDist()


# The scenario


@dataclass(frozen=True)
class TalkTime:
    """Talk time distribution (before the skill factor): exponential, or lognormal with a coefficient of variation."""

    mean_s: float
    shape: str = "exponential"
    cv: float = 1.0

    def __post_init__(self) -> None:
        if self.shape not in ("exponential", "lognormal"):
            raise ValueError(f"unknown talk time shape {self.shape}")

    def quantile(self, u: float) -> float:
        """The talk time at probability ``u`` (inverse CDF, so one uniform draw per caller)."""
        if self.shape == "exponential":
            return -self.mean_s * math.log1p(-u)
        sigma = math.sqrt(math.log1p(self.cv**2))
        return math.exp(math.log(self.mean_s) - sigma**2 / 2 + sigma * STANDARD_NORMAL.inv_cdf(u))


@dataclass(frozen=True)
class Demand:
    """One stream of callers: their queue, hourly arrival rates from hour 0, talk time and patience."""

    queue: str
    per_hour: tuple[float, ...]
    talk: TalkTime
    language: str | None = None
    patience_s: float = math.inf  # mean of an exponential patience; inf: nobody hangs up
    topic: str | None = None  # the skill the call is about; talk time scales with the agent's level in it


@dataclass(frozen=True)
class Shift:
    """An agent, their skills and languages, and when they work (hours from the start of the day)."""

    agent: str
    skills: Mapping[str, int]
    languages: frozenset[str]
    start_h: float
    end_h: float


@dataclass(frozen=True)
class Callers:
    """How customers respond to callback offers and to the callbacks themselves."""

    accept_p: float = 0.5  # each offer is accepted with this probability
    answer_p: float = 0.85  # each callback attempt reaches the customer with this probability
    answer_after_s: float = 10.0  # the customer picks up after ringing this long (the agent is reserved meanwhile)
    no_answer_s: float = SERVER["CALLBACK_RING_S"]  # an unanswered attempt rings this long
    announce_every_s: float = 60.0  # the wait announcement (and the callback offer) repeats


@dataclass(frozen=True)
class Scenario:
    queues: tuple[Queue, ...]
    demands: tuple[Demand, ...]
    shifts: tuple[Shift, ...]
    talk_factor: tuple[float, ...] = (1.0,) * (MAX_LEVEL + 1)  # by level 0 (lacks the skill) … 5
    callers: Callers = Callers()


def fifo(scenario: Scenario) -> Scenario:
    """The same center without skills routing: no required skills, priorities or escalation, one line in arrival
    order per language (a caller's language still has to be spoken)."""
    queues = tuple(replace(q, skills={}, priority=0, escalation=()) for q in scenario.queues)
    return replace(scenario, queues=queues)


# The callback hook


class CallbackPolicy(Protocol):
    """Where callback logic plugs in: when to offer virtual hold, and how to retry an unanswered callback."""

    def offer(self, estimate: Estimate) -> bool:
        """Offer a callback to the caller whose estimate this is, now."""

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` unanswered attempts; None: give up."""


@dataclass(frozen=True)
class VirtualHold:
    """The server's callback rules: offer once the estimated wait exceeds ``offer_above_s`` (or nobody who could
    answer is staffed), as ``callbacks.views.offer_hook`` does; retry as ``callbacks.service.Policy`` does
    (exponential backoff from CALLBACK_RETRY_S within OPENING_HOURS, failed after CALLBACK_MAX_ATTEMPTS)."""

    offer_above_s: float = SERVER["CALLBACK_OFFER_AFTER_S"]
    rules: CallbackRules = field(default_factory=lambda: CallbackRules.from_settings(SERVER))

    def offer(self, estimate: Estimate) -> bool:
        return estimate.wait_s is None or estimate.wait_s > self.offer_above_s

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        return None if attempts >= self.rules.max_attempts else self.rules.retry_at(attempts, now)


# Routing backends


class Routing(Protocol):
    """What the day asks of routing; both backends answer with routing/'s own code."""

    def start_shift(self, agent_id: str, now: datetime) -> None: ...
    def end_shift(self, agent_id: str, now: datetime) -> None: ...
    def enqueue(self, call_id: str, queue: str, language: str | None, now: datetime) -> None: ...
    def dispatch(self, now: datetime) -> list[tuple[str, str]]: ...
    def accept(self, item_id: str, agent_id: str, now: datetime) -> None: ...
    def abandon(self, call_id: str, now: datetime) -> bool: ...
    def hold_as_callback(self, call_id: str, callback_id: int, now: datetime) -> str: ...
    def dialing(self, item_id: str, agent_id: str, now: datetime) -> None: ...
    def retry_later(self, item_id: str, not_before: datetime, now: datetime) -> None: ...
    def give_up(self, item_id: str, now: datetime) -> None: ...
    def hang_up(self, agent_id: str, now: datetime) -> None: ...
    def finish_wrapups(self, now: datetime) -> list[str]: ...
    def estimate(self, item_id: str, now: datetime) -> Estimate | None: ...


class CoreRouting:
    """The pure core kept live: a ``Router`` whose indexes follow the day, presence kept as the service keeps it."""

    def __init__(self, scenario: Scenario) -> None:
        self.router = Router(scenario.queues)
        self.queues = {q.name: q for q in scenario.queues}
        self.agents = {s.agent: Agent(s.agent, s.agent, dict(s.skills), s.languages) for s in scenario.shifts}
        self.items: dict[str, WaitingItem] = {}  # waiting or offered
        self.offered: dict[str, str] = {}  # item → reserved agent
        self.work: dict[str, str] = {}  # agent → queue of the item in hand
        self.wrapup_until: dict[str, datetime] = {}
        self.talk_s: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=HANDLE_WINDOW))

    def _set(self, agent_id: str, presence: Presence, now: datetime, *, idle: bool = True) -> None:
        """Move the agent to ``presence`` by routing's rules (``move``), keeping the available index current."""
        agent = self.agents[agent_id]
        if agent_id in self.router.available:
            self.router.available.remove(agent_id)
        change = move(presence, now, keep_idle=not idle)
        agent.presence, agent.presence_since = change.presence, change.since
        if change.idle_since is not None:
            agent.last_idle_at = change.idle_since
        if presence == Presence.AVAILABLE:
            self.router.available.add(agent)

    def start_shift(self, agent_id: str, now: datetime) -> None:
        self._set(agent_id, Presence.AVAILABLE, now)

    def end_shift(self, agent_id: str, now: datetime) -> None:
        self._set(agent_id, Presence.OFFLINE, now)

    def enqueue(self, call_id: str, queue: str, language: str | None, now: datetime) -> None:
        item = WaitingItem(call_id, queue, now, language=language)
        self.items[call_id] = item
        self.router.waiting.add(item)

    def dispatch(self, now: datetime) -> list[tuple[str, str]]:
        pairs = []
        for decision in self.router.dispatch(now):
            self.agents[decision.agent_id].presence = Presence.RESERVED
            self.agents[decision.agent_id].presence_since = now
            self.offered[decision.item_id] = decision.agent_id
            pairs.append((decision.item_id, decision.agent_id))
        return pairs

    def accept(self, item_id: str, agent_id: str, now: datetime) -> None:
        del self.offered[item_id]
        self.work[agent_id] = self.items.pop(item_id).queue
        self._set(agent_id, Presence.BUSY, now)

    def _take_back(self, item_id: str, now: datetime) -> WaitingItem:
        """The item out of the queue's index, its reserved agent (if any) available again with their idle time."""
        if item_id in self.offered:
            self._set(self.offered.pop(item_id), Presence.AVAILABLE, now, idle=False)
        else:
            self.router.waiting.remove(item_id)
        return self.items[item_id]

    def abandon(self, call_id: str, now: datetime) -> bool:
        if call_id not in self.items:
            return False
        self._take_back(call_id, now)
        del self.items[call_id]
        return True

    def hold_as_callback(self, call_id: str, callback_id: int, now: datetime) -> str:
        call = self._take_back(call_id, now)
        del self.items[call_id]
        # ready now (escalation counts from here), at the caller's old place in line, as callbacks.service books it
        item = replace(call, id=service.callback_item_id(callback_id), kind="callback", not_before=now)
        self.items[item.id] = item
        self.router.waiting.add(item)
        return item.id

    def retry_later(self, item_id: str, not_before: datetime, now: datetime) -> None:
        item = self._take_back(item_id, now)
        item.not_before = not_before
        self.router.waiting.add(item)

    def give_up(self, item_id: str, now: datetime) -> None:
        self._take_back(item_id, now)
        del self.items[item_id]

    def dialing(self, item_id: str, agent_id: str, now: datetime) -> None:
        """The callback's customer is being rung (nothing to keep here)."""

    def hang_up(self, agent_id: str, now: datetime) -> None:
        agent = self.agents[agent_id]
        queue = self.queues[self.work.pop(agent_id)]
        self.talk_s[queue.name].append((now - agent.presence_since).total_seconds())
        until = wrapup_until(queue, now)
        if until is not None:
            self._set(agent_id, Presence.WRAPUP, now)
            self.wrapup_until[agent_id] = until
        else:
            self._set(agent_id, Presence.AVAILABLE, now)

    def finish_wrapups(self, now: datetime) -> list[str]:
        due = sorted(agent_id for agent_id, until in self.wrapup_until.items() if until <= now)
        for agent_id in due:
            self._set(agent_id, Presence.AVAILABLE, self.wrapup_until.pop(agent_id))
        return due

    def estimate(self, item_id: str, now: datetime) -> Estimate | None:
        handle_s = {name: handle_time(list(self.talk_s[name]), q.wrapup_s) for name, q in self.queues.items()}
        waiting = self.router.waiting.items.values()
        return estimate_all(waiting, self.agents.values(), self.router.ladders, handle_s, now).get(item_id)


class _Languages(Engine):
    """The server's flows, except that a call's language is its demand's (None: any language), as routing needs it:
    the day has no IVR turns that would give every caller a flow language."""

    def language_for(self, language: str | None) -> str | None:  # type: ignore[override]
        return language

    def flow(self, language: str | None) -> Flow:
        return super().flow(super().language_for(language))  # what a caller would hear: the default flow


class StoreRouting:
    """The server's call lifecycle on an in-memory SQLite database: each step is the transition a webhook or the
    routing ticker runs (``core`` through the unit of work), with the simulated clock as ``now``."""

    def __init__(self, scenario: Scenario, rules: CallbackRules | None = None) -> None:
        self.policy = rules or CallbackRules.from_settings(SERVER)
        self.db = connect(":memory:")
        self.store = Store(":memory:", self.policy)
        self.env = Env(Rules(callback=self.policy), Urls("http://daysim.invalid"), _Languages(load_all(), "en"))
        migrate(self.db)
        with transaction(self.db):
            for skill in sorted({s for shift in scenario.shifts for s in shift.skills} | _queue_skills(scenario)):
                store_routing.upsert_skill(self.db, skill, "")
            for q in scenario.queues:
                store_routing.upsert_queue(self.db, _queue_row(q))
            for s in scenario.shifts:
                store_routing.upsert_agent(
                    self.db,
                    {"id": s.agent, "name": s.agent, "role": "agent", "languages": sorted(s.languages)},
                    dict(s.skills),
                )

    def _transition(self, sid: str, now: datetime) -> Any:
        return self.store.transition(sid, self.env, now, self.db)

    def start_shift(self, agent_id: str, now: datetime) -> None:
        service.set_presence(self.db, agent_id, Presence.AVAILABLE, now)

    def end_shift(self, agent_id: str, now: datetime) -> None:
        service.set_presence(self.db, agent_id, Presence.OFFLINE, now)

    def enqueue(self, call_id: str, queue_name: str, language: str | None, now: datetime) -> None:
        """The caller arrives and reaches the queue node (no IVR turns here)."""
        with self.store.unit(self.db) as unit:
            call = lifecycle.new(call_id, now, language=language, direction="inbound", status="in-progress",
                                 from_number=_number(call_id))
            turn = Turn(call, self.env, now)
            queueing.enqueue(turn, queue_name)
            unit.apply(turn)

    def dispatch(self, now: datetime) -> list[tuple[str, str]]:
        """The routing ticker's dispatch: each offer noted on its call in the same transaction."""

        def record(offers: list[service.Offer]) -> None:
            for offer in offers:
                if offer.call_sid:
                    call = store_calls.load(self.db, offer.call_sid)
                    queueing.offered(call, offer.item_id, offer.agent_id, offer.reason, self.env.urls)
                    store_calls.save(self.db, call)

        return [(offer.item_id, offer.agent_id) for offer in service.dispatch(self.db, now, record)]

    def accept(self, item_id: str, agent_id: str, now: datetime) -> None:
        """The agent answers: a waiting caller, or (callback) the customer who answered our call."""
        callback_id = service.callback_id_of(item_id)
        if callback_id is None:
            with self._transition(item_id, now) as (turn, tx):
                queueing.accept(turn, store_routing.item(tx, item_id), agent_id, None)
            return
        row = store_callbacks.get(self.db, callback_id)
        with self.store.unit(self.db) as unit:
            call = lifecycle.new(f"CB{callback_id:08d}", now, direction="outbound-api", status="in-progress",
                                 language=row["language"], parent_sid=row["call_sid"], callback_id=callback_id,
                                 queue=row["queue"])
            turn = Turn(call, self.env, now)
            turn.do(CallbackAnswered(callback_id))
            queueing.accept(turn, store_routing.item(unit.db, item_id), agent_id, None)
            unit.apply(turn)

    def abandon(self, call_id: str, now: datetime) -> bool:
        """Twilio's "completed" status for a caller who hung up while queued."""
        if store_routing.item(self.db, call_id) is None:
            return False
        with self._transition(call_id, now) as (turn, tx):
            lifecycle.status(turn, "completed", None, store_routing.item(tx, call_id), None)
        return True

    def hold_as_callback(self, call_id: str, callback_id: int, now: datetime) -> str:
        """The caller presses 1 for a callback (to their own number) and hangs up; returns the callback's item."""
        with self._transition(call_id, now) as (turn, tx):
            callback.book(turn, _number(call_id), None, "hold.wav", 0, True)
        return service.callback_item_id(store_calls.load(self.db, call_id)["callback_id"])

    def dialing(self, item_id: str, agent_id: str, now: datetime) -> None:
        """The dial job claims the callback (one more attempt) before ringing the customer."""
        callbacks.claim(self.db, service.callback_id_of(item_id), agent_id, now)

    def _not_reached(self, item_id: str, now: datetime) -> None:
        with self.store.unit(self.db) as unit:
            unit.carry_out([CallbackNotReached(service.callback_id_of(item_id), "no-answer")], now)

    def retry_later(self, item_id: str, not_before: datetime, now: datetime) -> None:
        """Not reached: the server's policy (the day's too) waits until ``not_before``."""
        self._not_reached(item_id, now)

    def give_up(self, item_id: str, now: datetime) -> None:
        """Not reached for the last time: failed."""
        self._not_reached(item_id, now)

    def hang_up(self, agent_id: str, now: datetime) -> None:
        """The agent's leg reports "completed": wrap-up; a callback's call is done."""
        agent = store_routing.agent(self.db, agent_id)
        with self._transition(agent["current_call_sid"], now) as (turn, _):
            queueing.agent_left(turn, agent)
            if turn.call["callback_id"] and turn.call["direction"] == "outbound-api":
                turn.do(CallbackCompleted(turn.call["callback_id"]))

    def finish_wrapups(self, now: datetime) -> list[str]:
        return service.finish_wrapups(self.db, now)

    def estimate(self, item_id: str, now: datetime) -> Estimate | None:
        return service.estimate(self.db, item_id, now)


def _number(call_id: str) -> str:
    """A caller's own number (every simulated caller has one, so the per-number callback limit never bites)."""
    return f"+1202{int(call_id.removeprefix('CA')) % 10**7:07d}"


def _queue_skills(scenario: Scenario) -> set[str]:
    return {skill for q in scenario.queues for skill in q.skills}


def _queue_row(queue: Queue) -> dict[str, Any]:
    return {
        "name": queue.name,
        "description": "",
        "skills": dict(queue.skills),
        "language": queue.language,
        "priority": queue.priority,
        "sl_target_s": queue.sl_target_s,
        "sl_target_pct": queue.sl_target_pct,
        "wrapup_s": queue.wrapup_s,
        "escalation": [step.to_dict() for step in queue.escalation],
    }


BACKENDS: dict[str, Callable[[Scenario], Routing]] = {"core": CoreRouting, "store": StoreRouting}


# Figures


@dataclass
class Figures:
    """Counts and sums for one queue (or the whole center); rates are derived."""

    offered: int = 0  # calls that arrived
    answered: int = 0  # calls an agent answered live
    within_target: int = 0  # of those, answered within the queue's target
    abandoned: int = 0  # callers who hung up while waiting
    wait_s: float = 0.0  # summed over calls answered live
    hold_s: float = 0.0  # time callers spent on hold: until answered, until they hung up, or until a callback
    callbacks_accepted: int = 0
    callbacks_completed: int = 0  # the customer was reached and an agent talked with them
    callbacks_failed: int = 0  # the policy gave up after unanswered attempts
    callback_wait_s: float = 0.0  # summed over completed callbacks, from the caller's original place in line
    unserved: int = 0  # still queued (on hold or as a callback) when the last agent left

    def add(self, other: Figures) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def service_level(self) -> float | None:
        """Answered live within target / (answered live + abandoned)."""
        handled = self.answered + self.abandoned
        return self.within_target / handled if handled else None

    @property
    def asa_s(self) -> float | None:
        return self.wait_s / self.answered if self.answered else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.offered if self.offered else None

    @property
    def lost(self) -> float | None:
        """Callers never served: abandoned, callbacks given up, or still queued at closing, / offered."""
        return (self.abandoned + self.callbacks_failed + self.unserved) / self.offered if self.offered else None

    @property
    def mean_hold_s(self) -> float | None:
        return self.hold_s / self.offered if self.offered else None

    @property
    def callback_delay_s(self) -> float | None:
        return self.callback_wait_s / self.callbacks_completed if self.callbacks_completed else None

    def summary(self) -> dict[str, float | None]:
        derived = ("service_level", "asa_s", "abandonment", "lost", "mean_hold_s", "callback_delay_s")
        return {**asdict(self), **{name: getattr(self, name) for name in derived}}


@dataclass
class DayReport:
    queues: dict[str, Figures]
    staffed_s: float
    working_s: float
    events: int

    @property
    def total(self) -> Figures:
        total = Figures()
        for figures in self.queues.values():
            total.add(figures)
        return total

    @property
    def occupancy(self) -> float | None:
        return self.working_s / self.staffed_s if self.staffed_s else None

    def summary(self) -> dict[str, Any]:
        return {
            **self.total.summary(),
            "occupancy": self.occupancy,
            "events": self.events,
            "queues": {name: figures.summary() for name, figures in sorted(self.queues.items())},
        }


# The simulation


@dataclass
class Call:
    id: str
    demand: Demand
    entered_ms: int
    talk_s: float  # before the skill factor
    patience_ms: int | None
    accept_u: float
    seed: int  # of the caller's own stream for callback attempts, made on the first attempt
    rng: random.Random | None = None
    item_id: str = ""
    state: str = "waiting"  # waiting | callback | talking | done
    offers: int = 0
    attempts: int = 0


@dataclass
class Staff:
    shift: Shift
    on_shift: bool = False
    staffed_from_ms: int = 0
    call: Call | None = None


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def at(moment_ms: int) -> datetime:
    return DAY_START + timedelta(milliseconds=moment_ms)


class Day:
    """One simulated day: ``Day(scenario, routing, seed, policy).run()``."""

    def __init__(self, scenario: Scenario, routing: Routing, seed: int, policy: CallbackPolicy | None = None) -> None:
        self.scenario = scenario
        self.routing = routing
        self.policy = policy
        self.queues = {q.name: q for q in scenario.queues}
        self.figures = {q.name: Figures() for q in scenario.queues}
        self.staff = {s.agent: Staff(s) for s in scenario.shifts}
        self.arrival_rngs = [random.Random(f"{seed}:{i}:arrivals") for i in range(len(scenario.demands))]
        self.caller_rngs = [random.Random(f"{seed}:{i}:callers") for i in range(len(scenario.demands))]
        self.calls: dict[str, Call] = {}  # queued (waiting or as a callback) or talking
        self.by_item: dict[str, Call] = {}
        self.now_ms = 0
        self.now = at(0)
        self.heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = 0
        self.events = 0
        self.staffed_ms = 0
        self.working_ms = 0
        self.arrived = 0
        self.callbacks = 0
        self.shifts_left = len(scenario.shifts)  # shifts not yet ended, and agents not yet gone home

    def schedule(self, moment_ms: int, handler: Callable[..., None], *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (moment_ms, self.seq, handler, args))

    def run(self) -> DayReport:
        for shift in self.scenario.shifts:
            self.schedule(ms(shift.start_h * 3600), self.shift_starts, shift.agent)
            self.schedule(ms(shift.end_h * 3600), self.shift_ends, shift.agent)
        for index in range(len(self.scenario.demands)):
            self.next_arrival(index, 0)
        while self.heap and self.shifts_left:
            self.now_ms, _, handler, args = heapq.heappop(self.heap)
            self.now = at(self.now_ms)
            handler(*args)
            self.events += 1
            self.dispatch()
        for call in self.calls.values():
            if call.state in ("waiting", "callback"):
                self.figures[call.demand.queue].unserved += 1
        return DayReport(self.figures, self.staffed_ms / 1000, self.working_ms / 1000, self.events)

    # Arrivals and waiting callers

    def next_arrival(self, index: int, from_ms: int) -> None:
        """Schedule the demand's next caller after ``from_ms`` (piecewise-constant hourly rate)."""
        demand, rng = self.scenario.demands[index], self.arrival_rngs[index]
        t = from_ms / 1000
        while (hour := int(t // 3600)) < len(demand.per_hour):
            end = (hour + 1) * 3600
            rate = demand.per_hour[hour] / 3600
            if rate > 0 and (t := t + rng.expovariate(rate)) < end:
                self.schedule(ms(t), self.arrives, index)
                return
            t = end

    def arrives(self, index: int) -> None:
        demand, rng = self.scenario.demands[index], self.caller_rngs[index]
        patience_u, talk_u, accept_u, seed = rng.random(), rng.random(), rng.random(), rng.getrandbits(64)
        patience_ms = None if math.isinf(demand.patience_s) else ms(-demand.patience_s * math.log1p(-patience_u))
        self.arrived += 1
        call = Call(
            f"CA{self.arrived:08d}", demand, self.now_ms, demand.talk.quantile(talk_u), patience_ms, accept_u, seed
        )
        call.item_id = call.id
        self.calls[call.id] = self.by_item[call.id] = call
        self.figures[demand.queue].offered += 1
        self.routing.enqueue(call.id, demand.queue, demand.language, self.now)
        for step in self.queues[demand.queue].escalation:  # a wider set of agents may take the call then
            self.schedule(self.now_ms + ms(step.after_s), self.wake)
        if patience_ms is not None:
            self.schedule(self.now_ms + patience_ms, self.patience_runs_out, call)
        if self.policy:
            self.schedule(self.now_ms, self.announce, call)  # after this instant's dispatch
        self.next_arrival(index, self.now_ms)

    def wake(self) -> None:
        """Nothing changes but the clock: dispatch looks again (escalation steps, callbacks due)."""

    def patience_runs_out(self, call: Call) -> None:
        if call.state == "waiting" and self.routing.abandon(call.id, self.now):
            figures = self.figures[call.demand.queue]
            figures.abandoned += 1
            figures.hold_s += (self.now_ms - call.entered_ms) / 1000
            self.forget(call)

    def announce(self, call: Call) -> None:
        """The wait announcement: offer a callback if the policy says so, and come back later."""
        if call.state != "waiting":
            return
        estimate = self.routing.estimate(call.id, self.now)
        if estimate is not None and self.policy.offer(estimate):
            call.offers += 1
            if call.accept_u < 1 - (1 - self.scenario.callers.accept_p) ** call.offers:  # P(accept this offer) = p
                self.to_callback(call)
                return
        self.schedule(self.now_ms + ms(self.scenario.callers.announce_every_s), self.announce, call)

    def to_callback(self, call: Call) -> None:
        self.callbacks += 1
        del self.by_item[call.item_id]
        call.item_id = self.routing.hold_as_callback(call.id, self.callbacks, self.now)
        call.state = "callback"
        self.by_item[call.item_id] = call
        figures = self.figures[call.demand.queue]
        figures.callbacks_accepted += 1
        figures.hold_s += (self.now_ms - call.entered_ms) / 1000

    # Agents

    def shift_starts(self, agent_id: str) -> None:
        staff = self.staff[agent_id]
        staff.on_shift, staff.staffed_from_ms = True, self.now_ms
        self.routing.start_shift(agent_id, self.now)

    def shift_ends(self, agent_id: str) -> None:
        staff = self.staff[agent_id]
        staff.on_shift = False
        if staff.call is None:
            self.go_home(agent_id)

    def go_home(self, agent_id: str) -> None:
        """Offline after the shift (and the call in hand)."""
        self.routing.end_shift(agent_id, self.now)
        self.staffed_ms += self.now_ms - self.staff[agent_id].staffed_from_ms
        self.shifts_left -= 1

    def free(self, agent_ids: Iterable[str]) -> None:
        """Agents who just became available: those whose shift is over go home."""
        for agent_id in agent_ids:
            staff = self.staff[agent_id]
            staff.call = None
            if not staff.on_shift:
                self.go_home(agent_id)

    def dispatch(self) -> None:
        for item_id, agent_id in self.routing.dispatch(self.now):
            call = self.by_item[item_id]
            self.staff[agent_id].call = call
            if call.state == "callback":
                self.dial(call, agent_id)
            else:
                self.answer(call, agent_id)

    def answer(self, call: Call, agent_id: str) -> None:
        self.routing.accept(call.item_id, agent_id, self.now)
        wait_s = (self.now_ms - call.entered_ms) / 1000
        figures = self.figures[call.demand.queue]
        if call.state == "waiting":
            figures.answered += 1
            figures.wait_s += wait_s
            figures.hold_s += wait_s
            figures.within_target += wait_s <= self.queues[call.demand.queue].sl_target_s
        else:
            figures.callbacks_completed += 1
            figures.callback_wait_s += wait_s
        call.state = "talking"
        level = self.staff[agent_id].shift.skills.get(call.demand.topic, 0) if call.demand.topic else None
        talk_s = call.talk_s * (self.scenario.talk_factor[level] if level is not None else 1.0)
        self.working_ms += ms(talk_s)
        self.schedule(self.now_ms + ms(talk_s), self.talk_ends, call, agent_id)

    def dial(self, call: Call, agent_id: str) -> None:
        """The reserved agent's callback rings the customer, who answers (or not) when the ring is over."""
        call.attempts += 1
        self.routing.dialing(call.item_id, agent_id, self.now)
        call.rng = call.rng or random.Random(call.seed)
        reached = call.rng.random() < self.scenario.callers.answer_p
        ring_s = self.scenario.callers.answer_after_s if reached else self.scenario.callers.no_answer_s
        self.working_ms += ms(ring_s)
        self.schedule(self.now_ms + ms(ring_s), self.callback_rang, call, agent_id, reached)

    def callback_rang(self, call: Call, agent_id: str, reached: bool) -> None:
        if reached:
            self.answer(call, agent_id)
            return
        retry = self.policy.retry_at(call.attempts, self.now)
        if retry is None:
            self.routing.give_up(call.item_id, self.now)
            self.figures[call.demand.queue].callbacks_failed += 1
            self.forget(call)
        else:
            retry_ms = ms((retry - DAY_START).total_seconds())  # whole milliseconds, as the store keeps them
            self.routing.retry_later(call.item_id, at(retry_ms), self.now)
            self.schedule(retry_ms, self.wake)
        self.free([agent_id])

    def talk_ends(self, call: Call, agent_id: str) -> None:
        self.routing.hang_up(agent_id, self.now)
        self.forget(call)
        wrapup_s = self.queues[call.demand.queue].wrapup_s
        if wrapup_s > 0:
            self.working_ms += ms(wrapup_s)
            self.schedule(self.now_ms + ms(wrapup_s), self.wrapups_end)
        else:
            self.free([agent_id])

    def wrapups_end(self) -> None:
        self.free(self.routing.finish_wrapups(self.now))

    def forget(self, call: Call) -> None:
        call.state = "done"
        del self.calls[call.id]
        del self.by_item[call.item_id]


def simulate(
    scenario: Scenario, seed: int, *, policy: CallbackPolicy | None = None, backend: str = "core"
) -> DayReport:
    """Run one day of ``scenario`` on routing's ``backend`` ("core" or "store"; the store one follows the
    policy's retry rules, as the server does)."""
    routing = StoreRouting(scenario, policy.rules if isinstance(policy, VirtualHold) else None) if backend == "store" \
        else BACKENDS[backend](scenario)
    return Day(scenario, routing, seed, policy).run()
