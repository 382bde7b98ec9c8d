"""A supervisor listens to, whispers to and barges into a live call, in whole calls through the simulated Twilio.

The agent's bridge moves into the call's conference when the supervisor joins; the simulator's conference writes
into each call's log what it heard, so these tests check who heard whom: listening, nobody hears the supervisor;
whispering, only the agent; barging, everyone. Every session is an event on the call with who and when."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from services.config import LOCAL_ACCOUNT_SID
from telephony.exceptions import CallNotInProgress
from telephony.twilio_rest import TwilioTelephony
from tests.conftest import new_number, wait_until
from tests.web_support import browser_fixture, shot, sign_in, signed_in, web_fixture  # noqa: F401 (fixtures browser, web)

WAIT_MS = 15_000

TALK_S = 120  # the agent talks until the test hangs up her phone


def agent_row(web, agent_id: str) -> dict:
    return web.query("SELECT * FROM agents WHERE id = ?", [agent_id])[0]


def call_row(web, sid: str) -> dict:
    return web.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]


def phone(web, identity: str, **behaviour) -> None:
    settings = {"answers": True, "answer_after_s": 0.2, "talk_s": TALK_S, "manual": False, **behaviour}
    assert web.sim.post(f"{web.base_url}/sim/clients/{identity}", json=settings, timeout=5).status_code == 200


def room(web, sid: str) -> dict:
    found = web.sim.get(f"{web.base_url}/sim/conferences/call-{sid}", timeout=5)
    return found.json() if found.status_code == 200 else {"participants": [], "status": None}


def in_room(web, sid: str) -> dict[str, str]:
    """Who is in the call's conference now: call SID → who (caller, the agent's client, the supervisor's)."""
    return {p["call_sid"]: p["to"] for p in room(web, sid)["participants"] if p["in"]}


def says(web, call_sid: str, text: str) -> set[str]:
    """The person on ``call_sid`` says ``text`` in the conference: the calls that heard it."""
    spoken = web.sim.post(f"{web.base_url}/sim/calls/{call_sid}/speak", json={"text": text}, timeout=5)
    assert spoken.status_code == 200, spoken.text
    return set(spoken.json()["heard_by"])


def heard(web, call_sid: str) -> list[str]:
    return [e["text"] for e in web.sim.get(f"{web.base_url}/sim/calls/{call_sid}", timeout=5).json()["events"]
            if e["kind"] == "hears"]


def events(web, sid: str, kind: str) -> list[dict]:
    return [json.loads(r["data"]) for r in web.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = ? ORDER BY id",
                                                       [sid, kind])]


@pytest.fixture
def talking(web):
    """A billing caller talking with Olga; Sam's phone answers monitoring calls at once."""
    olga = signed_in(web, "olga")
    phone(web, "olga")
    phone(web, "sam", talk_s=600)
    assert olga.post("/api/presence", json={"presence": "available"}).status_code == 200
    sid = web.start_call(new_number(), [{"keys": "2"}])
    wait_until(lambda: agent_row(web, "olga")["presence"] == "busy" and agent_row(web, "olga")["current_call_sid"] == sid)
    yield sid, olga
    if not web.sim.get(f"{web.base_url}/sim/calls/{sid}", timeout=5).json()["ended"]:
        web.sim.post(f"{web.base_url}/sim/calls/{sid}/hangup", json={}, timeout=5)
    wait_until(lambda: agent_row(web, "olga")["presence"] not in ("busy", "reserved"))
    olga.post("/api/presence", json={"presence": "offline"})


