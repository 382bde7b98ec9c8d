"""Selection: the best available agent for a waiting item, the next item for a freed agent.

Rules, in order:
1. Only available agents who meet one of the item's active requirements (language, every
   required skill at its minimum level, lowered or overflowed by escalation) are eligible.
2. The agent who last served this caller (sticky) comes first when eligible.
3. Then agents who meet the item's own queue before agents admitted by an overflow.
4. Then the best skill score (sum of levels in the required skills), then the longest idle.
Items are served in the order of ``model.item_order`` (priority with ageing).

Indexes. ``AvailableAgents`` keeps, for every skill, every (language, skill) pair, every
language and for all agents, a list sorted best first by (−level, idle since). Selecting an
agent for a one-skill requirement reads the head of one list; several skills walk the list of
the rarest skill and stop as soon as no later agent can beat the best score. ``WaitingItems``
keeps one list per (queue, language) sorted by order of service, so a freed agent looks at the
head of each list it may serve. ``select_*_by_scan`` are the same rules as plain scans over
everything: the definition the indexed versions must agree with, and the benchmark baseline.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from routing.exceptions import RoutingError
from routing.model import (
    MAX_LEVEL,
    Agent,
    Presence,
    Queue,
    Requirement,
    WaitingItem,
    active_requirements,
    escalation_ladder,
    item_order,
)

REASON_LOOKAHEAD = 8  # available agents looked at to explain who was skipped
REASON_MAX_SKIPPED = 3

AgentKey = tuple[int, int, int, float, str]
IndexEntry = tuple[int, float, str]  # (−level, idle since, agent id): best first
ItemOrder = tuple[float, float, str]  # (rank time, entered at, item id): first served first


@dataclass(frozen=True)
class Decision:
    """The outcome of one selection: who takes what, and a short human reason."""

    item_id: str
    agent_id: str | None
    reason: str
    requirement: Requirement | None = None  # the stage the agent met
    sticky: bool = False


def agent_key(agent: Agent, requirement: Requirement, sticky_id: str | None) -> AgentKey:
    """Smaller is better: sticky, own queue before overflow, skill score, longest idle, id."""
    return (
        agent.id != sticky_id,
        requirement.overflow,
        -requirement.score(agent),
        agent.idle_since(),
        agent.id,
    )


def qualifying(
    agent: Agent, requirements: Iterable[Requirement], sticky_id: str | None
) -> tuple[AgentKey, Requirement] | None:
    """The agent's best key over the requirements it meets, with that requirement; None if it meets none."""
    return min(
        ((agent_key(agent, r, sticky_id), r) for r in requirements if r.skip_reason(agent) is None),
        key=lambda pair: pair[0],
        default=None,
    )


class Ladders:
    """Escalation ladders per (queue, language), computed once per queue set."""

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues: dict[str, Queue] = {q.name: q for q in queues}
        self._cache: dict[tuple[str, str | None], tuple[Requirement, ...]] = {}

    def queue(self, name: str) -> Queue:
        try:
            return self.queues[name]
        except KeyError:
            raise RoutingError(f"no queue {name}") from None

    def ladder(self, queue: str, language: str | None) -> tuple[Requirement, ...]:
        key = (queue, language)
        if key not in self._cache:
            self._cache[key] = escalation_ladder(self.queue(queue), self.queues, language)
        return self._cache[key]

    def bucket_language(self, item: WaitingItem) -> str | None:
        return item.language or self.queue(item.queue).language

    def active(self, item: WaitingItem, now: datetime) -> tuple[Requirement, ...]:
        return active_requirements(self.ladder(item.queue, item.language), item.escalation_s(now))

    def order(self, item: WaitingItem) -> ItemOrder:
        return item_order(item, self.queue(item.queue))


def _index_entries(agent: Agent) -> list[tuple[tuple[str, ...], IndexEntry]]:
    """The (list, entry) pairs that file ``agent`` under all, each language, each skill, each (language, skill)."""
    idle = agent.idle_since()
    entries: list[tuple[tuple[str, ...], IndexEntry]] = [(("all",), (0, idle, agent.id))]
    for language in agent.languages:
        entries.append((("lang", language), (0, idle, agent.id)))
    for skill, level in agent.skills.items():
        entries.append((("skill", skill), (-level, idle, agent.id)))
        for language in agent.languages:
            entries.append((("lang-skill", language, skill), (-level, idle, agent.id)))
    return entries


