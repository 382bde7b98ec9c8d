"""The contact-center day simulator: checked against Erlang C and A, deterministic, on both routing backends."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest

from bench.daysim import BACKENDS, DAY_START, Callers, Demand, Scenario, Shift, TalkTime, VirtualHold, fifo, simulate
from bench.scenarios import center, single_queue
from routing.erlang import erlang_a, erlang_c
from routing.estimates import Estimate
from routing.model import Queue


def test_one_queue_without_abandonment_matches_erlang_c_within_two_points_of_service_level():
    # 100 calls per 30 min, 180 s exponential handle time, 14 agents, 20 s target; 400 simulated
    # hours (about 80 000 calls) keep the standard error of the service level near 0.006.
    theory = erlang_c(14, 10, 180, 20)
    report = simulate(single_queue(200, 180, 14, hours=400), seed=1)
    day = report.total

    assert day.abandoned == 0 and day.unserved == 0 and day.answered == day.offered
    assert day.offered == pytest.approx(200 * 400, rel=0.02)
    assert day.service_level == pytest.approx(theory.service_level, abs=0.02)
    assert day.asa_s == pytest.approx(theory.asa_s, abs=2.0)
    assert report.occupancy == pytest.approx(theory.occupancy * 400 / 401, abs=0.01)  # agents stay one hour more


def test_callers_with_exponential_patience_match_erlang_a():
    theory = erlang_a(14, 10, 180, 20, patience_s=120)
    day = simulate(single_queue(200, 180, 14, hours=300, patience_s=120), seed=2).total

    assert day.abandonment == pytest.approx(theory.p_abandon, abs=0.01)
    assert day.service_level == pytest.approx(theory.service_level, abs=0.02)
    assert day.answered + day.abandoned == day.offered


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    scenario = center(0.9)

    first = simulate(scenario, seed=7, policy=VirtualHold(60)).summary()
    again = simulate(scenario, seed=7, policy=VirtualHold(60)).summary()
    other = simulate(scenario, seed=8, policy=VirtualHold(60)).summary()

    assert first == again
    assert first != other


def test_routing_and_callback_variants_of_one_day_see_the_very_same_callers():
    scenario = center(0.85)
    variants = [
        simulate(scenario, seed=3),
        simulate(fifo(scenario), seed=3),
        simulate(scenario, seed=3, policy=VirtualHold(30)),
    ]

    offered = [{name: f.offered for name, f in report.queues.items()} for report in variants]
    assert offered[0] == offered[1] == offered[2]
    assert len({report.total.answered for report in variants}) > 1  # ...but they are served differently


def test_callbacks_at_load_085_cut_abandonment_and_time_on_hold_for_the_same_callers():
    scenario = center(0.85)
    without = simulate(scenario, seed=4).total
    with_callbacks = simulate(scenario, seed=4, policy=VirtualHold(30)).total

    assert without.callbacks_accepted == 0
    assert with_callbacks.callbacks_accepted > 0
    assert with_callbacks.abandonment < without.abandonment
    assert with_callbacks.mean_hold_s < without.mean_hold_s
    # every accepted callback ends one way or another
    accepted = with_callbacks.callbacks_accepted
    assert accepted >= with_callbacks.callbacks_completed + with_callbacks.callbacks_failed
    assert accepted - with_callbacks.callbacks_completed - with_callbacks.callbacks_failed <= with_callbacks.unserved


def test_fifo_drops_skill_minimums_priorities_and_escalation_but_keeps_languages():
    queues = fifo(center(0.85)).queues

    assert all(q.skills == {} and q.priority == 0 and q.escalation == () for q in queues)
    assert [q.name for q in queues] == [q.name for q in center(0.85).queues]


def test_talk_time_scales_with_the_agents_level_in_the_calls_topic():
    def one_expert(factor_at_5: float) -> Scenario:
        queue = Queue("billing", {"billing": 1}, wrapup_s=0)
        demand = Demand("billing", (30.0,), TalkTime(60), topic="billing")
        agent = Shift("expert", {"billing": 5}, frozenset(), 0, 48)
        return Scenario((queue,), (demand,), (agent,), talk_factor=(1, 1, 1, 1, 1, factor_at_5))

    plain = simulate(one_expert(1.0), seed=5)
    quick = simulate(one_expert(0.5), seed=5)

    assert plain.total.answered == quick.total.answered == plain.total.offered > 0
    assert quick.working_s == pytest.approx(plain.working_s / 2, rel=1e-3)


def test_an_agent_finishes_the_call_in_hand_before_going_home_and_later_callers_stay_unserved():
    queue = Queue("main", {}, wrapup_s=0)
    demand = Demand("main", (30.0,), TalkTime(600))
    scenario = Scenario((queue,), (demand,), (Shift("solo", {}, frozenset(), 0, 0.5),))

    report = simulate(scenario, seed=6)

    assert report.staffed_s > 1800  # still on a call at the end of the shift
    assert report.total.answered + report.total.unserved == report.total.offered
    assert report.total.unserved > 0


def test_arrivals_follow_the_hourly_rates():
    def offered(per_hour: tuple[float, ...]) -> int:
        demand = Demand("main", per_hour, TalkTime(1))
        shifts = tuple(Shift(f"a{i}", {}, frozenset(), 0, len(per_hour) + 1) for i in range(5))
        return simulate(Scenario((Queue("main", {}, wrapup_s=0),), (demand,), shifts), seed=9).total.offered

    assert offered((0.0, 0.0, 0.0)) == 0
    assert offered((0.0, 2000.0, 0.0, 1000.0)) == pytest.approx(3000, abs=4 * math.sqrt(3000))


def test_lognormal_talk_times_have_the_asked_mean_and_spread():
    talk = TalkTime(240, "lognormal", cv=0.8)
    n = 200_000
    draws = [talk.quantile((i + 0.5) / n) for i in range(n)]
    mean = sum(draws) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in draws) / n)

    assert mean == pytest.approx(240, rel=0.01)
    assert sd / mean == pytest.approx(0.8, rel=0.03)
    with pytest.raises(ValueError):
        TalkTime(240, "uniform")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_callback_keeps_the_callers_place_ahead_of_later_callers(backend):
    queue = Queue("main", {}, wrapup_s=0)
    scenario = Scenario((queue,), (), (Shift("solo", {}, frozenset(), 0, 1),))
    routing = BACKENDS[backend](scenario)
    t = [DAY_START.replace(minute=m) for m in range(6)]

    routing.enqueue("CA" + "1" * 32, "main", None, t[0])
    routing.enqueue("CA" + "2" * 32, "main", None, t[1])
    item = routing.hold_as_callback("CA" + "1" * 32, 1, t[2])
    routing.start_shift("solo", t[3])

    assert routing.dispatch(t[3]) == [(item, "solo")]


def test_both_routing_backends_live_the_same_day():
    # Two busy hours of the first shift, with callbacks that often go unanswered (retries, give-ups).
    scenario = replace(center(0.95), callers=Callers(accept_p=0.7, answer_p=0.5))
    short = replace(
        scenario,
        demands=tuple(replace(d, per_hour=d.per_hour[:2]) for d in scenario.demands),
        shifts=tuple(s for s in scenario.shifts if s.start_h == 0),
    )

    core = simulate(short, seed=11, policy=VirtualHold(30), backend="core").summary()
    store = simulate(short, seed=11, policy=VirtualHold(30), backend="store").summary()

    assert core["abandoned"] > 0 and core["callbacks_completed"] > 0 and core["callbacks_failed"] > 0
    assert store == core


def test_virtual_hold_offers_above_the_threshold_and_retries_as_the_servers_callback_policy():
    hold = VirtualHold(offer_above_s=60)
    monday_10 = DAY_START.replace(hour=10)

    assert hold.offer(Estimate("CA1", 5, 61.0, 4, 0, 180.0))
    assert not hold.offer(Estimate("CA1", 2, 60.0, 4, 0, 180.0))
    assert hold.offer(Estimate("CA1", 1, None, 0, 0, 180.0))  # nobody staffed who could answer
    first, second = hold.retry_at(1, monday_10), hold.retry_at(2, monday_10)
    assert (second - monday_10) == 2 * (first - monday_10) > timedelta(0)  # backoff doubles
    assert hold.retry_at(1, DAY_START.replace(hour=19, minute=59, second=59)) == DAY_START + timedelta(days=1)
    assert hold.retry_at(hold.rules.max_attempts, monday_10) is None