def test_a_supervisor_listens_then_whispers_then_barges_and_each_is_heard_by_the_right_people(web, talking):
    sid, _ = talking
    sam = signed_in(web, "sam")
    started = sam.post(f"/api/calls/{sid}/monitor", json={"mode": "listen"})
    assert started.status_code == 200, started.text
    assert started.json() == {"call_sid": sid, "mode": "listen", "agent": "olga"}

    wait_until(lambda: len(in_room(web, sid)) == 3)  # caller, agent (moved from the Dial) and supervisor
    people = in_room(web, sid)
    agent_leg = call_row(web, sid)["agent_leg"]
    sam_leg = next(s for s, to in people.items() if to == "client:sam")
    assert people[sid] == "+15550001000" and people[agent_leg] == "client:olga"
    wait_until(lambda: web.query("SELECT joined_at FROM monitors WHERE call_sid = ?", [sid])[0]["joined_at"])

    # Listening: the supervisor hears both sides; nobody hears the supervisor.
    assert says(web, sid, "I was charged twice") == {agent_leg, sam_leg}
    assert says(web, agent_leg, "Let me look at that") == {sid, sam_leg}
    assert says(web, sam_leg, "listening only") == set()
    assert agent_row(web, "olga")["presence"] == "busy"

    # Whispering: only the agent hears the supervisor; the caller still hears the agent.
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "whisper"}).status_code == 200
    wait_until(lambda: says(web, sam_leg, "offer the refund") == {agent_leg})
    assert says(web, agent_leg, "I can refund it") == {sid, sam_leg}

    # Barging: three parties, everyone hears everyone.
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "barge"}).status_code == 200
    wait_until(lambda: says(web, sam_leg, "I am the supervisor, the refund is approved") == {sid, agent_leg})
    assert "offer the refund" not in heard(web, sid) and "offer the refund" in heard(web, agent_leg)
    assert "I am the supervisor, the refund is approved" in heard(web, sid)

    # Leaving: the supervisor's leg ends; caller and agent go on talking.
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "leave"}).status_code == 200
    wait_until(lambda: set(in_room(web, sid)) == {sid, agent_leg})
    wait_until(lambda: web.query("SELECT ended_at FROM monitors WHERE call_sid = ?", [sid])[0]["ended_at"])
    assert says(web, sid, "thank you") == {agent_leg}

    modes = [(e["supervisor"], e["mode"]) for e in events(web, sid, "monitor")]
    assert modes == [("sam", "listen"), ("sam", "whisper"), ("sam", "barge"), ("sam", "leave")]
    assert events(web, sid, "monitor-joined") == [{"supervisor": "sam", "mode": "listen"}]
    wait_until(lambda: events(web, sid, "monitor-ended"))

    # The agent hangs up: the room ends, the caller's call goes on to its end, the agent wraps up with talk time.
    assert web.sim.post(f"{web.base_url}/sim/clients/olga/hangup", json={}, timeout=5).status_code == 200
    ended = web.wait_call(sid, 60)
    assert ended["agent"] == "olga"
    wait_until(lambda: agent_row(web, "olga")["presence"] in ("wrapup", "available"))
    row = call_row(web, sid)
    assert row["outcome"] == "answered" and row["talk_s"] and row["conference"] is None  # (the room is over)
    room_events = events(web, sid, "conference")
    assert sorted(e["who"] for e in room_events if e["event"] == "participant-join") == ["agent", "caller", "supervisor sam"]
    assert {e["conference"][:2] for e in room_events} == {"CF"} and "conference-end" in [e["event"] for e in room_events]


def test_monitoring_is_for_supervisors_on_calls_someone_is_talking_on(web, talking):
    sid, olga = talking
    refused = olga.post(f"/api/calls/{sid}/monitor", json={"mode": "listen"})
    assert refused.status_code == 403
    sam = signed_in(web, "sam")
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "eavesdrop"}).status_code == 400
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "leave"}).status_code == 409  # not monitoring it
    assert sam.post("/api/calls/CA" + "0" * 32 + "/monitor", json={"mode": "listen"}).status_code == 404
    waiting = web.start_call(new_number(), [{"keys": "1"}], hold_s=30)  # nobody takes this one (olga is busy)
    wait_until(lambda: web.query("SELECT queue FROM calls WHERE sid = ?", [waiting]) and call_row(web, waiting)["queue"])
    not_talking = sam.post(f"/api/calls/{waiting}/monitor", json={"mode": "listen"})
    assert not_talking.status_code == 409 and "nobody is talking" in not_talking.json()["error"]
    assert events(web, sid, "monitor") == []
    assert web.query("SELECT * FROM monitors WHERE call_sid IN (?, ?)", [sid, waiting]) == []
    web.sim.post(f"{web.base_url}/sim/calls/{waiting}/hangup", json={}, timeout=5)


