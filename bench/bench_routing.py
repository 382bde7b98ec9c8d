"""Routing decision time against agents × waiting callers, beside a plain scan measured in the same run.

Two decisions, on a random center at rest (8 skill queues, a two-skill queue, general, and 8 expert
queues needing level 5; four languages; 30 % of agents available, the rest busy or in wrap-up, and
every level-5 agent busy, so the callers waiting in the expert queues are ones no available agent
could take; seeded, so every run sees the same center):

- arrival: the best available agent for a new caller, with its reason (``Router.select_agent``);
- freed: a busy agent becomes available: filed in the indexes, the first waiting caller they may take
  found (``Router.select_item``), unfiled again.

Each decision is timed alone with the garbage collector paused (as ``timeit`` does).

Baseline: the same rules as a scan over every agent / every waiting item
(``select_agent_by_scan`` / ``select_item_by_scan``). Goals (issue 5): p99 < 1 ms at
1,000 agents × 1,000 waiting, < 10 ms at 7,500 agents. A last table times ``service.dispatch``
on a real SQLite file (bring the process's indexes up to date from the event log, decide, write
the reservation, one transaction), and ``service.estimate`` of one waiting caller.

    .venv/bin/python -m bench.bench_routing [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.clock import iso
from routing import service
from routing.model import Agent, EscalationStep, Presence, Queue, WaitingItem
from routing.selection import Router, select_agent_by_scan, select_item_by_scan
from store import routing as store
from store.db import connect, transaction
from store.migrations import migrate

RESULTS = Path(__file__).parent / "results" / "routing.json"
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
SKILLS = ("billing", "orders", "support", "tech", "sales", "returns", "claims", "vip")
LANGUAGES = ("en", "ru", "fa", "ko")
LANGUAGE_WEIGHTS = (60, 15, 10, 15)
AGENTS = (10, 100, 1_000, 2_500, 7_500, 10_000)
WAITING = (10, 1_000, 10_000)
STORE_SIZES = ((100, 100), (1_000, 1_000), (7_500, 1_000))
GOALS = {"1000 agents × 1000 waiting": ((1_000, 1_000), 1.0), "7500 agents (any waiting)": ((7_500, None), 10.0)}


def center_queues(rng: random.Random) -> list[Queue]:
    """One queue per skill (minimum 2–4, escalating), a two-skill queue and a general overflow queue."""
    escalation = (EscalationStep(30, min_level_delta=-1), EscalationStep(90, overflow="general"))
    queues = [Queue(skill, {skill: rng.randint(2, 4)}, escalation=escalation) for skill in SKILLS]
    queues.append(Queue("tech_billing", {"tech": 3, "billing": 2}, priority=1, escalation=escalation))
    queues.append(Queue("general", {}))
    return queues


def center_agents(rng: random.Random, count: int) -> list[Agent]:
    agents = []
    for n in range(count):
        languages = {rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]}
        if rng.random() < 0.4:
            languages.add("en")
        skills = {skill: rng.randint(1, 5) for skill in rng.sample(SKILLS, rng.randint(1, 3))}
        presence = Presence.AVAILABLE if rng.random() < 0.3 else rng.choice([Presence.BUSY, Presence.WRAPUP])
        idle_since = NOW - timedelta(seconds=rng.uniform(0, 3600))
        agents.append(Agent(f"agent{n}", f"agent{n}", skills, frozenset(languages), presence, idle_since, idle_since))
    return agents


def waiting_item(rng: random.Random, item_id: str, queues: list[Queue]) -> WaitingItem:
    return WaitingItem(
        item_id,
        rng.choice(queues).name,
        NOW - timedelta(seconds=rng.uniform(0, 300)),
        language=rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0],
        priority=1 if rng.random() < 0.1 else 0,
    )


def timed(decide: Callable[[Any], Any], cases: list[Any]) -> list[float]:
    """Milliseconds each decision took (with the garbage collector paused, as ``timeit`` does)."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for case in cases:
            start = time.perf_counter_ns()
            decide(case)
            times.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        gc.enable()
    return times


def percentiles(times: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49], 4), "p99_ms": round(cuts[98], 4), "samples": len(times)}


