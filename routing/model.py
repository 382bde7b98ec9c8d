"""The routing vocabulary: presence, agents, queues with escalation, waiting items, requirements.

Order of service (priority with ageing). Waiting items are served in ascending *rank time*::

    rank_time = entered_at − (queue.priority + item.priority) × PRIORITY_STEP_S

One priority point counts as ``PRIORITY_STEP_S`` (60 s) of waiting. Every waiting item ages
at the same rate, so the order never changes while items wait (it can be kept in a sorted
index), and a caller can be overtaken only by callers who arrived less than
Δpriority × 60 s after them: a low-priority caller waits at most that much longer than
first-come-first-served would make them wait, and nobody starves.

Escalation. A queue's steps apply cumulatively with the caller's own wait: ``{after_s: 30,
min_level_delta: -1}`` lowers every minimum level by one (never below 1) after 30 s;
``{after_s: 90, overflow: general}`` also admits the agents the ``general`` queue would take,
in the caller's language, after 90 s. Each stage is a ``Requirement``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.constants import QUEUE_DEFAULTS, language_name
from routing.exceptions import RoutingError

PRIORITY_STEP_S = 60.0
MIN_LEVEL, MAX_LEVEL = 1, 5
ITEM_KINDS = ("call", "callback")


class Presence(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RESERVED = "reserved"  # an item is offered to the agent; the phone rings
    BUSY = "busy"
    WRAPUP = "wrapup"
    BREAK = "break"  # not ready, with a reason (e.g. ring-no-answer)


STAFFED = frozenset({Presence.AVAILABLE, Presence.RESERVED, Presence.BUSY, Presence.WRAPUP})
MANUAL = frozenset({Presence.OFFLINE, Presence.AVAILABLE, Presence.BREAK})  # what a person may set
WORKING = frozenset({Presence.RESERVED, Presence.BUSY, Presence.WRAPUP})  # with an item or a call in hand


@dataclass(frozen=True)
class Move:
    """An agent's move to another presence, as the rules have it (``routing.service`` writes it to the store; the
    day simulation's in-memory routing applies it to its agents)."""

    presence: Presence
    since: datetime
    idle_since: datetime | None  # a new idle period starts here (the longest idle agent is served first)
    drops_work: bool  # the item and call in hand are gone
    reason: str | None = None


def move(presence: Presence, since: datetime, *, keep_idle: bool = False, reason: str | None = None) -> Move:
    """Move to ``presence`` at ``since``: leaving work drops the item in hand; becoming available starts idling,
    unless the agent is given back an offer that was not theirs to lose (``keep_idle``)."""
    idle = since if presence == Presence.AVAILABLE and not keep_idle else None
    return Move(presence, since, idle, presence not in WORKING, reason)


def wrapup_until(queue: Queue, ended: datetime) -> datetime | None:
    """When the wrap-up after a call of ``queue`` ends; None: the agent is available at once."""
    return ended + timedelta(seconds=queue.wrapup_s) if queue.wrapup_s > 0 else None


def check_level(skill: str, level: Any) -> int:
    """A proficiency level 1–5, or RoutingError."""
    if not isinstance(level, int) or isinstance(level, bool) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise RoutingError(f"{skill}: level must be an integer {MIN_LEVEL}–{MAX_LEVEL}, got {level!r}")
    return level


@dataclass
class Agent:
    id: str
    name: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    languages: frozenset[str] = frozenset()
    presence: Presence = Presence.OFFLINE
    presence_since: datetime | None = None
    last_idle_at: datetime | None = None

    def idle_since(self) -> float:
        """When the agent last became idle (POSIX seconds); the longest idle agent has the smallest."""
        moment = self.last_idle_at or self.presence_since
        return moment.timestamp() if moment else 0.0

    def idle_s(self, now: datetime) -> float:
        return max(0.0, now.timestamp() - self.idle_since())


@dataclass(frozen=True)
class EscalationStep:
    after_s: float
    min_level_delta: int = 0
    overflow: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EscalationStep:
        unknown = set(data) - {"after_s", "min_level_delta", "overflow"}
        if unknown:
            raise RoutingError(f"escalation step: unknown keys {sorted(unknown)}")
        step = cls(float(data.get("after_s", -1)), int(data.get("min_level_delta", 0)), data.get("overflow"))
        if step.after_s < 0:
            raise RoutingError("escalation step: after_s must be a number of seconds ≥ 0")
        if step.min_level_delta > 0:
            raise RoutingError("escalation step: min_level_delta lowers levels, it must be ≤ 0")
        if not step.min_level_delta and not step.overflow:
            raise RoutingError("escalation step: give min_level_delta or overflow")
        return step

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"after_s": self.after_s}
        if self.min_level_delta:
            data["min_level_delta"] = self.min_level_delta
        if self.overflow:
            data["overflow"] = self.overflow
        return data