def test_a_room_is_addressed_by_its_sid_as_on_twilio_and_a_friendly_name_is_looked_up(web, talking):
    """Twilio's Conference and Participant resources take the conference's SID (only a Participants create names it by
    its friendly name): the simulator refuses the name there, and the adapter finds the live room of that name (a room
    whose status callback has not told us its SID yet)."""
    sid, _ = talking
    sam = signed_in(web, "sam")
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "listen"}).status_code == 200
    wait_until(lambda: len(in_room(web, sid)) == 3)
    token = web.sim.headers["Authorization"].removeprefix("Bearer ")
    rest = f"{web.base_url}/sim/twilio/2010-04-01/Accounts/{LOCAL_ACCOUNT_SID}/Conferences"
    by_name = requests.post(f"{rest}/call-{sid}/Participants/sam.json", data={"Muted": "false"},
                            auth=(LOCAL_ACCOUNT_SID, token), timeout=5)
    assert by_name.status_code == 404 and by_name.json()["code"] == 20404
    assert call_row(web, sid)["conference"] == room(web, sid)["sid"]  # (learned from the participant or the room)

    platform = TwilioTelephony(LOCAL_ACCOUNT_SID, token, api_base_url=f"{web.base_url}/sim/twilio")
    platform.update_participant(f"call-{sid}", "sam", muted=False)
    assert next(p for p in room(web, sid)["participants"] if p["label"] == "sam")["muted"] is False
    with pytest.raises(CallNotInProgress, match="no live conference named call-CAnone"):
        platform.end_conference("call-CAnone")
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "leave"}).status_code == 200


def test_the_supervisor_page_listens_whispers_and_leaves_and_the_agent_page_says_who_coaches(web, talking, browser):
    sid, _ = talking
    agent = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    supervisor = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(agent, web, "olga")
    phone(web, "olga")  # (her page made her phone manual: it still talks on by itself here)
    sign_in(supervisor, web, "sam")
    expect(supervisor.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
    row = supervisor.locator('#agents tr[data-agent="olga"]')
    listen, whisper, leave = (row.get_by_role("button", name=n) for n in ("Listen", "Whisper", "Leave"))
    expect(listen).to_be_enabled(timeout=WAIT_MS)
    expect(leave).to_be_disabled()

    listen.click()
    expect(listen).to_have_attribute("aria-pressed", "true", timeout=WAIT_MS)
    expect(supervisor.locator("#monitor-status")).to_have_text("Listening to the call of Olga Smirnova: nobody hears you.")
    wait_until(lambda: "client:sam" in in_room(web, sid).values())
    expect(agent.locator("#supervisor-on-line")).to_be_hidden()  # listening is not shown to the agent

    whisper.click()
    expect(whisper).to_have_attribute("aria-pressed", "true", timeout=WAIT_MS)
    expect(agent.locator("#supervisor-on-line")).to_have_text("Sam Rivera is coaching you: only you hear them", timeout=WAIT_MS)
    sam_leg = next(s for s, to in in_room(web, sid).items() if to == "client:sam")
    wait_until(lambda: says(web, sam_leg, "ask for the order number") == {call_row(web, sid)["agent_leg"]})
    supervisor.screenshot(path=str(shot("supervisor-monitor.png")), full_page=True)

    barge = row.get_by_role("button", name="Barge")
    barge.click()
    expect(barge).to_have_attribute("aria-pressed", "true", timeout=WAIT_MS)
    expect(supervisor.locator("#monitor-status")).to_have_text("In the call of Olga Smirnova: the caller hears you too.")
    expect(agent.locator("#supervisor-on-line")).to_have_text("Sam Rivera has joined the call: the caller hears them too",
                                                              timeout=WAIT_MS)
    wait_until(lambda: says(web, sam_leg, "your refund is approved") == {sid, call_row(web, sid)["agent_leg"]})

    leave.click()
    expect(leave).to_be_disabled(timeout=WAIT_MS)
    expect(agent.locator("#supervisor-on-line")).to_be_hidden(timeout=WAIT_MS)
    wait_until(lambda: "client:sam" not in in_room(web, sid).values())
