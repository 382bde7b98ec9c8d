"""The centers the tests and benchmarks simulate: one Erlang queue, and a multi-skill day.

``center`` is a 12-hour day (08:00–20:00) of 40 agents on three overlapping 8-hour shifts,
four queues modelled on the demo center (billing, orders, support with skill minimums,
escalation and overflow to general; general for anyone), English and Russian callers.
Arrivals follow the staffing hour by hour so that the offered load (calls × nominal handle
time) is ``load`` × the agents on duty in every hour. Talk times are lognormal (cv 0.8);
patience is exponential.

Proficiency (an assumption, stated so the comparison can be judged): an agent's talk time on a
call is the caller's talk time × ``PROFICIENT[level]`` of the agent's level in the call's topic,
from 1.5 (lacks the skill) to 0.8 (level 5). ``proficiency=False`` sets every factor to 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import cycle

from bench.daysim import Demand, Scenario, Shift, TalkTime
from routing.model import EscalationStep, Queue

PROFICIENT = (1.5, 1.3, 1.15, 1.0, 0.9, 0.8)  # talk time factor by level 0 (lacks the skill) … 5
DAY_HOURS = 12
SHIFTS_H = ((0, 8, 14), (2, 10, 12), (4, 12, 14))  # (start, end, agents): 08–16, 10–18, 12–20
CENTER_QUEUES = (
    Queue(
        "billing",
        {"billing": 4},
        priority=1,
        sl_target_s=20,
        wrapup_s=30,
        escalation=(EscalationStep(30, min_level_delta=-1), EscalationStep(90, overflow="general")),
    ),
    Queue(
        "orders",
        {"orders": 3},
        sl_target_s=30,
        wrapup_s=20,
        escalation=(EscalationStep(45, min_level_delta=-1), EscalationStep(120, overflow="general")),
    ),
    Queue(
        "support",
        {"support": 3},
        sl_target_s=60,
        sl_target_pct=70,
        wrapup_s=45,
        escalation=(EscalationStep(60, min_level_delta=-1), EscalationStep(180, overflow="general")),
    ),
    Queue("general", {}, sl_target_s=30, wrapup_s=15),
)
# (queue, language, share of calls, mean talk seconds)
CENTER_MIX = (
    ("billing", "en", 0.22, 240),
    ("billing", "ru", 0.08, 240),
    ("orders", "en", 0.25, 180),
    ("orders", "ru", 0.07, 180),
    ("support", "en", 0.28, 360),
    ("general", "en", 0.10, 120),
)
# Agents' main skills, in proportion to the work each queue brings; a second skill after it.
SKILL_CYCLE = (
    "support",
    "billing",
    "support",
    "orders",
    "billing",
    "support",
    "orders",
    "billing",
    "support",
    "orders",
)
NEXT_SKILL = {"support": "orders", "billing": "support", "orders": "billing"}


def single_queue(
    calls_per_hour: float,
    talk_s: float,
    agents: int,
    hours: int,
    *,
    target_s: int = 20,
    patience_s: float = math.inf,
    shape: str = "exponential",
) -> Scenario:
    """One queue, one skill-less stream, ``agents`` identical agents on duty until an hour after the last arrival."""
    queue = Queue("main", {}, sl_target_s=target_s, wrapup_s=0)
    demand = Demand("main", (calls_per_hour,) * hours, TalkTime(talk_s, shape), patience_s=patience_s)
    shifts = tuple(Shift(f"a{i:03d}", {}, frozenset(), 0, hours + 1) for i in range(agents))
    return Scenario((queue,), (demand,), shifts)


def center_shifts() -> tuple[Shift, ...]:
    """40 agents: a main skill at level 4–5 and a second one at 2–3; every fourth one also speaks Russian."""
    shifts = []
    skills = cycle(SKILL_CYCLE)
    for start, end, count in SHIFTS_H:
        for _ in range(count):
            i = len(shifts)
            main = next(skills)
            levels = {main: 5 if i % 3 == 0 else 4, NEXT_SKILL[main]: 3 if i % 2 else 2}
            languages = frozenset({"en", "ru"} if i % 4 == 0 else {"en"})
            shifts.append(Shift(f"agent{i:02d}", levels, languages, start, end))
    return tuple(shifts)


def nominal_handle_s() -> float:
    """Mean handle time (talk + the queue's wrap-up) of the call mix, before proficiency."""
    wrapup = {q.name: q.wrapup_s for q in CENTER_QUEUES}
    return sum(share * (talk + wrapup[queue]) for queue, _, share, talk in CENTER_MIX)


def arrivals_for_load(shifts: Iterable[Shift], hours: int, load: float, handle_s: float) -> tuple[float, ...]:
    """Calls per hour that keep the offered load at ``load`` × the agents on duty, hour by hour."""
    shifts = list(shifts)
    on_duty = [sum(s.start_h <= hour < s.end_h for s in shifts) for hour in range(hours)]
    return tuple(load * agents * 3600 / handle_s for agents in on_duty)


def center(load: float, *, patience_s: float = 180.0, proficiency: bool = True) -> Scenario:
    """The multi-skill day at ``load`` (see the module docstring)."""
    shifts = center_shifts()
    total = arrivals_for_load(shifts, DAY_HOURS, load, nominal_handle_s())
    skilled = {q.name for q in CENTER_QUEUES if q.skills}
    demands = tuple(
        Demand(
            queue,
            tuple(rate * share for rate in total),
            TalkTime(talk, "lognormal", cv=0.8),
            language=language,
            patience_s=patience_s,
            topic=queue if queue in skilled else None,
        )
        for queue, language, share, talk in CENTER_MIX
    )
    factors = PROFICIENT if proficiency else (1.0,) * len(PROFICIENT)
    return Scenario(CENTER_QUEUES, demands, shifts, talk_factor=factors)
