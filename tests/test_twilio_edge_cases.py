"""Twilio's unpleasant cases, as its documentation gives them, each produced by the simulator or sent as Twilio
sends it: the caller hangs up while the agent's phone rings, a replayed step of a finished call, QueueResult
values other than hangup, and numeric fields written in other scripts' digits."""

from __future__ import annotations

import json

import pytest

from routing import admin, service
from store import routing as routing_store
from tests.conftest import ROOT, heard_in, new_number, new_sid, presence, signed_post, wait_until


@pytest.fixture
def center(app):
    """The test center with one available agent, Ann (billing, English)."""
    db = app.services.store.db()
    for name in ("center.yaml", "one_agent.yaml"):
        admin.load_center(db, ROOT / "tests" / "data" / name, app.services.clock())
    return db


def queued_call(client, number="+12025550147") -> dict[str, str]:
    """A caller who pressed 2 (billing) and waits in the queue."""
    call = {"CallSid": new_sid(), "From": number, "To": "+15550001000"}
    assert signed_post(client, "/voice/incoming", call).status_code == 200
    assert b"<Enqueue" in signed_post(client, "/voice/step/main_menu?attempt=1", {**call, "Digits": "2"}).data
    return call


def offered(app, db, call) -> str:
    """Routing offers the call to Ann; the query string of the Dial's webhooks."""
    offer = service.dispatch(db, app.services.clock())[0]
    assert (offer.call_sid, offer.agent_id) == (call["CallSid"], "ann")
    return f"item={offer.item_id}&agent=ann"


def call_row(db, sid):
    row = db["calls"].get(sid)
    return {**row, "path": json.loads(row["path"])}


# --- numbers in other scripts --------------------------------------------------------------------


@pytest.mark.parametrize(("path", "field", "value"), [
    ("/voice/status", "CallDuration", "²"),
    ("/voice/status", "CallDuration", "٣"),
    ("/voice/queue/wait?queue=billing", "QueueTime", "²"),
    ("/voice/step/main_menu?attempt=1", "Digits", "٣"),
])
def test_digits_of_other_scripts_in_numeric_fields_are_a_clear_400(client, center, path, field, value):
    call = queued_call(client)
    response = signed_post(client, path, {**call, "CallStatus": "completed", field: value})
    assert response.status_code == 400
    assert field in response.json["error"]


def test_a_unicode_attempt_in_the_query_string_is_a_clear_400(client, center):
    call = queued_call(client)
    response = signed_post(client, "/voice/step/main_menu?attempt=²", {**call, "Digits": "1"})
    assert response.status_code == 400 and "attempt" in response.json["error"]


# --- a replayed step of a finished call ----------------------------------------------------------


def test_a_replayed_step_of_a_finished_call_changes_nothing(client, center):
    call = {"CallSid": new_sid(), "From": "+12025550147"}
    signed_post(client, "/voice/incoming", call)
    step = {**call, "Digits": "2"}
    signed_post(client, "/voice/step/main_menu?attempt=1", step)
    signed_post(client, "/voice/status", {**call, "CallStatus": "completed"})
    before = call_row(center, call["CallSid"])
    assert before["outcome"] == "abandoned" and routing_store.item(center, call["CallSid"]) is None

    again = signed_post(client, "/voice/step/main_menu?attempt=1", step)  # the same signed request, once more

    assert again.status_code == 200 and b"<Hangup" in again.data and b"<Enqueue" not in again.data
    assert routing_store.item(center, call["CallSid"]) is None
    assert call_row(center, call["CallSid"]) == before


# --- QueueResult ------------------------------------------------------------------------------------


def test_redirected_out_of_the_queue_to_ring_an_agent_changes_nothing(app, client, center):
    call = queued_call(client)
    offered(app, center, call)

    response = signed_post(client, "/voice/queue/result", {**call, "QueueResult": "redirected", "QueueTime": "3"})

    assert response.status_code == 200 and b"<Hangup" not in response.data
    assert routing_store.item(center, call["CallSid"])["state"] == "offered"
    assert call_row(center, call["CallSid"])["outcome"] is None


@pytest.mark.parametrize("result", ["queue-full", "error", "system-error"])
def test_a_caller_twilio_could_not_queue_is_told_offered_a_callback_and_keeps_waiting(app, client, center, result):
    call = queued_call(client)
    center.execute("UPDATE agents SET presence = 'offline'")

    response = signed_post(client, "/voice/queue/result", {**call, "QueueResult": result})

    body = response.data.decode()
    heard = heard_in(app, body)
    assert "Our lines are very busy" in heard
    assert "To be called back when it is your turn" in heard and "/voice/callback/offer" in body
    assert "/voice/queue/hold?queue=billing</Redirect>" in body
    assert routing_store.item(center, call["CallSid"])["state"] == "waiting"  # the place in line is kept
    held = signed_post(client, "/voice/queue/hold?queue=billing", call).data.decode()
    assert "hold.wav" in held and "/voice/queue/hold?queue=billing&amp;held=10</Redirect>" in held


def test_an_unknown_queue_result_is_a_clear_400(client, center):
    call = queued_call(client)
    response = signed_post(client, "/voice/queue/result", {**call, "QueueResult": "exploded"})
    assert response.status_code == 400 and "QueueResult" in response.json["error"]


