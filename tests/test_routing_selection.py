"""Selection of the best agent: eligibility, skill and idle ranking, sticky agent, escalation, ageing, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.exceptions import RoutingError
from routing.model import (
    PRIORITY_STEP_S,
    Agent,
    EscalationStep,
    Presence,
    Queue,
    WaitingItem,
    escalation_ladder,
)
from routing.selection import Ladders, Router, select_agent_by_scan, select_item_by_scan

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

BILLING = Queue(
    "billing",
    {"billing": 4},
    priority=1,
    escalation=(EscalationStep(30, min_level_delta=-1), EscalationStep(90, overflow="general")),
)
ORDERS = Queue("orders", {"orders": 3})
TECH_BILLING = Queue("tech_billing", {"billing": 2, "support": 2})
GENERAL = Queue("general", {})
QUEUES = (BILLING, ORDERS, TECH_BILLING, GENERAL)


def agent(
    agent_id: str, languages: str, idle_s: float = 60, presence: Presence = Presence.AVAILABLE, **skills: int
) -> Agent:
    return Agent(
        agent_id,
        agent_id,
        skills,
        frozenset(languages.split()),
        presence,
        presence_since=NOW - timedelta(seconds=idle_s),
        last_idle_at=NOW - timedelta(seconds=idle_s),
    )


def call(
    item_id: str, queue: str = "billing", language: str | None = "ru", waited_s: float = 0, **fields
) -> WaitingItem:
    return WaitingItem(item_id, queue, NOW - timedelta(seconds=waited_s), language=language, **fields)


def pick(agents: list[Agent], item: WaitingItem, now: datetime = NOW):
    return Router(QUEUES, agents).select_agent(item, now)


CENTER = [
    agent("alisa", "ru en", idle_s=212, billing=5),
    agent("bob", "en", idle_s=900, billing=5),
    agent("dmitri", "ru", idle_s=600, billing=3),
]


def test_a_russian_billing_caller_gets_the_russian_speaker_with_the_highest_billing_level():
    decision = pick(CENTER, call("CA1"))

    assert decision.agent_id == "alisa"
    assert decision.reason == "alisa: billing 5, idle 212 s; bob skipped: no Russian; dmitri skipped: billing 3 < 4"


def test_among_equally_skilled_agents_the_longest_idle_one_is_chosen():
    agents = [agent("a1", "en", idle_s=30, billing=4), agent("a2", "en", idle_s=300, billing=4)]

    assert pick(agents, call("CA1", language="en")).agent_id == "a2"


def test_a_higher_level_beats_a_longer_idle_time():
    agents = [agent("senior", "en", idle_s=1, billing=5), agent("junior", "en", idle_s=3000, billing=4)]

    assert pick(agents, call("CA1", language="en")).agent_id == "senior"


def test_agents_who_are_not_available_are_never_chosen():
    agents = [agent(f"x-{p.value}", "ru", presence=p, billing=5) for p in Presence if p != Presence.AVAILABLE]

    decision = pick(agents, call("CA1"))

    assert decision.agent_id is None
    assert decision.reason == "no available agent for billing (billing ≥ 4, Russian)"


def test_when_nobody_qualifies_the_reason_says_who_was_skipped_and_why():
    decision = pick([a for a in CENTER if a.id != "alisa"], call("CA1"))

    assert decision.agent_id is None
    assert decision.reason == (
        "no available agent for billing (billing ≥ 4, Russian); bob skipped: no Russian; dmitri skipped: billing 3 < 4"
    )


def test_several_required_skills_rank_by_the_sum_of_levels():
    agents = [
        agent("deep", "en", idle_s=900, billing=5, support=2),  # 7
        agent("broad", "en", idle_s=10, billing=4, support=4),  # 8
        agent("narrow", "en", idle_s=5000, billing=5),  # no support
    ]

    decision = pick(agents, call("CA1", queue="tech_billing", language="en"))

    assert decision.agent_id == "broad"
    assert decision.reason.startswith("broad: billing 4, support 4, idle 10 s")


def test_a_queue_without_skills_takes_the_longest_idle_agent_who_speaks_the_language():
    agents = [agent("en1", "en", idle_s=5000), agent("ko1", "ko en", idle_s=100), agent("ko2", "ko", idle_s=400)]

    assert pick(agents, call("CA1", queue="general", language="ko")).agent_id == "ko2"
    assert pick(agents, call("CA2", queue="general", language=None)).agent_id == "en1"


# Sticky agent


def test_the_agent_who_last_served_the_caller_comes_first_when_eligible():
    agents = [*CENTER, agent("olga", "ru", idle_s=1, billing=4)]

    decision = pick(agents, call("CA1", last_agent_id="olga"))

    assert decision.agent_id == "olga"
    assert decision.sticky
    assert decision.reason.startswith("olga: served this caller before; billing 4, idle 1 s")


def test_a_sticky_agent_who_does_not_qualify_is_passed_over():
    decision = pick(CENTER, call("CA1", last_agent_id="bob"))

    assert decision.agent_id == "alisa"
    assert not decision.sticky


def test_a_sticky_agent_who_is_busy_is_not_waited_for():
    agents = [agent("olga", "ru", presence=Presence.BUSY, billing=5), *CENTER]

    assert pick(agents, call("CA1", last_agent_id="olga")).agent_id == "alisa"


# Escalation


def test_escalation_lowers_the_minimum_level_after_its_delay():
    agents = [a for a in CENTER if a.id != "alisa"]

    assert pick(agents, call("CA1", waited_s=29)).agent_id is None
    decision = pick(agents, call("CA1", waited_s=30))
    assert decision.agent_id == "dmitri"
    assert decision.reason == "dmitri: billing 3 (minimum lowered to 3 after 30 s), idle 600 s; bob skipped: no Russian"


def test_escalation_overflows_to_the_general_queue_in_the_callers_language():
    agents = [
        agent("bob", "en", billing=5),
        agent("reza", "fa ru", idle_s=50),
        agent("ivan", "ru", idle_s=20, orders=2),
    ]

    assert pick(agents, call("CA1", waited_s=89)).agent_id is None
    decision = pick(agents, call("CA1", waited_s=90))
    assert decision.agent_id == "reza"
    assert decision.requirement.overflow
    assert decision.reason.startswith("reza: overflow to general after 90 s; idle 50 s")


def test_own_queue_agents_come_before_overflow_agents():
    agents = [agent("reza", "ru", idle_s=5000), agent("dmitri", "ru", idle_s=10, billing=3)]

    assert pick(agents, call("CA1", waited_s=120)).agent_id == "dmitri"


def test_lowered_levels_never_go_below_one():
    queue = Queue("q", {"s": 2}, escalation=(EscalationStep(10, min_level_delta=-3),))

    ladder = escalation_ladder(queue, {"q": queue}, "en")

    assert [r.skills for r in ladder] == [(("s", 2),), (("s", 1),)]


def test_an_overflow_to_an_unknown_queue_is_refused():
    queue = Queue("q", {}, escalation=(EscalationStep(10, overflow="nowhere"),))

    with pytest.raises(RoutingError, match="unknown queue nowhere"):
        escalation_ladder(queue, {"q": queue}, None)


# Order of service: priority with ageing


def test_priority_counts_sixty_seconds_of_waiting_per_point():
    router = Router(QUEUES, [agent("any", "en", billing=5, orders=5)])
    plain = call("plain", queue="orders", language="en", waited_s=100)
    urgent_recent = call("urgent", queue="orders", language="en", waited_s=100 - PRIORITY_STEP_S + 1, priority=1)
    urgent_late = call("late", queue="orders", language="en", waited_s=100 - PRIORITY_STEP_S - 1, priority=1)
    for item in (plain, urgent_recent, urgent_late):
        router.waiting.add(item)

    order = sorted(router.waiting.items.values(), key=router.ladders.order)

    assert [i.id for i in order] == ["urgent", "plain", "late"]


def test_a_queue_priority_ranks_its_callers_ahead_by_the_same_rule():
    router = Router(QUEUES, [agent("both", "en", idle_s=10, billing=5, orders=5)])
    router.waiting.add(call("orders-call", queue="orders", language="en", waited_s=50))
    router.waiting.add(call("billing-call", queue="billing", language="en", waited_s=0))  # billing has priority 1

    assert router.select_item("both", NOW).id == "billing-call"
    assert [d.item_id for d in router.dispatch(NOW)] == ["billing-call"]


@settings(max_examples=200, deadline=None)
@given(
    arrivals=st.lists(st.tuples(st.floats(0, 3600), st.integers(0, 3)), min_size=2, max_size=40),
)
def test_nobody_is_overtaken_by_a_caller_who_arrived_more_than_the_priority_gap_later(arrivals):
    router = Router(QUEUES)
    items = [call(f"c{i}", queue="orders", waited_s=3600 - t, priority=p) for i, (t, p) in enumerate(arrivals)]
    for item in items:
        router.waiting.add(item)
    served = sorted(items, key=router.ladders.order)

    for position, first in enumerate(served):
        for later in served[position + 1 :]:
            overtaken_by = (first.entered_at - later.entered_at).total_seconds()
            assert overtaken_by <= (first.priority - later.priority) * PRIORITY_STEP_S


def test_a_scheduled_callback_is_not_offered_before_its_time():
    router = Router(QUEUES, [agent("bob", "en", billing=5)])
    router.waiting.add(
        call("callback:1", language="en", waited_s=500, kind="callback", not_before=NOW + timedelta(minutes=5))
    )

    assert router.dispatch(NOW) == []
    assert [d.item_id for d in router.dispatch(NOW + timedelta(minutes=5))] == ["callback:1"]


# Dispatch


def test_dispatch_serves_callers_in_order_and_gives_each_their_best_remaining_agent():
    router = Router(QUEUES, CENTER)
    for item in (call("second", waited_s=10), call("first", waited_s=20), call("third", waited_s=0)):
        router.waiting.add(item)

    decisions = router.dispatch(NOW + timedelta(seconds=30))

    # "first" has waited 50 s (lowered to billing 3), "second" 40 s, "third" 30 s
    assert [(d.item_id, d.agent_id) for d in decisions] == [("first", "alisa"), ("second", "dmitri")]
    assert list(router.waiting.items) == ["third"]
    assert list(router.available.agents) == ["bob"]


# The indexed selection agrees with its definition, the plain scan


SKILLS = ("billing", "orders", "support")
LANGUAGES = ("en", "ru", "fa")
agents_strategy = st.lists(
    st.builds(
        lambda i, langs, skills, idle, presence: agent(
            f"a{i}", " ".join(sorted(langs)), idle_s=idle, presence=presence, **skills
        ),
        st.integers(0, 10_000),
        st.sets(st.sampled_from(LANGUAGES), min_size=1, max_size=2),
        st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=3),
        st.integers(0, 2000),
        st.sampled_from([Presence.AVAILABLE, Presence.AVAILABLE, Presence.BUSY]),
    ),
    max_size=30,
    unique_by=lambda a: a.id,
)
items_strategy = st.lists(
    st.builds(
        lambda i, queue, language, waited, priority, sticky: call(
            f"c{i}", queue, language, waited, priority=priority, last_agent_id=f"a{sticky}"
        ),
        st.integers(0, 10_000),
        st.sampled_from([q.name for q in QUEUES]),
        st.sampled_from((*LANGUAGES, None)),
        st.integers(0, 200),
        st.integers(0, 2),
        st.integers(0, 10_000),
    ),
    max_size=30,
    unique_by=lambda i: i.id,
)


@settings(max_examples=300, deadline=None)
@given(agents=agents_strategy, items=items_strategy)
def test_indexed_selection_equals_the_scan_over_all_agents_and_items(agents, items):
    router = Router(QUEUES, agents, items)
    ladders = Ladders(QUEUES)

    for item in items:
        assert router.select_agent(item, NOW).agent_id == select_agent_by_scan(item, agents, ladders, NOW)
    for a in agents:
        if a.presence == Presence.AVAILABLE:
            found = router.select_item(a.id, NOW)
            assert (found.id if found else None) == select_item_by_scan(a, items, ladders, NOW)


@settings(max_examples=300, deadline=None)
@given(agents=agents_strategy, items=items_strategy)
def test_dispatch_equals_the_greedy_scan_and_pairs_each_agent_and_item_once(agents, items):
    ladders = Ladders(QUEUES)
    free = {a.id: a for a in agents if a.presence == Presence.AVAILABLE}
    expected = []
    for item in sorted(items, key=ladders.order):
        chosen = select_agent_by_scan(item, free.values(), ladders, NOW)
        if chosen:
            expected.append((item.id, chosen))
            del free[chosen]

    pairs = [(d.item_id, d.agent_id) for d in Router(QUEUES, agents, items).dispatch(NOW)]

    assert pairs == expected
    assert len({a for _, a in pairs}) == len({i for i, _ in pairs}) == len(pairs)


def test_an_item_that_entered_after_the_decision_clock_is_still_routed_by_its_base_requirement():
    # another process enqueued it after this one read the clock: its wait is negative
    decision = pick(CENTER, call("CA1", waited_s=-0.5))

    assert decision.agent_id == "alisa"


def test_a_callback_escalates_from_when_it_became_ready_not_from_its_old_place_in_line():
    """A callback keeps a place in line from minutes ago, but its customer is not on hold: it is not handed to a
    less skilled agent (billing 3 < 4) at once, only after the escalation step counted from its readiness."""
    junior = agent("junior", "ru", billing=3)
    old_call = call("CA1", waited_s=600)
    old_callback = call("callback:1", waited_s=600, kind="callback", not_before=NOW)
    assert pick([junior], old_call).agent_id == "junior"  # a caller on hold 10 minutes: escalated
    assert pick([junior], old_callback).agent_id is None
    assert pick([junior], old_callback, NOW + timedelta(seconds=31)).agent_id == "junior"
    router = Router(QUEUES, [junior], [old_callback])
    assert router.select_item("junior", NOW) is None  # the same answer when the agent frees up
    assert router.select_item("junior", NOW + timedelta(seconds=31)).id == "callback:1"
