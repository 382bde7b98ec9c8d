"""Whole calls through the simulator against a real server process: what callers hear and what is recorded."""

import json

from store import calls as store_calls
from tests.conftest import new_number


def add_caller_with_order(server, number, order_number, language="en"):
    def seed(db):
        caller = store_calls.upsert_caller(db, number, name="Test Caller", language=language)
        db["orders"].upsert({"number": order_number, "caller_id": caller["id"], "item": "a green teapot",
                             "status": "out for delivery", "eta": "today"}, pk="number")
    server.seed(seed)


def call_row(server, sid):
    row = server.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]
    return {**row, "path": json.loads(row["path"]), "digits": json.loads(row["digits"])}


def test_order_status_self_service(server):
    number = new_number()
    add_caller_with_order(server, number, "55501")
    result = server.call(number, [{"keys": "1"}, {"keys": "55501#"}, {"keys": "9"}])
    heard = " | ".join(result["heard"])
    assert "For the status of an order, press 1" in heard
    assert "Please enter your order number" in heard
    assert "Order 5 5 5 0 1, a green teapot, is out for delivery. Expected today." in heard
    assert "Thank you for calling Northwind. Goodbye." in heard
    row = call_row(server, result["call_sid"])
    assert row["path"] == ["welcome", "lines_open", "main_menu", "order_lookup", "after_order", "goodbye"]
    assert row["intent"] == "finished"
    assert [d["digits"] for d in row["digits"]] == ["1", "55501", "9"]
    assert row["status"] == "completed" and row["outcome"] == "hung-up-in-ivr"


def test_unknown_order_is_apologised_for_and_asked_again(server):
    result = server.call(new_number(), [{"keys": "1"}, {"keys": "999999#"}, {"keys": "0"}], hold_s=0.5)
    heard = " | ".join(result["heard"])
    assert "could not find an order with that number" in heard
    assert heard.count("Please enter your order number") == 2
    assert result["queue"] == "orders"  # 0 from the order lookup goes to the orders team, not the general queue


def test_silence_is_reprompted_twice_then_a_human_takes_over(server):
    result = server.call(new_number(), [], hold_s=1)
    heard = result["heard"]
    assert sum("For the status of an order" in h for h in heard) == 3  # the menu, then two re-prompts
    assert heard.count("Sorry, I didn't hear anything.") == 2
    assert "Let me put you through to a person who can help." in heard
    assert result["queue"] == "general"
    row = call_row(server, result["call_sid"])
    assert row["path"][-1] == "agent_queue" and row["queued_at"]
    events = server.query("SELECT kind, data FROM call_events WHERE call_sid = ? ORDER BY id", [result["call_sid"]])
    handoff = [json.loads(e["data"]) for e in events if e["kind"] == "handoff"]
    assert handoff == [{"from": "main_menu", "reason": "no_input", "to": "agent_queue"}]
    assert row["outcome"] == "abandoned"  # hung up in the queue before an agent came


def test_wrong_keys_are_no_match_and_also_end_with_a_human(server):
    result = server.call(new_number(), [{"keys": "777"}], hold_s=0.5)
    assert result["heard"].count("Sorry, I didn't get that.") == 2
    assert result["queue"] == "general"


def test_zero_reaches_a_human_at_once_with_the_intent_on_the_call(server):
    result = server.call(new_number(), [{"keys": "0"}], hold_s=0.5)
    assert result["queue"] == "general"
    row = call_row(server, result["call_sid"])
    assert row["intent"] == "agent"
    assert row["path"] == ["welcome", "lines_open", "main_menu", "agent_queue"]


def test_billing_goes_to_the_billing_queue(server):
    result = server.call(new_number(), [{"keys": "2"}], hold_s=0.5)
    assert "Connecting you to our billing team." in result["heard"]
    assert result["queue"] == "billing"
    assert call_row(server, result["call_sid"])["intent"] == "billing"


def test_a_russian_caller_hears_the_russian_flow(server):
    number = new_number()
    server.seed(lambda db: store_calls.upsert_caller(db, number, language="ru"))
    result = server.call(number, [{"keys": "4"}, {"keys": "9"}])
    assert "Спасибо, что позвонили в Нортвинд. Разговор может записываться." in result["heard"]
    assert any("Мы работаем с понедельника по пятницу" in h for h in result["heard"])
    assert call_row(server, result["call_sid"])["language"] == "ru"


def test_every_step_is_on_the_call_row_and_in_the_event_log(server):
    result = server.call(new_number(), [{"keys": "4"}, {"keys": "1"}, {"keys": "4"}, {"keys": "9"}])
    sid = result["call_sid"]
    row = call_row(server, sid)
    assert row["path"] == ["welcome", "lines_open", "main_menu", "hours", "after_hours", "main_menu", "hours", "after_hours", "goodbye"]
    entered = [json.loads(e["data"])["node"] for e in server.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = 'enter' ORDER BY id", [sid])]
    assert entered == row["path"]


def test_anonymous_callers_are_served(server):
    result = server.call("anonymous", [{"keys": "1"}, {"keys": "4"}, {"keys": "9"}])  # English, hours, goodbye
    assert result["status"] == "completed"
    assert server.query("SELECT caller_id FROM calls WHERE sid = ?", [result["call_sid"]]) == [{"caller_id": None}]