class AvailableAgents:
    """Available agents, indexed for selection (see the module docstring)."""

    def __init__(self, agents: Iterable[Agent] = ()) -> None:
        self.agents: dict[str, Agent] = {}
        self._lists: dict[tuple[str, ...], list[IndexEntry]] = defaultdict(list)
        self._entries: dict[str, list[tuple[tuple[str, ...], IndexEntry]]] = {}
        for agent in agents:  # bulk: append everything, then sort each list once
            self._entries[agent.id] = entries = _index_entries(agent)
            for key, entry in entries:
                self._lists[key].append(entry)
            self.agents[agent.id] = agent
        for entries in self._lists.values():
            entries.sort()

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.agents

    def __len__(self) -> int:
        return len(self.agents)

    def add(self, agent: Agent) -> None:
        if agent.id in self.agents:
            self.remove(agent.id)
        self._entries[agent.id] = entries = _index_entries(agent)
        for key, entry in entries:
            insort(self._lists[key], entry)
        self.agents[agent.id] = agent

    def remove(self, agent_id: str) -> Agent:
        agent = self.agents.pop(agent_id)
        for key, entry in self._entries.pop(agent_id):
            entries = self._lists[key]
            del entries[bisect_left(entries, entry)]
        return agent

    def ranked(self, skill: str | None, language: str | None) -> list[IndexEntry]:
        """Available agents best first by ``skill`` (idle time alone when None), speaking ``language`` if given."""
        if skill is None:
            return self._lists.get(("lang", language) if language else ("all",), [])
        return self._lists.get(("lang-skill", language, skill) if language else ("skill", skill), [])

    def best(self, requirement: Requirement) -> tuple[AgentKey, Agent] | None:
        """The best available agent meeting ``requirement`` (ignoring stickiness), with its key."""
        if not requirement.skills:
            ranked = self.ranked(None, requirement.language)
            return (
                (agent_key(self.agents[ranked[0][2]], requirement, None), self.agents[ranked[0][2]]) if ranked else None
            )
        minimums = dict(requirement.skills)
        primary = min(minimums, key=lambda skill: len(self.ranked(skill, requirement.language)))
        headroom = MAX_LEVEL * (len(minimums) - 1)  # the most the other skills can add
        best: tuple[AgentKey, Agent] | None = None
        for neg_level, _idle, agent_id in self.ranked(primary, requirement.language):
            level = -neg_level
            if level < minimums[primary] or (best and level + headroom < -best[0][2]):
                break
            agent = self.agents[agent_id]
            if requirement.skip_reason(agent) is None:
                key = agent_key(agent, requirement, None)
                if best is None or key < best[0]:
                    best = (key, agent)
                if len(minimums) == 1:
                    break
        return best


@dataclass
class Bucket:
    """The waiting items of one (queue, language): in order of service, and their entry times sorted."""

    order: list[ItemOrder] = field(default_factory=list)
    entered: list[float] = field(default_factory=list)