def center(rng: random.Random, agents_n: int, waiting_n: int) -> tuple[list[Queue], list[Agent], list[WaitingItem]]:
    """A random center at rest: ``waiting_n`` callers wait and no available agent could take any of them.

    The waiting callers are in the expert queues (a skill at level 5, no escalation) and every agent with a
    level 5 is busy; the other callers have been served. The last queues returned are the expert ones.
    """
    experts = [Queue(f"{skill}_expert", {skill: 5}) for skill in SKILLS]
    agents = center_agents(rng, agents_n)
    for agent in agents:
        if 5 in agent.skills.values():
            agent.presence = Presence.BUSY
    items = [waiting_item(rng, f"w{n}", experts) for n in range(waiting_n)]
    return [*center_queues(rng), *experts], agents, items


def bench_core(agents_n: int, waiting_n: int, samples: int, baseline_samples: int) -> dict[str, Any]:
    """Index and scan decision times on one random center of this size, at rest."""
    rng = random.Random(agents_n * 100_003 + waiting_n)
    queues, agents, items = center(rng, agents_n, waiting_n)
    start = time.perf_counter()
    router = Router(queues, agents, items)
    build_ms = (time.perf_counter() - start) * 1000
    arrivals = [waiting_item(rng, f"new{n}", queues[: -len(SKILLS)]) for n in range(samples)]
    resting = [agent for agent in agents if agent.presence != Presence.AVAILABLE]
    freed = [replace(rng.choice(resting), presence=Presence.AVAILABLE, last_idle_at=NOW) for _ in range(samples)]

    def first_item(agent: Agent) -> None:
        """The freed agent finds its caller; filing and unfiling the agent is part of the event, timed with it."""
        router.available.add(agent)
        router.select_item(agent.id, NOW)
        router.available.remove(agent.id)

    return {
        "agents": agents_n,
        "waiting": len(router.waiting),
        "available": len(router.available),
        "index_build_ms": round(build_ms, 2),
        "arrival": percentiles(timed(lambda item: router.select_agent(item, NOW), arrivals)),
        "arrival_scan": percentiles(
            timed(lambda item: select_agent_by_scan(item, agents, router.ladders, NOW), arrivals[:baseline_samples])
        ),
        "freed": percentiles(timed(first_item, freed)),
        "freed_scan": percentiles(
            timed(lambda agent: select_item_by_scan(agent, items, router.ladders, NOW), freed[:baseline_samples])
        ),
    }


@contextmanager
def scratch_database(database: str | None) -> Iterator[str]:
    """``database`` (a PostgreSQL URL whose schema is empty), else a SQLite file in a temporary folder."""
    if database:
        yield database
        return
    with tempfile.TemporaryDirectory() as folder:
        yield str(Path(folder) / "bench.db")


