"""Callbacks: the caller keeps their place, hangs up, and is called back exactly once when it is their turn."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from callbacks import service
from tests.conftest import new_number, presence, wait_until
from web.api import call_context


def customer(server, number, behaviour="answer", **script):
    response = server.sim.post(f"{server.base_url}/sim/customers/{number}", json={"behaviour": behaviour, **script}, timeout=5)
    assert response.status_code == 200


def outbound_calls_to(server, number):
    calls = server.sim.get(f"{server.base_url}/sim/calls", timeout=5).json()["calls"]
    return [c for c in calls if c["to"] == number and c["direction"] == "outbound-api"]


def busy_agent(server, staff, talk_s):
    """The only billing agent, busy on a first call for ``talk_s`` s, so the next billing caller waits."""
    agent = staff("cb", ["en"], {"billing": 5}, talk_s=talk_s)
    first = server.start_call(new_number(), [{"keys": "2"}])
    wait_until(lambda: presence(server, agent) == "busy")
    return agent, first


def callback_of(server, call_sid):
    rows = server.query("SELECT * FROM callbacks WHERE call_sid = ?", [call_sid])
    return rows[0] if rows else None


def test_callback_keeps_the_place_and_reaches_the_agent(server, staff):
    agent, first = busy_agent(server, staff, talk_s=4)

    asker = new_number()
    customer(server, asker, steps=[{"keys": "5"}])
    booked = server.call(asker, [{"keys": "2"}, {"keys": "1"}, {"keys": "1"}])
    heard = " | ".join(booked["heard"])
    assert "To be called back when it is your turn instead of waiting, press 1. You keep your place in line." in heard
    assert f"We will call you back at {' '.join(asker[1:])}" in heard
    assert "You keep your place in line. Goodbye." in heard
    callback = callback_of(server, booked["call_sid"])
    assert callback is not None and callback["number"] == asker  # committed before the confirmation was spoken

    later = server.start_call(new_number(), [{"keys": "2"}], hold_s=40)  # stays on hold: must not overtake the callback
    wait_until(lambda: callback_of(server, booked["call_sid"])["status"] == "completed", timeout=40)
    callback = callback_of(server, booked["call_sid"])
    outbound = server.query("SELECT * FROM calls WHERE callback_id = ? AND direction = 'outbound-api'", [callback["id"]])
    assert len(outbound) == 1 and len(outbound_calls_to(server, asker)) == 1  # called back exactly once
    assert outbound[0]["parent_sid"] == booked["call_sid"] and outbound[0]["agent_id"] == agent
    assert outbound[0]["sid"] == callback["placed_call_sid"]
    later_row = server.wait_call(later, timeout=60)
    assert later_row["agent"] == agent
    later_connected = server.query("SELECT connected_at FROM calls WHERE sid = ?", [later])[0]["connected_at"]
    assert later_connected > outbound[0]["connected_at"]  # the callback was served first, in its original place
    assert server.wait_call(first)["agent"] == agent

    context = server.seed(lambda db: call_context(db, outbound[0]["sid"]))
    assert context["call"]["callback_id"] == callback["id"]
    assert context["callback_for"]["sid"] == booked["call_sid"] and context["callback_for"]["started_at"]


@pytest.mark.parametrize("behaviour", ["busy", "no-answer", "voicemail", "fax"])
def test_unreached_customers_are_retried_then_marked_failed(server, staff, behaviour):
    agent, first = busy_agent(server, staff, talk_s=6)
    asker = new_number()
    customer(server, asker, behaviour=behaviour)
    booked = server.call(asker, [{"keys": "2"}, {"keys": "1"}, {"keys": "1"}])
    wait_until(lambda: (callback_of(server, booked["call_sid"]) or {}).get("status") == "failed", timeout=60)
    callback = callback_of(server, booked["call_sid"])
    assert callback["attempts"] == 3 and callback["last_result"] == behaviour
    assert len(outbound_calls_to(server, asker)) == 3
    assert len(server.query("SELECT * FROM queue_items WHERE callback_id = ?", [callback["id"]])) == 0
    assert presence(server, agent) != "break"  # not the agent's fault
    server.wait_call(first)


def test_a_machine_gets_a_message_after_its_greeting_and_an_unsure_detection_asks_for_a_key(server, staff):
    """Answering-machine detection waits for a machine's greeting to end (DetectMessageEnd), so the message is left
    after the beep; when it cannot tell, the person is asked to press 1 before the agent's phone rings."""
    agent, first = busy_agent(server, staff, talk_s=4)
    machine, unsure = new_number(), new_number()
    customer(server, machine, behaviour="voicemail")
    customer(server, unsure, behaviour="unknown", steps=[{"keys": "1"}])
    booked = [server.call(number, [{"keys": "2"}, {"keys": "1"}, {"keys": "1"}]) for number in (machine, unsure)]
    wait_until(lambda: callback_of(server, booked[1]["call_sid"])["status"] == "completed", timeout=40)
    wait_until(lambda: outbound_calls_to(server, machine), timeout=40)

    voicemail = outbound_calls_to(server, machine)[0]
    assert (voicemail["machine_detection"], voicemail["answered_by"]) == ("DetectMessageEnd", "machine_end_beep")
    left = server.sim.get(f"{server.base_url}/sim/calls/{voicemail['sid']}", timeout=5).json()
    assert "Hello, this is Northwind returning your call. We will try again later." in left["heard"]
    assert "bridged" not in [e["kind"] for e in left["events"]]

    person = outbound_calls_to(server, unsure)[0]
    talked = server.sim.get(f"{server.base_url}/sim/calls/{person['sid']}", timeout=5).json()
    assert person["answered_by"] == "unknown"
    assert any("To talk to an agent now, press 1" in line for line in talked["heard"])
    assert talked["agent"] == agent
    server.wait_call(first)
    server.seed(lambda db: service.cancel(db, callback_of(server, booked[0]["call_sid"])["id"], datetime.now(UTC),
                                          reason="test over"))


