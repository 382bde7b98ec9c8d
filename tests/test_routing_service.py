"""Routing on a real SQLite file: queue, offer, answer, no answer, abandon, wrap-up, presence, callbacks, boards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import iso
from routing import admin, service
from routing.exceptions import RoutingError
from store import routing as store
from store.migrations import migrate
from tests import lifecycle
from tests.databases import connect_db as connect

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

CENTER = """
skills: {billing: Billing, orders: Orders}
queues:
  billing:
    skills: {billing: 4}
    wrapup_s: 30
    escalation: [{after_s: 30, min_level_delta: -1}, {after_s: 90, overflow: general}]
  orders: {skills: {orders: 3}, wrapup_s: 0}
  general: {skills: {}, wrapup_s: 15}
agents:
  - {id: alisa, languages: [ru, en], skills: {billing: 5}, presence: available}
  - {id: dmitri, languages: [ru], skills: {billing: 3, orders: 4}, presence: available}
  - {id: bob, languages: [en], skills: {billing: 4}, presence: available}
"""


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def db(tmp_path: Path):
    database = connect(str(tmp_path / "routing.db"))
    migrate(database)
    (tmp_path / "center.yaml").write_text(CENTER, encoding="utf-8")
    admin.load_center(database, tmp_path / "center.yaml", at(-600))
    yield database
    database.conn.close()


def new_call(db, sid: str, number: str = "+15551230002", language: str = "ru") -> str:
    return lifecycle.start(db, sid, at(-1), number, language=language)


def enqueue(db, sid: str, queue: str, t: datetime, **options):
    """Routing's own enqueue, with the caller (for the sticky agent) taken from the call."""
    return service.enqueue_call(db, sid, queue, t, caller_id=lifecycle.row(db, sid)["caller_id"], **options)


def presence(db, agent_id: str) -> str:
    return store.agent(db, agent_id)["presence"]


def only_offer(offers):
    assert len(offers) == 1
    return offers[0]