@dataclass(frozen=True, eq=False)
class Queue:
    name: str
    skills: Mapping[str, int] = field(default_factory=dict)  # skill → minimum level
    language: str | None = QUEUE_DEFAULTS["language"]  # required language unless the item brings its own
    priority: int = QUEUE_DEFAULTS["priority"]
    sl_target_s: int = QUEUE_DEFAULTS["sl_target_s"]
    sl_target_pct: int = QUEUE_DEFAULTS["sl_target_pct"]
    wrapup_s: int = QUEUE_DEFAULTS["wrapup_s"]
    escalation: tuple[EscalationStep, ...] = ()


@dataclass
class WaitingItem:
    """A call waiting on hold, or a callback holding the caller's place (virtual hold)."""

    id: str
    queue: str
    entered_at: datetime
    kind: str = "call"
    language: str | None = None
    priority: int = 0
    caller_id: int | None = None
    last_agent_id: str | None = None  # who served this caller last (sticky agent)
    not_before: datetime | None = None  # a scheduled callback is not offered before this
    context: dict[str, Any] = field(default_factory=dict)

    def waited_s(self, now: datetime) -> float:
        return (now - self.entered_at).total_seconds()

    def escalation_s(self, now: datetime) -> float:
        """How long escalation has been running: a caller on hold since entering the line; a callback (who is not
        on hold, and keeps an old place in line) only since it became ready, so it is not handed at once to the
        least skilled agents."""
        start = self.not_before if self.kind == "callback" and self.not_before else self.entered_at
        return (now - start).total_seconds()

    def ready(self, now: datetime) -> bool:
        return self.not_before is None or self.not_before <= now


def rank_time(item: WaitingItem, queue: Queue) -> float:
    """The item's place in line (smaller is served first): entry time minus priority × 60 s."""
    return item.entered_at.timestamp() - (queue.priority + item.priority) * PRIORITY_STEP_S


def item_order(item: WaitingItem, queue: Queue) -> tuple[float, float, str]:
    """Total order of service: rank time, then entry time, then id."""
    return rank_time(item, queue), item.entered_at.timestamp(), item.id


@dataclass(frozen=True)
class Requirement:
    """What an agent needs to take an item at one stage of its queue's escalation."""

    queue: str
    skills: tuple[tuple[str, int], ...]  # (skill, minimum level), in the queue's order
    language: str | None
    after_s: float = 0.0
    overflow: bool = False

    def skip_reason(self, agent: Agent) -> str | None:
        """Why ``agent`` does not qualify ("no Russian", "billing 2 < 3"), or None when it does."""
        if self.language and self.language not in agent.languages:
            return f"no {language_name(self.language)}"
        for skill, minimum in self.skills:
            level = agent.skills.get(skill)
            if level is None:
                return f"no {skill}"
            if level < minimum:
                return f"{skill} {level} < {minimum}"
        return None

    def score(self, agent: Agent) -> int:
        """Skill score: the sum of the agent's levels in the required skills."""
        return sum(agent.skills[skill] for skill, _ in self.skills)

    def describe(self) -> str:
        parts = [f"{skill} ≥ {minimum}" for skill, minimum in self.skills]
        if self.language:
            parts.append(language_name(self.language))
        return ", ".join(parts) or "any agent"


def escalation_ladder(queue: Queue, queues: Mapping[str, Queue], language: str | None) -> tuple[Requirement, ...]:
    """Every stage of ``queue`` for a caller speaking ``language``, by time: base, lowered levels, overflows."""
    language = language or queue.language
    ladder = [Requirement(queue.name, tuple(queue.skills.items()), language)]
    delta = 0
    for step in sorted(queue.escalation, key=lambda s: s.after_s):
        if step.min_level_delta:
            delta += step.min_level_delta
            lowered = tuple((skill, max(MIN_LEVEL, minimum + delta)) for skill, minimum in queue.skills.items())
            ladder.append(Requirement(queue.name, lowered, language, step.after_s))
        if step.overflow:
            if step.overflow not in queues:
                raise RoutingError(f"queue {queue.name}: overflow to unknown queue {step.overflow}")
            target = queues[step.overflow]
            ladder.append(
                Requirement(target.name, tuple(target.skills.items()), language or target.language, step.after_s, True)
            )
    return tuple(ladder)


def active_requirements(ladder: tuple[Requirement, ...], waited_s: float) -> tuple[Requirement, ...]:
    """The stages in force after ``waited_s``: the most lowered own-queue stage (the base one at least, even for
    an item that entered a moment after another process read the clock), then each overflow."""
    own = [ladder[0], *(r for r in ladder[1:] if not r.overflow and r.after_s <= waited_s)]
    return (own[-1], *(r for r in ladder if r.overflow and r.after_s <= waited_s))