def test_a_caller_with_a_pending_callback_is_told_and_can_cancel_it(server, staff):
    _, first = busy_agent(server, staff, talk_s=5)
    asker = new_number()
    booked = server.call(asker, [{"keys": "2"}, {"keys": "1"}, {"keys": "1"}])
    again = server.call(asker, [{"keys": "2"}, {"keys": "4"}, {"keys": "9"}])
    assert "You already have a callback booked with us." in " | ".join(again["heard"])
    assert "Your callback is cancelled." in again["heard"]
    assert callback_of(server, booked["call_sid"])["status"] == "cancelled"
    server.wait_call(first)


def test_at_most_the_limit_of_pending_callbacks_per_number(server, staff):
    """MAX_PENDING_CALLBACKS_PER_NUMBER is 2: the third time the caller is not offered another one."""
    _, first = busy_agent(server, staff, talk_s=10)
    asker = new_number()
    server.call(asker, [{"keys": "2"}, {"keys": "1"}, {"keys": "1"}])
    second = server.call(asker, [{"silence": True}, {"keys": "2"}, {"keys": "1"}, {"keys": "1"}])  # stays on the line past the reminder
    assert "Goodbye." in second["heard"][-1]
    third = server.call(asker, [{"silence": True}, {"keys": "2"}], hold_s=2)
    assert not any("To be called back" in h for h in third["heard"])
    pending = server.query("SELECT id FROM callbacks WHERE number = ? AND status = 'pending'", [asker])
    assert len(pending) == 2
    server.wait_call(first)
    for row in pending:  # leave the shared queue as we found it
        server.seed(lambda db, row=row: service.cancel(db, row["id"], datetime.now(UTC), reason="test over"))


def test_a_scheduled_callback_waits_for_its_time(server, staff):
    _, first = busy_agent(server, staff, talk_s=4)
    at = datetime.now(UTC) + timedelta(minutes=30)
    asker = new_number()
    booked = server.call(asker, [{"keys": "2"}, {"keys": "1"}, {"keys": "3"}, {"keys": at.strftime("%H%M")}])
    heard = " | ".join(booked["heard"])
    if at.date() != datetime.now(UTC).date():  # past midnight: "later today" is impossible
        assert "that time is not later today" in heard
        return
    assert f"at {at.strftime('%H:%M')}. You keep your place in line." in heard
    callback = callback_of(server, booked["call_sid"])
    assert callback["status"] == "pending" and callback["scheduled_for"].startswith(at.strftime("%Y-%m-%dT%H:%M"))
    server.wait_call(first)
    time.sleep(3)  # the agent is free again, yet the callback is not placed before its time
    assert callback_of(server, booked["call_sid"])["attempts"] == 0
    server.seed(lambda db: service.cancel(db, callback["id"], datetime.now(UTC), reason="test over"))