class WaitingItems:
    """Waiting (not offered) items, one bucket per (queue, language)."""

    def __init__(self, ladders: Ladders, items: Iterable[WaitingItem] = ()) -> None:
        self.ladders = ladders
        self.items: dict[str, WaitingItem] = {}
        self.buckets: dict[tuple[str, str | None], Bucket] = defaultdict(Bucket)
        self._thresholds: dict[str, tuple[Agent, dict[tuple[str, str | None], float]]] = {}
        for item in items:  # bulk: append everything, then sort each bucket once
            if item.id in self.items:
                raise RoutingError(f"item {item.id} is already waiting")
            bucket = self.buckets[self._bucket(item)]
            bucket.order.append(self.ladders.order(item))
            bucket.entered.append(item.entered_at.timestamp())
            self.items[item.id] = item
        for bucket in self.buckets.values():
            bucket.order.sort()
            bucket.entered.sort()

    def __len__(self) -> int:
        return len(self.items)

    def _bucket(self, item: WaitingItem) -> tuple[str, str | None]:
        return item.queue, self.ladders.bucket_language(item)

    def add(self, item: WaitingItem) -> None:
        if item.id in self.items:
            raise RoutingError(f"item {item.id} is already waiting")
        bucket = self.buckets[self._bucket(item)]
        insort(bucket.order, self.ladders.order(item))
        insort(bucket.entered, item.entered_at.timestamp())
        self.items[item.id] = item

    def remove(self, item_id: str) -> WaitingItem:
        item = self.items.pop(item_id)
        bucket = self.buckets[self._bucket(item)]
        del bucket.order[bisect_left(bucket.order, self.ladders.order(item))]
        del bucket.entered[bisect_left(bucket.entered, item.entered_at.timestamp())]
        return item

    def first_for(self, agent: Agent, now: datetime) -> WaitingItem | None:
        """The first item in order of service that ``agent`` may take now.

        Per bucket: the shortest wait after which the agent qualifies (escalation); a bucket
        whose oldest item has not waited that long is skipped without looking at its items.
        """
        best: ItemOrder | None = None
        now_ts = now.timestamp()
        for key, bucket in self.buckets.items():
            if not bucket.order:
                continue
            after_s = self._qualifies_after(agent, key)
            if now_ts - bucket.entered[0] < after_s:
                continue
            for order in bucket.order:
                if best and order >= best:
                    break
                item = self.items[order[2]]
                if item.escalation_s(now) >= after_s and item.ready(now):
                    best = order
                    break
        return self.items[best[2]] if best else None

    def _qualifies_after(self, agent: Agent, key: tuple[str, str | None]) -> float:
        """Seconds an item of bucket ``key`` must have waited before ``agent`` may take it (inf: never); memoized
        per agent object, since agents are re-filed as new objects when they change."""
        known, per_bucket = self._thresholds.get(agent.id, (None, {}))
        if known is not agent:
            per_bucket = {}
            self._thresholds[agent.id] = (agent, per_bucket)
        if key not in per_bucket:
            queue, language = key
            per_bucket[key] = min(
                (r.after_s for r in self.ladders.ladder(queue, language) if r.skip_reason(agent) is None),
                default=math.inf,
            )
        return per_bucket[key]