def test_a_queued_call_is_offered_to_the_best_agent_who_is_reserved_in_the_same_step(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru", context={"intent": "billing"})

    offer = only_offer(service.dispatch(db, at(1)))

    assert (offer.item_id, offer.call_sid, offer.agent_id, offer.kind) == ("CA1", "CA1", "alisa", "call")
    assert offer.reason == "alisa: billing 5, idle 601 s; bob skipped: no Russian; dmitri skipped: billing 3 < 4"
    assert offer.context == {"intent": "billing"}
    assert presence(db, "alisa") == "reserved"
    assert store.item(db, "CA1")["state"] == "offered"
    assert service.dispatch(db, at(2)) == []


def test_answering_connects_the_call_and_records_wait_and_reason_on_the_call(db):
    lifecycle.enqueue(db, new_call(db, "CA1"), "billing", at(0))
    service.dispatch(db, at(1))

    lifecycle.answer(db, "CA1", "alisa", at(4))

    call = lifecycle.row(db, "CA1")
    assert (call["agent_id"], call["wait_s"], call["queue"]) == ("alisa", 4.0, "billing")
    assert call["routing_reason"].startswith("alisa: billing 5")
    assert presence(db, "alisa") == "busy"
    assert store.agent(db, "alisa")["current_call_sid"] == "CA1"
    assert store.item(db, "CA1") is None
    with pytest.raises(RoutingError):
        service.accept(db, "CA1", "alisa", at(5))


def test_only_the_agent_the_call_is_offered_to_can_answer_it(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru")
    service.dispatch(db, at(1))

    with pytest.raises(RoutingError, match="not offered to bob"):
        service.accept(db, "CA1", "bob", at(2))


def test_with_the_best_agent_busy_the_caller_waits_hears_an_estimate_and_gets_that_agent_when_freed(db):
    service.set_presence(db, "dmitri", "break", at(0), reason="lunch")
    enqueue(db, new_call(db, "CA1", "+15551230009"), "billing", at(0), language="ru")
    service.accept(db, "CA1", only_offer(service.dispatch(db, at(0))).agent_id, at(1))
    enqueue(db, new_call(db, "CA2"), "billing", at(10), language="ru")

    assert service.dispatch(db, at(11)) == []
    estimate = service.estimate(db, "CA2", at(11))
    assert (estimate.position, estimate.staffed, estimate.free) == (1, 1, 0)
    assert estimate.wait_s == pytest.approx(180 + 30)  # no history yet: default talk + wrap-up, one agent

    assert service.hang_up(db, "alisa", at(20))
    assert presence(db, "alisa") == "wrapup"
    assert service.finish_wrapups(db, at(49)) == []
    assert service.finish_wrapups(db, at(50)) == ["alisa"]
    assert store.agent(db, "alisa")["last_idle_at"] == iso(at(50))

    offer = only_offer(service.dispatch(db, at(50)))
    assert (offer.item_id, offer.agent_id) == ("CA2", "alisa")


def test_ring_no_answer_makes_the_agent_not_ready_and_the_call_keeps_its_place(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru")
    service.dispatch(db, at(1))
    enqueue(db, new_call(db, "CA2", "+15551230007"), "billing", at(5), language="ru")

    service.ring_no_answer(db, "CA1", "alisa", at(16))

    alisa = store.agent(db, "alisa")
    assert (alisa["presence"], alisa["not_ready_reason"], alisa["current_item"]) == ("break", "ring-no-answer", None)
    item = store.item(db, "CA1")
    assert (item["state"], item["entered_at"], item["offers"]) == ("waiting", iso(at(0)), 1)
    offer = only_offer(service.dispatch(db, at(31)))  # after 30 s the minimum is lowered: dmitri qualifies
    assert (offer.item_id, offer.agent_id) == ("CA1", "dmitri")


def test_unanswered_offers_expire_as_ring_no_answer(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru")
    service.dispatch(db, at(1))

    assert service.expire_offers(db, at(15), ring_timeout_s=15) == []
    assert [row["id"] for row in service.expire_offers(db, at(16), ring_timeout_s=15)] == ["CA1"]
    assert presence(db, "alisa") == "break"


def test_a_caller_who_hangs_up_while_waiting_leaves_the_queue_and_counts_as_abandoned(db):
    for agent_id in ("alisa", "dmitri", "bob"):
        service.set_presence(db, agent_id, "offline", at(0))
    lifecycle.enqueue(db, new_call(db, "CA1"), "billing", at(0))

    lifecycle.caller_hangs_up(db, "CA1", at(42))

    call = lifecycle.row(db, "CA1")
    assert (call["outcome"], call["wait_s"], call["ended_at"]) == ("abandoned", 42.0, iso(at(42)))
    assert store.item(db, "CA1") is None
    assert not service.abandon(db, "CA1", at(43))
    board = {q["queue"]: q for q in service.queue_board(db, at(50))}
    assert (board["billing"]["abandoned"], board["billing"]["waiting"]) == (1, 0)


def test_a_caller_who_hangs_up_while_the_agent_rings_frees_the_agent_without_losing_their_idle_time(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru")
    service.dispatch(db, at(1))

    service.abandon(db, "CA1", at(3))

    alisa = store.agent(db, "alisa")
    assert (alisa["presence"], alisa["last_idle_at"], alisa["current_item"]) == ("available", iso(at(-600)), None)


def test_the_agent_who_served_the_caller_last_gets_them_again(db):
    lifecycle.enqueue(db, new_call(db, "CA1"), "orders", at(0))
    lifecycle.answer(db, "CA1", only_offer(service.dispatch(db, at(0))).agent_id, at(1))
    lifecycle.agent_hangs_up(db, "CA1", "dmitri", at(60))  # orders: no wrap-up
    service.set_presence(db, "alisa", "offline", at(60))

    enqueue(db, new_call(db, "CA2"), "billing", at(100), language="ru")  # same caller, now billing
    offer = only_offer(service.dispatch(db, at(130)))  # dmitri qualifies for billing after 30 s; bob has no Russian

    assert offer.agent_id == "dmitri"
    assert offer.reason.startswith("dmitri: served this caller before; billing 3")


def test_a_callback_keeps_the_callers_place_and_later_callers_do_not_overtake_it(db):
    for agent_id in ("alisa", "dmitri", "bob"):
        service.set_presence(db, agent_id, "break", at(0))
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="en", context={"intent": "refund"})
    enqueue(db, new_call(db, "CA2", "+15551230007"), "billing", at(20), language="en")

    item = service.hold_as_callback(db, "CA1", 7, at(40))

    assert (item.id, item.kind, item.entered_at, item.context) == (
        "callback:7",
        "callback",
        at(0),
        {"intent": "refund"},
    )
    assert store.item(db, "CA1") is None
    assert service.estimate(db, "CA2", at(41)).position == 2
    service.set_presence(db, "bob", "available", at(60))
    offer = only_offer(service.dispatch(db, at(60)))
    assert (offer.item_id, offer.kind, offer.callback_id, offer.call_sid, offer.agent_id) == (
        "callback:7",
        "callback",
        7,
        None,
        "bob",
    )


def test_a_withdrawn_callback_offer_frees_the_agent_and_waits_until_its_retry_time(db):
    service.enqueue_callback(db, 9, "billing", at(-300), at(0), language="en")
    assert only_offer(service.dispatch(db, at(0))).agent_id == "alisa"

    service.withdraw(db, "callback:9", at(30), reason="customer busy", not_before=at(330))

    assert presence(db, "alisa") == "available"
    assert service.dispatch(db, at(329)) == []
    assert only_offer(service.dispatch(db, at(330))).item_id == "callback:9"
    assert service.cancel(db, "callback:9", at(331), reason="failed")
    assert presence(db, "alisa") == "available"


def test_presence_set_by_hand_is_limited_to_offline_available_and_break(db):
    service.set_presence(db, "bob", "break", at(0), reason="training")
    assert store.agent(db, "bob")["not_ready_reason"] == "training"
    with pytest.raises(RoutingError, match="set by routing"):
        service.set_presence(db, "bob", "reserved", at(1))
    service.set_presence(db, "bob", "available", at(2))
    assert store.agent(db, "bob")["last_idle_at"] == iso(at(2))

    enqueue(db, new_call(db, "CA1"), "billing", at(3), language="en")
    assert only_offer(service.dispatch(db, at(3))).agent_id == "alisa"
    with pytest.raises(RoutingError, match="alisa is reserved"):
        service.set_presence(db, "alisa", "offline", at(4))
    with pytest.raises(RoutingError, match="no agent"):
        service.set_presence(db, "nobody", "available", at(4))


def test_enqueue_is_idempotent_and_refuses_unknown_queues(db):
    new_call(db, "CA1")
    first = enqueue(db, "CA1", "billing", at(0), language="ru")
    again = enqueue(db, "CA1", "billing", at(5), language="ru")

    assert again.entered_at == first.entered_at == at(0)
    with pytest.raises(RoutingError, match="no queue"):
        enqueue(db, new_call(db, "CA2"), "nowhere", at(0))


def test_estimates_follow_the_recent_handle_times_of_the_queue(db):
    service.set_presence(db, "dmitri", "offline", at(0))
    service.set_presence(db, "bob", "offline", at(0))
    for n, talk_s in enumerate((100, 200)):
        sid = new_call(db, f"CA{n}", f"+1555123010{n}")
        start = n * 1000
        enqueue(db, sid, "billing", at(start), language="ru")
        service.accept(db, sid, only_offer(service.dispatch(db, at(start))).agent_id, at(start))
        service.hang_up(db, "alisa", at(start + talk_s))
        service.finish_wrapups(db, at(start + talk_s + 30))
    enqueue(db, new_call(db, "CA8", "+15551230108"), "billing", at(3000), language="ru")
    service.accept(db, "CA8", only_offer(service.dispatch(db, at(3000))).agent_id, at(3000))
    enqueue(db, new_call(db, "CA9", "+15551230109"), "billing", at(3001), language="ru")

    assert service.estimate(db, "CA9", at(3002)).handle_s == pytest.approx(150 + 30)
    assert service.estimate(db, "CA9", at(3002)).wait_s == pytest.approx(180)


def test_the_supervisor_boards_show_waiting_callers_agents_and_service_level(db):
    enqueue(db, new_call(db, "CA1"), "billing", at(0), language="ru")
    service.accept(db, "CA1", only_offer(service.dispatch(db, at(0))).agent_id, at(5))  # within 20 s
    enqueue(db, new_call(db, "CA2", "+15551230007"), "billing", at(10), language="ru")
    service.accept(db, "CA2", only_offer(service.dispatch(db, at(40))).agent_id, at(40))  # 30 s: dmitri, late
    enqueue(db, new_call(db, "CA3", "+15551230008"), "billing", at(50), language="ru")

    queues = {q["queue"]: q for q in service.queue_board(db, at(60))}
    agents = {a["id"]: a for a in service.agents_board(db, at(60))}
    waiting = service.waiting_board(db, at(60))

    assert {k: queues["billing"][k] for k in ("waiting", "answered", "within_target", "service_level")} == {
        "waiting": 1,
        "answered": 2,
        "within_target": 1,
        "service_level": 0.5,
    }
    assert queues["billing"]["longest_wait_s"] == 10.0
    assert (agents["alisa"]["presence"], agents["alisa"]["current_call_sid"], agents["alisa"]["in_state_s"]) == (
        "busy",
        "CA1",
        55.0,
    )
    assert [(w["id"], w["position"], w["waited_s"]) for w in waiting] == [("CA3", 1, 10.0)]


def test_one_callers_estimate_is_the_one_the_whole_board_gives(db):
    for agent_id in ("alisa", "dmitri", "bob"):
        service.set_presence(db, agent_id, "break", at(0))
    for n, (queue, language) in enumerate([("billing", "ru"), ("billing", "en"), ("orders", "ru"), ("billing", "ru")]):
        enqueue(db, new_call(db, f"CA{n}", f"+1555123020{n}"), queue, at(n), language=language)
    service.set_presence(db, "bob", "available", at(10))
    service.dispatch(db, at(10))  # bob takes the English billing caller
    service.set_presence(db, "alisa", "available", at(11))  # free, and no dispatch has run since

    board = service.estimates(db, at(40))

    assert {sid: service.estimate(db, sid, at(40)) for sid in board} == board
    assert (board["CA1"].position, board["CA3"].position) == (0, 2)
