"""Erlang B, C and A: published figures, exact arithmetic, and brute-force birth–death chains."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from routing.erlang import agents_for, erlang_a, erlang_b, erlang_c, erlang_c_probability, load_of


def exact_erlang_b(agents: int, load: Fraction) -> Fraction:
    """(A^N / N!) / Σ_k A^k / k!, in exact rational arithmetic."""
    terms = [load**k / math.factorial(k) for k in range(agents + 1)]
    return terms[-1] / sum(terms)


def exact_erlang_c(agents: int, load: Fraction) -> Fraction:
    """The textbook closed form: (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A))."""
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


def birth_death(births: float, deaths: list[float]) -> np.ndarray:
    """Stationary law of a truncated birth–death chain, by solving πQ = 0 with Σπ = 1 (a dense linear solve)."""
    size = len(deaths) + 1
    q = np.zeros((size, size))
    for n in range(size - 1):
        q[n, n + 1] = births
        q[n + 1, n] = deaths[n]
    q -= np.diag(q.sum(axis=1))
    a = q.T.copy()
    a[-1] = 1  # the last balance equation is implied by the others: replace it by Σπ = 1
    b = np.zeros(size)
    b[-1] = 1
    return np.linalg.solve(a, b)


def poisson_cdf(k: int, mean: float) -> float:
    return math.fsum(math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1)) for i in range(k + 1))


# Published figures


def test_100_calls_per_half_hour_of_180_s_on_14_agents_give_the_published_service_level_and_asa():
    figures = erlang_c(14, load_of(100, 1800, 180), handle_s=180, target_s=20)

    assert load_of(100, 1800, 180) == 10
    assert figures.service_level == pytest.approx(0.888, abs=5e-4)
    assert round(figures.asa_s, 1) == 7.8
    assert figures.p_wait == pytest.approx(0.1741, abs=5e-5)
    assert figures.occupancy == pytest.approx(10 / 14)


def test_erlang_b_matches_the_published_table_for_5_erlangs_on_10_lines():
    assert erlang_b(10, 5) == pytest.approx(0.01838, abs=1e-5)
    assert erlang_b(1, 1) == 0.5
    assert erlang_b(0, 3) == 1.0


def test_80_percent_in_20_s_for_10_erlangs_of_180_s_needs_14_agents_and_13_are_not_enough():
    assert agents_for(10, 180, 20, 0.8) == 14
    assert erlang_c(13, 10, 180, 20).service_level < 0.8 <= erlang_c(14, 10, 180, 20).service_level


# Exact arithmetic and identities


@pytest.mark.parametrize(
    ("agents", "load"),
    [(1, Fraction(1, 2)), (5, Fraction(2)), (14, Fraction(10)), (55, Fraction(48)), (30, Fraction(59, 2))],
)
def test_erlang_b_and_c_equal_the_factorial_formulas_computed_exactly(agents, load):
    assert erlang_b(agents, float(load)) == pytest.approx(float(exact_erlang_b(agents, load)), rel=1e-12)
    assert erlang_c_probability(agents, float(load)) == pytest.approx(float(exact_erlang_c(agents, load)), rel=1e-12)


def test_erlang_c_stays_finite_for_thousands_of_agents_where_the_factorials_overflow():
    agents, load = 2000, 1950.0
    with pytest.raises(OverflowError):
        float(load**agents / math.factorial(agents))
    logs = [k * math.log(load) - math.lgamma(k + 1) for k in range(agents + 1)]
    peak = max(logs)
    b = math.exp(logs[-1] - peak) / math.fsum(math.exp(x - peak) for x in logs)

    assert erlang_b(agents, load) == pytest.approx(b, rel=1e-9)
    assert 0 < erlang_c_probability(agents, load) < 1


def test_a_queue_at_or_above_full_load_always_waits_and_has_no_steady_state():
    assert erlang_c_probability(10, 10) == 1.0
    with pytest.raises(ValueError):
        erlang_c(10, 10.5, 180, 20)


# Brute force: the M/M/N chain solved as a linear system


@pytest.mark.parametrize(
    ("agents", "load", "handle_s", "target_s"), [(14, 10.0, 180, 20), (3, 2.4, 300, 60), (55, 48.0, 240, 15)]
)
def test_erlang_c_equals_the_birth_death_chain_solved_numerically(agents, load, handle_s, target_s):
    mu = 1 / handle_s
    lam = load * mu
    states = agents + 300
    pi = birth_death(lam, [min(n, agents) * mu for n in range(1, states)])
    waiting = pi[agents:]
    queue_length = sum((n - agents) * p for n, p in enumerate(pi) if n > agents)
    # A caller finding n ≥ N waits for n − N + 1 completions at rate Nμ: P(W > T) is a Poisson tail.
    late = sum(p * poisson_cdf(n - agents, agents * mu * target_s) for n, p in enumerate(pi) if n >= agents)

    figures = erlang_c(agents, load, handle_s, target_s)
    assert figures.p_wait == pytest.approx(waiting.sum(), abs=1e-9)
    assert figures.asa_s == pytest.approx(queue_length / lam, rel=1e-6)  # Little: Lq = λ·W
    assert figures.service_level == pytest.approx(1 - late, abs=1e-9)


# Erlang A


def test_erlang_a_with_endless_patience_is_erlang_c():
    a = erlang_a(14, 10, 180, 20, patience_s=math.inf)
    c = erlang_c(14, 10, 180, 20)

    assert a.p_abandon == 0
    for name in ("p_wait", "service_level", "asa_s", "occupancy"):
        assert getattr(a, name) == pytest.approx(getattr(c, name), rel=1e-9)


@pytest.mark.parametrize(
    ("agents", "load", "handle_s", "target_s", "patience_s"),
    [(14, 10.0, 180, 20, 120), (10, 11.0, 240, 30, 90), (100, 120.0, 180, 20, 60)],
)
def test_erlang_a_equals_the_chain_with_abandonment_and_the_tagged_callers_own_chain(
    agents, load, handle_s, target_s, patience_s
):
    mu, theta = 1 / handle_s, 1 / patience_s
    lam = load * mu
    states = agents + 300
    pi = birth_death(lam, [min(n, agents) * mu + max(0, n - agents) * theta for n in range(1, states)])
    queue_length = sum((n - agents) * p for n, p in enumerate(pi) if n > agents)
    # The tagged caller who found n ≥ N, at position i: up at Nμ + (i−1)θ, abandons at θ.
    # Integrate dp/dt = pQ over the target by Runge–Kutta (independent of the closed forms in routing.erlang).
    positions = len(pi) - agents
    start = np.append(pi[agents:], 0.0)  # last entry: answered

    def flow(p: np.ndarray) -> np.ndarray:
        i = np.arange(1, positions + 1)
        up = p[:-1] * (agents * mu + (i - 1) * theta)
        change = -p[:-1] * (agents * mu + (i - 1) * theta + theta)
        change[:-1] += up[1:]
        return np.append(change, up[0])

    p, dt = start, 0.01
    for _ in range(round(target_s / dt)):
        k1 = flow(p)
        k2 = flow(p + dt / 2 * k1)
        k3 = flow(p + dt / 2 * k2)
        p = p + dt / 6 * (k1 + 2 * k2 + 2 * k3 + flow(p + dt * k3))

    figures = erlang_a(agents, load, handle_s, target_s, patience_s)
    assert figures.p_wait == pytest.approx(pi[agents:].sum(), abs=1e-9)
    assert figures.p_abandon == pytest.approx(theta * queue_length / lam, rel=1e-6)  # abandon rate = θ·Lq
    assert figures.service_level == pytest.approx(pi[:agents].sum() + p[-1], abs=1e-7)
    assert figures.occupancy == pytest.approx(sum(min(n, agents) * q for n, q in enumerate(pi)) / agents, rel=1e-6)


def test_erlang_a_stays_stable_above_full_load_because_callers_give_up():
    figures = erlang_a(10, 12, 180, 20, patience_s=60)

    assert 0 < figures.p_abandon < 1
    assert figures.occupancy < 1
