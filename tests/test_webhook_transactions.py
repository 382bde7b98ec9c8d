"""Each webhook is one transition applied in one write transaction (or none, when it only reads); what it reads to
decide comes before, in a read-only snapshot (a SAVEPOINT, which takes no write lock).

Counted with SQLite's trace callback on the connection the webhooks use, for every kind of webhook Twilio
sends in a call's life: incoming, menu step, queue wait, the step a Media Streams turn's decision redirects to, the
agent's leg, the Dial action, a survey step, the status callback, and the callback offer.
"""

from __future__ import annotations

import re

import pytest

from routing import admin, service
from store import routing as routing_store
from tests.conftest import ROOT, heard_in, new_sid, signed_post

pytestmark = pytest.mark.sqlite_only(reason="the write-transaction count per webhook is read with SQLite's trace callback")

KO_CALLER = "+15551230099"


@pytest.fixture
def traced(app):
    """The statements the next request runs, on the thread's connection the test client's requests use."""
    store = app.services.store
    admin.load_center(store.db(), ROOT / "tests" / "data" / "center.yaml", app.services.clock())
    admin.load_center(store.db(), ROOT / "tests" / "data" / "one_agent.yaml", app.services.clock())
    store.db().execute("INSERT INTO callers (number, language) VALUES (?, 'ko')", [KO_CALLER])
    statements: list[str] = []
    store.db().conn.set_trace_callback(statements.append)
    yield statements
    store.db().conn.set_trace_callback(None)


def post(client, statements, path, params):
    statements.clear()
    response = signed_post(client, path, params)
    assert response.status_code in (200, 204), response.data[:300]
    writes = sum(1 for s in statements if s.strip().upper().startswith("BEGIN"))
    reads = before_write(statements)
    assert all(s.startswith(("SELECT", "SAVEPOINT snapshot", "RELEASE snapshot")) for s in reads), (path, reads)
    return response.data.decode(), writes


def before_write(statements):
    """What a webhook ran before its write transaction: reads only (in a read-only snapshot)."""
    begins = [i for i, s in enumerate(statements) if s.upper().startswith("BEGIN")]
    return statements[: begins[0]] if begins else statements


def action_of(twiml: str, tag: str) -> str:
    return re.search(rf'<{tag}[^>]*action="([^"]+)"', twiml).group(1).replace("&amp;", "&").removeprefix("http://127.0.0.1:5000")


def test_every_webhook_of_a_call_writes_in_one_transaction_or_none(app, client, traced):
    sid = new_sid()
    base = {"CallSid": sid, "From": "+15551230001", "To": "+15550001000"}
    writes = {}
    twiml, writes["incoming"] = post(client, traced, "/voice/incoming", {**base, "CallStatus": "ringing"})
    twiml, writes["menu step"] = post(client, traced, action_of(twiml, "Gather"), {**base, "Digits": "2"})
    assert "<Enqueue" in twiml
    _, writes["queue wait"] = post(client, traced, "/voice/queue/wait?queue=billing", {**base, "QueueTime": "0"})
    db = app.services.store.db()
    offer = service.dispatch(db, app.services.clock())[0]
    query = f"item={offer.item_id}&agent={offer.agent_id}"
    twiml, writes["connect"] = post(client, traced, f"/voice/connect?{query}", base)
    assert "<Dial" in twiml
    leg = {"CallSid": new_sid(), "ParentCallSid": sid}
    _, writes["agent leg ringing"] = post(client, traced, f"/voice/connect/agent?{query}", {**leg, "CallStatus": "ringing"})
    _, writes["agent leg answered"] = post(client, traced, f"/voice/connect/agent?{query}", {**leg, "CallStatus": "in-progress"})
    twiml, writes["Dial action"] = post(client, traced, f"/voice/connect/result?{query}",
                                        {**base, "CallStatus": "in-progress", "DialCallStatus": "completed"})
    twiml, writes["survey step"] = post(client, traced, action_of(twiml, "Gather"), {**base, "Digits": "5"})
    _, writes["status"] = post(client, traced, "/voice/status", {**base, "CallStatus": "completed", "CallDuration": "42"})

    ko = {"CallSid": new_sid(), "From": KO_CALLER, "To": "+15550001000"}
    twiml, _ = post(client, traced, "/voice/incoming", ko)
    stream_step = re.search(r"<Redirect>([^<]+via=stream)</Redirect>", twiml).group(1)
    twiml, writes["stream decision"] = post(client, traced, stream_step.replace("&amp;", "&").removeprefix(
        "http://127.0.0.1:5000"), ko)

    waiting = {"CallSid": new_sid(), "From": "+12025550147"}
    post(client, traced, "/voice/incoming", waiting)
    post(client, traced, "/voice/step/main_menu?attempt=1", {**waiting, "Digits": "3"})
    _, writes["callback offer"] = post(client, traced, "/voice/callback/offer", {**waiting, "Digits": "1"})
    twiml, writes["callback booked"] = post(client, traced, "/voice/callback/number?step=choose", {**waiting, "Digits": "1"})
    assert "We will call you back" in heard_in(app, twiml) and db["callbacks"].count == 1
    gone = {"CallSid": new_sid(), "From": "+12025550148"}
    post(client, traced, "/voice/incoming", gone)
    post(client, traced, "/voice/step/main_menu?attempt=1", {**gone, "Digits": "3"})
    _, writes["queue result"] = post(client, traced, "/voice/queue/result", {**gone, "QueueResult": "hangup"})

    assert {kind: n for kind, n in writes.items() if n > 1} == {}
    reading = {"queue wait", "connect", "callback offer"}
    assert {kind for kind, n in writes.items() if n == 0} == reading
    assert routing_store.agent(db, offer.agent_id)["presence"] in ("wrapup", "available")


def test_the_webhooks_of_a_call_an_agent_placed_write_in_one_transaction_each(app, client, traced):
    db, now = app.services.store.db(), app.services.clock()
    agent = "ann"  # (available: tests/data/one_agent.yaml)
    service.reserve_for_outbound(db, agent, None, now)
    sid = new_sid()
    service.outbound_placed(db, agent, sid)
    call = {"CallSid": sid, "From": "+15550001000", "To": f"client:{agent}", "CallStatus": "in-progress"}
    writes = {}
    twiml, writes["agent answered"] = post(client, traced, f"/voice/outbound/connect?agent={agent}&to=%2B12025550149", call)
    assert "<Number>+12025550149</Number>" in twiml
    _, writes["Dial action"] = post(client, traced, f"/voice/outbound/result?agent={agent}",
                                    {**call, "DialCallStatus": "completed", "DialCallDuration": "30"})
    _, writes["status"] = post(client, traced, "/voice/status", {**call, "CallStatus": "completed", "CallDuration": "31"})
    assert writes == {"agent answered": 1, "Dial action": 1, "status": 1}
    assert routing_store.agent(db, agent)["presence"] in ("wrapup", "available")
