"""Wait estimates: handle time from history, position among competing callers, staffed eligible agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.estimates import DEFAULT_TALK_S, estimate_all, expected_wait, handle_time
from routing.model import Agent, EscalationStep, Presence, Queue, WaitingItem
from routing.selection import Ladders

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
LADDERS = Ladders(
    [
        Queue("billing", {"billing": 4}, wrapup_s=30, escalation=(EscalationStep(60, min_level_delta=-1),)),
        Queue("general", {}, wrapup_s=10),
    ]
)
HANDLE = {"billing": 300.0, "general": 100.0}


def agent(agent_id: str, presence: Presence, languages: str = "en", **skills: int) -> Agent:
    return Agent(agent_id, agent_id, skills, frozenset(languages.split()), presence, NOW, NOW)


def waiting(item_id: str, waited_s: float, queue: str = "billing", language: str = "en", **fields) -> WaitingItem:
    return WaitingItem(item_id, queue, NOW - timedelta(seconds=waited_s), language=language, **fields)


def test_handle_time_is_the_mean_talk_time_plus_wrap_up_with_a_default_without_history():
    assert handle_time([100, 200, 300], wrapup_s=30) == 230
    assert handle_time([], wrapup_s=30) == DEFAULT_TALK_S + 30


def test_expected_wait_is_the_callers_ahead_of_the_free_agents_times_handle_time_over_staffed_agents():
    assert expected_wait(position=3, staffed=2, free=0, handle_s=300) == 450
    assert expected_wait(position=3, staffed=4, free=1, handle_s=300) == 150
    assert expected_wait(position=1, staffed=2, free=1, handle_s=300) == 0
    assert expected_wait(position=1, staffed=0, free=0, handle_s=300) is None


def test_position_counts_only_callers_ahead_in_the_same_queue_and_language():
    items = [
        waiting("en-old", 50),
        waiting("ru-older", 80, language="ru"),
        waiting("en-new", 10),
        waiting("general", 90, queue="general"),
        waiting("en-urgent", 5, priority=1),  # 60 s per priority point: ahead of en-old
    ]

    found = estimate_all(items, [], LADDERS, HANDLE, NOW)

    positions = {item_id: e.position for item_id, e in found.items()}
    assert positions == {"en-urgent": 1, "en-old": 2, "en-new": 3, "ru-older": 1, "general": 1}


def test_the_estimate_counts_staffed_eligible_agents_and_is_unknown_without_any():
    agents = [
        agent("busy4", Presence.BUSY, billing=4),
        agent("wrap5", Presence.WRAPUP, billing=5),
        agent("free4", Presence.AVAILABLE, billing=4),
        agent("away5", Presence.BREAK, billing=5),
        agent("low3", Presence.BUSY, billing=3),
        agent("ru5", Presence.BUSY, "ru", billing=5),
    ]
    items = [waiting("first", 40), waiting("second", 30), waiting("third", 20), waiting("ko", 10, language="ko")]

    found = estimate_all(items, agents, LADDERS, HANDLE, NOW)

    assert (found["first"].staffed, found["first"].free, found["first"].wait_s) == (3, 1, 0)
    assert found["third"].wait_s == pytest.approx(2 * 300 / 3)
    assert found["ko"].wait_s is None


def test_estimates_are_recomputed_with_the_time_waited_so_escalation_adds_agents():
    agents = [agent("busy4", Presence.BUSY, billing=4), agent("low3", Presence.BUSY, billing=3)]
    items = [waiting("caller", 0)]

    early = estimate_all(items, agents, LADDERS, HANDLE, NOW)["caller"]
    later = estimate_all(items, agents, LADDERS, HANDLE, NOW + timedelta(seconds=60))["caller"]

    assert (early.staffed, early.wait_s) == (1, 300)
    assert (later.staffed, later.wait_s) == (2, 150)


def test_a_scheduled_callback_has_no_estimate_and_holds_nobody_up_before_its_time():
    items = [waiting("callback:1", 100, not_before=NOW + timedelta(minutes=10)), waiting("caller", 5)]

    found = estimate_all(items, [agent("busy4", Presence.BUSY, billing=4)], LADDERS, HANDLE, NOW)

    assert set(found) == {"caller"}
    assert found["caller"].position == 1