class Router:
    """The routing state of one moment: available agents and waiting items, with selection."""

    def __init__(
        self, queues: Iterable[Queue], agents: Iterable[Agent] = (), items: Iterable[WaitingItem] = ()
    ) -> None:
        self.ladders = Ladders(queues)
        self.available = AvailableAgents(a for a in agents if a.presence == Presence.AVAILABLE)
        self.waiting = WaitingItems(self.ladders, items)

    def select_agent(self, item: WaitingItem, now: datetime) -> Decision:
        """The best available agent for ``item`` now, with the reason (no agent: None and why)."""
        requirements = self.ladders.active(item, now)
        return self._decision(item, requirements, self._choose(item, requirements), now)

    def _choose(self, item: WaitingItem, requirements: tuple[Requirement, ...]) -> tuple[Agent, Requirement] | None:
        """The best available agent for ``item`` under its active requirements, and the requirement it meets."""
        sticky = self.available.agents.get(item.last_agent_id or "")
        if sticky and (met := qualifying(sticky, requirements, sticky.id)):
            return sticky, met[1]
        chosen: tuple[AgentKey, Agent, Requirement] | None = None
        for requirement in requirements:
            found = self.available.best(requirement)
            if found and (chosen is None or found[0] < chosen[0]):
                chosen = (found[0], found[1], requirement)
        return (chosen[1], chosen[2]) if chosen else None

    def _decision(
        self,
        item: WaitingItem,
        requirements: tuple[Requirement, ...],
        chosen: tuple[Agent, Requirement] | None,
        now: datetime,
    ) -> Decision:
        agent, met = chosen or (None, None)
        reason = self._explain(item, requirements, agent, met, now)
        if agent is None:
            return Decision(item.id, None, reason)
        return Decision(item.id, agent.id, reason, met, sticky=agent.id == item.last_agent_id)

    def select_item(self, agent_id: str, now: datetime) -> WaitingItem | None:
        """The first waiting item in order of service that the available agent ``agent_id`` may take."""
        return self.waiting.first_for(self.available.agents[agent_id], now)

    def dispatch(self, now: datetime) -> list[Decision]:
        """Assign waiting items to available agents greedily in order of service; pairs leave the indexes.

        The rule is "for each item in order, its best agent". With fewer agents than items it
        is driven from the agents' side instead, with the same result: the next item assigned
        is the first one in order that any remaining agent may take.
        """
        if len(self.available) < len(self.waiting):
            return self._dispatch_from_agents(now)
        decisions = []
        unserved: set[tuple[Requirement, ...]] = set()  # nobody left meets these: agents only leave during a dispatch
        for item in sorted(self.waiting.items.values(), key=self.ladders.order):
            if not self.available:
                break
            if not item.ready(now):
                continue
            requirements = self.ladders.active(item, now)
            if requirements in unserved:
                continue
            if chosen := self._choose(item, requirements):
                decisions.append(self._take(self._decision(item, requirements, chosen, now)))
            else:
                unserved.add(requirements)
        return decisions

    def _dispatch_from_agents(self, now: datetime) -> list[Decision]:
        decisions = []
        first: dict[str, WaitingItem | None] = {
            agent_id: self.select_item(agent_id, now) for agent_id in self.available.agents
        }
        while candidates := [item for item in first.values() if item is not None]:
            item = min(candidates, key=self.ladders.order)
            decision = self._take(self.select_agent(item, now))
            decisions.append(decision)
            del first[decision.agent_id]
            for agent_id, its_first in first.items():
                if its_first is item:
                    first[agent_id] = self.select_item(agent_id, now)
        return decisions

    def _take(self, decision: Decision) -> Decision:
        """Remove the decided pair from the indexes."""
        self.waiting.remove(decision.item_id)
        self.available.remove(decision.agent_id)
        return decision

    def _explain(
        self,
        item: WaitingItem,
        requirements: tuple[Requirement, ...],
        agent: Agent | None,
        met: Requirement | None,
        now: datetime,
    ) -> str:
        """The decision in words: 'alisa: billing 5, idle 212 s; bob skipped: no Russian; dmitri skipped: billing 3 < 4'."""
        own = requirements[0]
        if agent is None or met is None:
            parts = [f"no available agent for {item.queue} ({own.describe()})"]
        else:
            head = f"{agent.id}: "
            if agent.id == item.last_agent_id:
                head += "served this caller before; "
            if met.overflow:
                head += f"overflow to {met.queue} after {met.after_s:g} s; "
            levels = ", ".join(f"{skill} {agent.skills[skill]}" for skill, _ in met.skills)
            if met.after_s and not met.overflow:
                levels += f" (minimum lowered to {', '.join(str(m) for _, m in met.skills)} after {met.after_s:g} s)"
            parts = [head + (levels + ", " if levels else "") + f"idle {agent.idle_s(now):.0f} s"]
        primary = own.skills[0][0] if own.skills else None
        skipped = 0
        for _, _, other_id in self.available.ranked(primary, None)[:REASON_LOOKAHEAD]:
            other = self.available.agents[other_id]
            if other is agent or any(r.skip_reason(other) is None for r in requirements):
                continue
            parts.append(f"{other.id} skipped: {own.skip_reason(other)}")
            skipped += 1
            if skipped == REASON_MAX_SKIPPED:
                break
        return "; ".join(parts)


def select_agent_by_scan(item: WaitingItem, agents: Iterable[Agent], ladders: Ladders, now: datetime) -> str | None:
    """The selection rules as a plain scan over every agent (definition and benchmark baseline)."""
    requirements = ladders.active(item, now)
    available = (agent for agent in agents if agent.presence == Presence.AVAILABLE)
    keys = (met[0] for agent in available if (met := qualifying(agent, requirements, item.last_agent_id)))
    best = min(keys, default=None)
    return best[-1] if best else None  # the key ends with the agent's id


def select_item_by_scan(agent: Agent, items: Iterable[WaitingItem], ladders: Ladders, now: datetime) -> str | None:
    """The first item in order of service that ``agent`` may take, by scanning every item."""
    eligible = (
        item for item in items if item.ready(now) and qualifying(agent, ladders.active(item, now), None) is not None
    )
    best = min(eligible, key=ladders.order, default=None)
    return best.id if best else None