# --- the caller hangs up while the agent's phone rings ---------------------------------------------


@pytest.mark.parametrize("dial_status", ["no-answer", "canceled"])
def test_a_caller_who_hangs_up_while_the_agent_rings_does_not_put_the_agent_on_a_break(app, client, center, dial_status):
    call = queued_call(client)
    query = offered(app, center, call)
    signed_post(client, f"/voice/connect?{query}", call)

    response = signed_post(client, f"/voice/connect/result?{query}",
                           {**call, "CallStatus": "completed", "DialCallStatus": dial_status})

    assert response.status_code == 200
    ann = routing_store.agent(center, "ann")
    assert (ann["presence"], ann["not_ready_reason"]) == ("available", None)
    assert routing_store.item(center, call["CallSid"]) is None
    assert call_row(center, call["CallSid"])["outcome"] == "abandoned"


def test_an_agent_who_does_not_answer_while_the_caller_waits_is_not_ready(app, client, center):
    call = queued_call(client)
    query = offered(app, center, call)

    response = signed_post(client, f"/voice/connect/result?{query}",
                           {**call, "CallStatus": "in-progress", "DialCallStatus": "no-answer"})

    assert b"<Enqueue" in response.data  # back in line, at the same place
    ann = routing_store.agent(center, "ann")
    assert (ann["presence"], ann["not_ready_reason"]) == ("break", "ring-no-answer")
    assert routing_store.item(center, call["CallSid"])["state"] == "waiting"


# --- the same, in whole calls through the simulator ------------------------------------------------


def test_whole_call_hanging_up_while_the_agent_rings(server, staff):
    agent = staff("slow", ["en"], {"billing": 5}, answer_after_s=30)
    result = server.call(new_number(), [{"keys": "2"}], hold_s=30, ring_patience_s=1)

    kinds = [e["kind"] for e in result["events"]]
    assert "ringing" in kinds and {"kind": "caller-hangup", "where": "ringing"}.items() <= next(
        e for e in result["events"] if e["kind"] == "caller-hangup").items()
    assert "bridged" not in kinds
    wait_until(lambda: presence(server, agent) != "reserved")
    assert presence(server, agent) == "available"
    row = server.query("SELECT outcome FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["outcome"] == "abandoned"
    assert server.query("SELECT count(*) AS n FROM queue_items WHERE call_sid = ?", [result["call_sid"]])[0]["n"] == 0


def test_whole_call_replaying_a_step_after_the_call_ended(server):
    result = server.call(new_number(), [{"keys": "2"}], hold_s=0.5)
    row = server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["outcome"] == "abandoned"

    replayed = server.sim.post(f"{server.base_url}/sim/calls/{result['call_sid']}/replay",
                             json={"matching": "/voice/step/"}, timeout=10).json()

    assert replayed["status"] == 200 and "<Hangup" in replayed["body"] and "<Enqueue" not in replayed["body"]
    assert server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]])[0] == row
    assert server.query("SELECT count(*) AS n FROM queue_items WHERE call_sid = ?", [result["call_sid"]])[0]["n"] == 0


@pytest.mark.parametrize("failure", [{"max_size": 0}, {"fails": "system-error"}])
def test_whole_call_a_queue_twilio_will_not_take_still_reaches_an_agent(server, staff, failure):
    agent = staff("late", ["en"], {"support": 5})
    server.seed(lambda db: service.set_presence(db, agent, "break", server_now(), reason="test"))
    assert server.sim.post(f"{server.base_url}/sim/queues/support", json=failure, timeout=5).status_code == 200
    try:
        sid = server.start_call(new_number(), [{"keys": "3"}], hold_s=30)
        # the agent is back only once the caller has been told (a dispatch racing the <Enqueue> action skips the words)
        wait_until(lambda: any(e["kind"] == "queue-refused" for e in sim_events(server, sid)))
        wait_until(lambda: any(e["kind"] in ("say", "play") and "Our lines are very busy" in e["text"]
                               for e in sim_events(server, sid)))
        server.seed(lambda db: service.set_presence(db, agent, "available", server_now()))
        result = server.wait_call(sid)
    finally:
        server.sim.post(f"{server.base_url}/sim/queues/support", json={}, timeout=5)
    assert result["agent"] == agent


def test_whole_call_the_redirect_to_the_agent_tells_the_queue_action_redirected(server, staff):
    agent = staff("quick", ["en"], {"orders": 5})
    server.seed(lambda db: service.set_presence(db, agent, "break", server_now(), reason="test"))
    sid = server.start_call(new_number(), [{"keys": "1"}, {"keys": "0"}], hold_s=30)
    wait_until(lambda: any(e["kind"] == "enqueue" for e in sim_events(server, sid)))  # in Twilio's queue now
    server.seed(lambda db: service.set_presence(db, agent, "available", server_now()))
    result = server.wait_call(sid)
    assert result["agent"] == agent
    events = server.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = 'left-queue'", [sid])
    assert [json.loads(e["data"])["result"] for e in events] == ["redirected"]
    assert server.query("SELECT outcome FROM calls WHERE sid = ?", [sid])[0]["outcome"] == "answered"


def sim_events(server, sid):
    return server.sim.get(f"{server.base_url}/sim/calls/{sid}", timeout=5).json()["events"]


def server_now():
    from core.clock import utcnow

    return utcnow()
