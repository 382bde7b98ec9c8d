"""Routing end to end: whole calls through the simulator reach the right agent, wait, re-route, abandon."""

import json
from datetime import UTC, datetime
from itertools import pairwise

from core import queue
from store import calls as store_calls
from tests.conftest import new_number, presence, wait_until
from web.api import call_context


def now():
    return datetime.now(UTC)


def russian_caller(server):
    number = new_number()
    server.seed(lambda db: store_calls.upsert_caller(db, number, name="Ольга", language="ru"))
    return number


def test_russian_billing_caller_reaches_the_russian_billing_expert(server, staff):
    expert = staff("alisa", ["ru", "en"], {"billing": 5})
    staff("dmitri", ["ru"], {"billing": 3})
    staff("bob", ["en"], {"billing": 5})
    result = server.call(russian_caller(server), [{"keys": "2"}, {"keys": "5"}])
    assert result["agent"] == expert
    row = server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["agent_id"] == expert and row["connected_at"] and row["outcome"] == "answered"
    assert row["routing_reason"].startswith(f"{expert}: billing 5")
    assert "no Russian" in row["routing_reason"]  # bob was skipped for language, and the reason says so
    # after the agent hangs up the caller gets the survey, and the answer is kept
    assert any("Насколько вы довольны" in h for h in result["heard"])
    assert server.query("SELECT score FROM survey_answers WHERE call_sid = ?", [result["call_sid"]]) == [{"score": 5}]


def test_with_the_expert_busy_the_caller_waits_hears_the_estimate_and_gets_the_expert(server, staff):
    expert = staff("alisa", ["ru"], {"billing": 5}, talk_s=4)
    first = server.start_call(russian_caller(server), [{"keys": "2"}])
    wait_until(lambda: presence(server, expert) == "busy")
    second = server.call(russian_caller(server), [{"keys": "2"}], hold_s=30)
    assert second["agent"] == expert
    assert any(h.startswith("Ваш номер в очереди 1.") for h in second["heard"])
    waited = server.query("SELECT wait_s FROM calls WHERE sid = ?", [second["call_sid"]])[0]["wait_s"]
    assert waited >= 2
    assert server.wait_call(first)["agent"] == expert


def test_a_waiting_caller_hears_the_place_in_line_about_every_thirty_seconds_not_at_every_pass_of_the_music(
    server, staff
):
    """As on Twilio, each pass of the wait music spends hold.wav's length and QueueTime counts the call's own time:
    the place is announced about every ANNOUNCE_EVERY_S (on the pass that starts in the first HOLD_MUSIC_S of each
    period), and the passes between are the music alone."""
    expert = staff("alisa", ["ru"], {"billing": 5}, talk_s=5)
    first = server.start_call(russian_caller(server), [{"keys": "2"}])
    wait_until(lambda: presence(server, expert) == "busy")
    second = server.call(russian_caller(server), [{"keys": "2"}], hold_s=30)
    assert second["agent"] == expert
    events = second["events"]
    queued = next(i for i, e in enumerate(events) if e["kind"] == "enqueue")
    heard = [("place" if e["text"].startswith("Ваш номер в очереди") else e["text"], e["at_ms"])
             for e in events[queued:] if e["kind"] in ("say", "play")]  # fmt: skip
    announced = [at for what, at in heard if what == "place"]
    assert len(announced) >= 2, heard
    assert all(after - before >= (queue.ANNOUNCE_EVERY_S - queue.HOLD_MUSIC_S) * 1000
               for before, after in pairwise(announced)), heard  # fmt: skip
    music_alone = [a for (a, _), (b, _) in pairwise(heard) if a == b == "[audio hold.wav]"]
    assert music_alone, heard
    assert server.wait_call(first)["agent"] == expert


def test_ring_no_answer_reroutes_to_the_next_agent_and_keeps_the_place(server, staff):
    sleepy = staff("sleepy", ["ru"], {"billing": 5}, answers=False)
    awake = staff("awake", ["ru"], {"billing": 4})
    result = server.call(russian_caller(server), [{"keys": "2"}], hold_s=30)
    assert result["agent"] == awake
    rang = [e.get("client") for e in result["events"] if e["kind"] == "ringing"]
    assert rang == [sleepy, awake]
    agent = server.query("SELECT presence, not_ready_reason FROM agents WHERE id = ?", [sleepy])[0]
    assert agent == {"presence": "break", "not_ready_reason": "ring-no-answer"}
    events = [
        e["kind"]
        for e in server.query("SELECT kind FROM call_events WHERE call_sid = ? ORDER BY id", [result["call_sid"]])
    ]
    assert events.count("offered") == 2 and "ring-no-answer" in events


def test_a_caller_who_hangs_up_in_the_queue_is_abandoned_and_leaves_it(server):
    result = server.call(new_number(), [{"keys": "3"}], hold_s=1)
    sid = result["call_sid"]
    assert result["queue"] == "support" and result["outcome"] == "abandoned"
    row = server.query("SELECT outcome, wait_s, ended_at FROM calls WHERE sid = ?", [sid])[0]
    assert row["outcome"] == "abandoned" and row["wait_s"] >= 1 and row["ended_at"]
    assert server.query("SELECT * FROM queue_items WHERE id = ?", [sid]) == []
    assert [e["kind"] for e in server.query("SELECT kind FROM routing_events WHERE item_id = ? ORDER BY id", [sid])][
        -1
    ] == "abandoned"


def test_the_agent_context_has_the_callers_path_and_history(server, staff):
    expert = staff("alisa", ["ru"], {"billing": 5}, talk_s=0.5)
    number = russian_caller(server)
    first = server.call(number, [{"keys": "2"}, {"keys": "4"}])
    second = server.call(number, [{"keys": "2"}, {"keys": "4"}])
    context = server.seed(lambda db: call_context(db, second["call_sid"]))
    assert context["caller"]["name"] == "Ольга" and context["caller"]["language"] == "ru"
    assert context["call"]["intent"] == "billing"
    assert context["call"]["path"] == ["welcome", "lines_open", "main_menu", "billing_queue", "survey"]
    assert context["call"]["agent_id"] == expert and "billing 5" in context["call"]["routing_reason"]
    assert [h["sid"] for h in context["history"]] == [first["call_sid"]]
    assert context["history"][0]["agent_id"] == expert
    assert json.dumps(context)  # plain JSON all the way down