def bench_store(agents_n: int, waiting_n: int, rounds: int, database: str | None = None) -> dict[str, Any]:
    """``service.dispatch`` on the store (a SQLite file, or ``database``) of a ``center``: a caller arrives and is
    routed, ``rounds`` times.

    The answered agent is made available again between rounds (untimed), so each round sees the same center.
    """
    rng = random.Random(agents_n + waiting_n)
    queues, agents, items = center(rng, agents_n, waiting_n)
    with scratch_database(database) as target:
        db = connect(target)
        migrate(db)
        with transaction(db):
            for skill in SKILLS:
                store.upsert_skill(db, skill, skill, iso(NOW))
            for queue in queues:
                store.upsert_queue(
                    db,
                    {"name": queue.name, "skills": dict(queue.skills), "priority": queue.priority, "wrapup_s": 30,
                     "escalation": [step.to_dict() for step in queue.escalation]},
                    iso(NOW),
                )  # fmt: skip
            for agent in agents:
                store.upsert_agent(db, {"id": agent.id, "name": agent.name, "languages": sorted(agent.languages),
                                        "presence": agent.presence.value, "presence_since": iso(NOW),
                                        "last_idle_at": iso(agent.last_idle_at)}, agent.skills, iso(NOW))  # fmt: skip
            for item in items:
                service.enqueue_call(db, item.id, item.queue, item.entered_at, language=item.language)
        available = len(store.agents(db, presence=["available"]))
        times, offered = [], 0
        for n in range(rounds):
            item = waiting_item(rng, f"new{n}", queues[: -len(SKILLS)])
            service.enqueue_call(db, item.id, item.queue, NOW, language=item.language)
            start = time.perf_counter_ns()
            offers = service.dispatch(db, NOW)
            times.append((time.perf_counter_ns() - start) / 1e6)
            for offer in offers:
                service.accept(db, offer.item_id, offer.agent_id, NOW)
                service.hang_up(db, offer.agent_id, NOW)
                service.set_presence(db, offer.agent_id, "available", NOW)
                offered += 1
            service.abandon(db, item.id, NOW)  # not served: leaves, so the waiting line stays as it was
        estimate_times = []
        for n in range(min(rounds, 20)):
            start = time.perf_counter_ns()
            service.estimate(db, items[n].id, NOW)
            estimate_times.append((time.perf_counter_ns() - start) / 1e6)
        db.conn.close()
    warm = times[1:]  # the first dispatch builds this process's indexes from the database
    return {"agents": agents_n, "available": available, "waiting": waiting_n, "offered": offered,
            "first_ms": round(times[0], 3), "p50_ms": round(statistics.median(warm), 3),
            "p99_ms": round(percentiles(warm)["p99_ms"], 3), "max_ms": round(max(warm), 3),
            "samples": len(warm), "estimate_p50_ms": round(statistics.median(estimate_times), 3)}  # fmt: skip


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line),
        platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def goals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each goal with the worst measured p99 (arrival or freed) among the rows it covers."""
    verdicts = {}
    for name, ((agents_n, waiting_n), limit_ms) in GOALS.items():
        covered = [r for r in rows if r["agents"] == agents_n and waiting_n in (None, r["waiting"])]
        worst = max(r[kind]["p99_ms"] for r in covered for kind in ("arrival", "freed"))
        verdicts[name] = {"p99_ms": worst, "limit_ms": limit_ms, "met": worst < limit_ms}
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args()
    samples, baseline_samples, rounds = (200, 20, 10) if args.quick else (2000, 200, 40)
    started = time.perf_counter()

    print("Routing decision time (ms): indexed core vs scan baseline, same run, same centers")
    header = f"{'agents':>7} {'waiting':>7} {'avail':>6} | {'arrival p50':>11} {'p99':>8} {'scan p50':>9} {'p99':>8} {'×p50':>6} | {'freed p50':>9} {'p99':>8} {'scan p50':>9} {'p99':>8} {'×p50':>6} | {'build':>7}"  # noqa: E501
    print(header)
    rows = []
    for agents_n in AGENTS:
        for waiting_n in WAITING:
            row = bench_core(agents_n, waiting_n, samples, baseline_samples)
            rows.append(row)
            arrival, scan = row["arrival"], row["arrival_scan"]
            freed, freed_scan = row["freed"], row["freed_scan"]
            print(
                f"{agents_n:>7} {waiting_n:>7} {row['available']:>6} | {arrival['p50_ms']:>11.4f} {arrival['p99_ms']:>8.4f} "
                f"{scan['p50_ms']:>9.4f} {scan['p99_ms']:>8.4f} {scan['p50_ms'] / arrival['p50_ms']:>6.0f} | "
                f"{freed['p50_ms']:>9.4f} {freed['p99_ms']:>8.4f} {freed_scan['p50_ms']:>9.4f} "
                f"{freed_scan['p99_ms']:>8.4f} {freed_scan['p50_ms'] / freed['p50_ms']:>6.0f} | {row['index_build_ms']:>7.1f}"
            )

    verdicts = goals(rows)
    for name, verdict in verdicts.items():
        status = "met" if verdict["met"] else "MISSED"
        print(f"goal p99 < {verdict['limit_ms']:g} ms at {name}: worst p99 {verdict['p99_ms']:.4f} ms — {status}")

    print("\nservice.dispatch on SQLite, one new caller per round beside the center's waiting callers: indexes brought")
    print("up to date from the event log, decision, reservation, in one BEGIN IMMEDIATE ('first': the dispatch that")
    print("builds the process's indexes). estimate: service.estimate of one waiting caller (reads its queue and the")
    print("staffed agents who speak its language).")
    print(
        f"{'agents':>7} {'avail':>6} {'waiting':>7} | {'first ms':>8} | {'p50 ms':>8} {'max ms':>8} {'rounds':>6} "
        f"{'offers':>6} | {'estimate p50':>12}"
    )
    store_rows = []
    for agents_n, waiting_n in STORE_SIZES:
        result = bench_store(agents_n, waiting_n, rounds)
        store_rows.append(result)
        print(
            f"{agents_n:>7} {result['available']:>6} {waiting_n:>7} | {result['first_ms']:>8.3f} | {result['p50_ms']:>8.3f} "
            f"{result['max_ms']:>8.3f} {result['samples']:>6} {result['offered']:>6} | {result['estimate_p50_ms']:>12.3f}"
        )

    elapsed = time.perf_counter() - started
    RESULTS.parent.mkdir(exist_ok=True)
    report = {"machine": machine(), "quick": args.quick, "seconds": round(elapsed, 1), "core": rows, "goals": verdicts,
              "store_dispatch": store_rows}  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
