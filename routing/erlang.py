"""Erlang B, C and A: the queueing formulas of the staffing advice, which the day simulator is checked against too.

Notation: ``agents`` N, offered ``load`` A = λ·h in erlangs, ``handle_s`` h (μ = 1/h),
``target_s`` T of the service level, ``patience_s`` the mean of an exponential patience (θ = 1/patience).

- Erlang B by its recursion B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)): every term stays in
  [0, 1], so it holds for thousands of agents where A^N/N! overflows.
- Erlang C from B: C = N·B / (N − A·(1 − B)); service level 1 − C·e^(−(N−A)·T/h);
  ASA = C·h / (N − A) (every call is answered, so ASA is the mean wait of all calls).
- Erlang A (M/M/N+M, callers abandon after an exponential patience): the birth–death chain
  with death rate min(n, N)·μ + max(0, n − N)·θ. Its stationary law is computed in logarithms
  and truncated where the tail is below 1e-16 of the peak. An arrival that finds n ≥ N calls
  (PASTA) waits at position j = n − N + 1; at position i it moves up at rate Nμ + (i−1)θ and
  abandons at rate θ, so it is answered with probability Nμ / (Nμ + jθ) and, if answered,
  waits a sum of exponentials with rates Nμ + iθ, i = 1..j. That sum's distribution at T is
  computed by uniformization: a sum of positive terms, no cancellation.
  Service level = answered within T / all arrivals (answered + abandoned, as routing counts it);
  ASA = mean wait of answered calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TAIL_LOG = math.log(1e-16)  # states lighter than this fraction of the heaviest one are dropped
POISSON_TAIL = 1e-15


@dataclass(frozen=True)
class Performance:
    """Steady-state figures of one queue."""

    p_wait: float  # an arrival finds every agent busy
    service_level: float  # answered within the target / all arrivals
    asa_s: float  # mean wait of answered calls
    p_abandon: float  # 0 without abandonment
    occupancy: float  # mean busy agents / agents


def load_of(calls: float, period_s: float, handle_s: float) -> float:
    """Offered load in erlangs: ``calls`` per ``period_s`` of ``handle_s`` each."""
    return calls / period_s * handle_s


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of N servers without a queue (Erlang B), by the stable recursion."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must be ≥ 0")
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def erlang_c_probability(agents: int, load: float) -> float:
    """Probability that a call waits (Erlang C); 1 when the load reaches the number of agents."""
    if load >= agents:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


def erlang_c(agents: int, load: float, handle_s: float, target_s: float) -> Performance:
    """M/M/N: probability of waiting, service level within ``target_s`` and ASA."""
    if load >= agents:
        raise ValueError(f"load {load:g} erlangs needs more than {agents} agents to be stable")
    p_wait = erlang_c_probability(agents, load)
    spare = agents - load
    return Performance(
        p_wait=p_wait,
        service_level=1 - p_wait * math.exp(-spare * target_s / handle_s),
        asa_s=p_wait * handle_s / spare,
        p_abandon=0.0,
        occupancy=load / agents,
    )


def _log_stationary(agents: int, arrival_rate: float, service_rate: float, abandon_rate: float) -> np.ndarray:
    """log of the unnormalised stationary weights of the M/M/N+M chain, n = 0.. up to the negligible tail."""
    logs = [0.0]
    peak = 0.0
    n = 0
    while True:
        n += 1
        death = min(n, agents) * service_rate + max(0, n - agents) * abandon_rate
        logs.append(logs[-1] + math.log(arrival_rate / death))
        peak = max(peak, logs[-1])
        if n <= agents:
            continue
        if arrival_rate >= death and not abandon_rate:
            raise ValueError("without abandonment the load must stay below the number of agents")
        if arrival_rate < death and logs[-1] < peak + TAIL_LOG:
            return np.array(logs)


def _answered_within(masses: np.ndarray, rates: np.ndarray, target_s: float) -> float:
    """Σ_j masses[j] · P(Exp(rates[0]) + … + Exp(rates[j]) ≤ target_s), by uniformization."""
    if not len(masses) or target_s <= 0:
        return 0.0
    uniform = float(rates.max())
    mean = uniform * target_s
    advance = rates / uniform
    state = masses.astype(float)
    done = 0.0  # mass that has finished all its stages after k uniformized steps
    total = 0.0
    cumulative = 0.0
    k = 0
    while cumulative < 1 - POISSON_TAIL and state.sum() > POISSON_TAIL * masses.sum():
        weight = math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1))
        total += weight * done
        cumulative += weight
        moving = state * advance
        done += moving[0]
        state = state - moving
        state[:-1] += moving[1:]
        k += 1
    return total + (1 - cumulative) * done


def erlang_a(agents: int, load: float, handle_s: float, target_s: float, patience_s: float) -> Performance:
    """M/M/N+M: callers abandon after an exponential patience of mean ``patience_s`` (math.inf: Erlang C)."""
    if agents < 1:
        raise ValueError("Erlang A needs at least one agent")
    service_rate = 1 / handle_s
    arrival_rate = load * service_rate
    abandon_rate = 0.0 if math.isinf(patience_s) else 1 / patience_s
    logs = _log_stationary(agents, arrival_rate, service_rate, abandon_rate)
    weights = np.exp(logs - logs.max())
    pi = weights / weights.sum()
    queued = pi[agents:]  # arrivals finding n = N, N+1, … wait at position j = 1, 2, …
    positions = np.arange(1, len(queued) + 1)
    rates = agents * service_rate + positions * abandon_rate  # leave position j at this rate
    answered_from = queued * agents * service_rate / rates
    mean_wait_if_answered = np.cumsum(1 / rates)
    answered = pi[:agents].sum() + answered_from.sum()
    p_abandon = float(queued.sum() - answered_from.sum())
    return Performance(
        p_wait=float(queued.sum()),
        service_level=float(pi[:agents].sum() + _answered_within(answered_from, rates, target_s)),
        asa_s=float((answered_from * mean_wait_if_answered).sum() / answered),
        p_abandon=p_abandon,
        occupancy=load * (1 - p_abandon) / agents,
    )


def agents_for(load: float, handle_s: float, target_s: float, service_level: float, *,
               patience_s: float = math.inf) -> int:
    """The fewest agents whose service level within ``target_s`` reaches ``service_level``: by Erlang C, or by
    Erlang A when callers abandon after a finite mean ``patience_s``."""
    if math.isinf(patience_s):
        agents = math.floor(load) + 1
        while erlang_c(agents, load, handle_s, target_s).service_level < service_level:
            agents += 1
        return agents
    agents = 1
    while erlang_a(agents, load, handle_s, target_s, patience_s).service_level < service_level:
        agents += 1
    return agents
