"""Transfers in whole calls through the simulated Twilio: an agent hands the caller to a queue or a colleague, cold
or warm; the caller keeps their place in line and everything they told the IVR, the colleague's screen pop says
who transferred it and why, and a colleague who does not answer sends the caller back, never away."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from playwright.sync_api import expect

from routing import admin
from tests.conftest import ROOT, new_number, wait_until
from tests.web_support import PASSWORD, browser_fixture, now, shot, sign_in, signed_in, start_web_server  # noqa: F401

WAIT_MS = 15_000

TALK_S = 120  # agents talk until the test hangs up their phone
COLLEAGUES = {
    "agents": [
        {"id": "ivan", "name": "Ivan Orlov", "password": PASSWORD, "languages": ["ru", "en"], "skills": {"billing": 3}},
        {"id": "ben", "name": "Ben Carter", "password": PASSWORD, "languages": ["ru", "en"], "skills": {"orders": 4}},
    ],
}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The test server with Olga (billing), Ivan (billing) and Ben (orders); a ring goes unanswered after 4 s."""
    workdir = tmp_path_factory.mktemp("transfers")
    server = start_web_server(workdir, {"RING_TIMEOUT_S": "4"})
    colleagues = workdir / "colleagues.yaml"
    colleagues.write_text(yaml.safe_dump(COLLEAGUES), encoding="utf-8")
    server.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", now()))
    server.seed(lambda db: admin.load_center(db, colleagues, now()))
    yield server
    server.stop()


def agent_row(web, agent_id: str) -> dict:
    return web.query("SELECT * FROM agents WHERE id = ?", [agent_id])[0]


def call_row(web, sid: str) -> dict:
    return web.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]


def transfer_rows(web, sid: str) -> list[dict]:
    return web.query("SELECT * FROM transfers WHERE call_sid = ? ORDER BY id", [sid])


def phone(web, identity: str, **behaviour) -> None:
    settings = {"answers": True, "answer_after_s": 0.3, "talk_s": TALK_S, "manual": False, **behaviour}
    assert web.sim.post(f"{web.base_url}/sim/clients/{identity}", json=settings, timeout=5).status_code == 200


def available(web, agent_id: str):
    session = signed_in(web, agent_id)
    assert session.post("/api/presence", json={"presence": "available"}).status_code == 200
    return session


def talking_to(web, agent_id: str, sid: str) -> bool:
    row = agent_row(web, agent_id)
    return row["presence"] == "busy" and row["current_call_sid"] == sid


def in_room(web, sid: str) -> dict[str, str]:
    found = web.sim.get(f"{web.base_url}/sim/conferences/call-{sid}", timeout=5)
    return {p["call_sid"]: p["to"] for p in found.json()["participants"] if p["in"]} if found.status_code == 200 else {}


def says(web, call_sid: str, text: str) -> set[str]:
    spoken = web.sim.post(f"{web.base_url}/sim/calls/{call_sid}/speak", json={"text": text}, timeout=5)
    assert spoken.status_code == 200, spoken.text
    return set(spoken.json()["heard_by"])


def sim_call(web, sid: str) -> dict:
    return web.sim.get(f"{web.base_url}/sim/calls/{sid}", timeout=5).json()


def events(web, sid: str, kind: str) -> list[dict]:
    return [json.loads(r["data"]) for r in
            web.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = ? ORDER BY id", [sid, kind])]


def hang_up(web, sid: str) -> None:
    if not sim_call(web, sid)["ended"]:
        web.sim.post(f"{web.base_url}/sim/calls/{sid}/hangup", json={}, timeout=5)


@pytest.fixture
def olga_talking(web):
    """A billing caller (pressed 2) talking with Olga; everyone's phone answers; all offline again afterwards."""
    for agent_id in ("olga", "ivan", "ben"):
        phone(web, agent_id)
    olga = available(web, "olga")
    sid = web.start_call(new_number(), [{"keys": "2"}])
    wait_until(lambda: talking_to(web, "olga", sid))
    calls = [sid]
    yield sid, olga, calls
    for call in calls:
        hang_up(web, call)
    for agent_id in ("olga", "ivan", "ben"):
        wait_until(lambda: agent_row(web, agent_id)["presence"] not in ("busy", "reserved"), timeout=30)  # noqa: B023
        signed_in(web, agent_id).post("/api/presence", json={"presence": "offline"})


def test_a_cold_transfer_to_a_queue_keeps_the_callers_place_and_everything_they_said(web, olga_talking):
    sid, olga, calls = olga_talking
    before = call_row(web, sid)
    later = web.start_call(new_number(), [{"keys": "3"}])  # an orders caller who came after ours (nobody serves orders)
    calls.append(later)
    wait_until(lambda: web.query("SELECT state FROM queue_items WHERE id = ?", [later]))

    moved = olga.post(f"/api/calls/{sid}/transfer",
                      json={"to_queue": "orders", "mode": "cold", "note": "wants to change the delivery address"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "ringing" and moved.json()["to_queue"] == "orders"
    wait_until(lambda: web.query("SELECT state FROM queue_items WHERE id = ?", [sid]))
    item = web.query("SELECT * FROM queue_items WHERE id = ?", [sid])[0]
    assert item["queue"] == "orders" and item["entered_at"] == before["queued_at"]  # the place they first had
    sent = json.loads(item["context"])["transfer"]
    assert sent.pop("at") > before["connected_at"]  # (the wait for the next answer starts here)
    assert sent == {"from": "olga", "note": "wants to change the delivery address", "mode": "cold", "from_queue": "billing"}
    assert json.loads(item["context"])["path"] == json.loads(before["path"])
    wait_until(lambda: agent_row(web, "olga")["presence"] in ("wrapup", "available"))
    assert [t["state"] for t in transfer_rows(web, sid)] == ["completed"]
    assert any("transferring your call" in line for line in sim_call(web, sid)["heard"])

    # Ben serves orders: the transferred caller, who first queued earlier, is his before the one who came later.
    ben = available(web, "ben")
    wait_until(lambda: talking_to(web, "ben", sid))
    assert web.query("SELECT state FROM queue_items WHERE id = ?", [later])[0]["state"] == "waiting"
    row = call_row(web, sid)
    assert row["agent_id"] == "ben" and row["queue"] == "orders"
    assert row["routing_reason"].startswith("cold transfer from olga: wants to change the delivery address")
    pop = ben.get(f"/api/calls/{sid}/context").json()
    assert pop["transfer"]["from_agent"] == "olga" and pop["transfer"]["note"] == "wants to change the delivery address"
    assert pop["call"]["path"] == json.loads(before["path"]) and pop["call"]["digits"]  # what they told the IVR
    assert events(web, sid, "sender-left") and events(web, sid, "transferred") == [{"queue": "orders", "from": "olga"}]


def test_a_cold_transfer_to_a_colleague_who_does_not_answer_comes_back_to_the_sender(web, olga_talking):
    sid, olga, _ = olga_talking
    phone(web, "ivan", answers=False)
    available(web, "ivan")
    moved = olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "cold", "note": "billing dispute"})
    assert moved.status_code == 200, moved.text
    wait_until(lambda: sim_call(web, sid)["events"][-1].get("client") == "ivan" or agent_row(web, "ivan")["presence"] == "reserved")
    wait_until(lambda: talking_to(web, "olga", sid), timeout=30)  # Ivan's phone rang out: back to Olga, who answers
    assert agent_row(web, "ivan")["presence"] == "break"  # not ready, as after any ring-no-answer
    assert [t["state"] for t in transfer_rows(web, sid)] == ["no-answer"]
    assert events(web, sid, "transfer-back") == [{"agent": "olga", "colleague": "ivan"}]
    assert not sim_call(web, sid)["ended"]  # the caller was never dropped
    signed_in(web, "ivan").post("/api/presence", json={"presence": "offline"})


def test_a_warm_transfer_consults_the_colleague_with_the_caller_on_hold_then_completes(web, olga_talking):
    sid, olga, _ = olga_talking
    available(web, "ivan")
    moved = olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm", "note": "VIP, double charge"})
    assert moved.status_code == 200, moved.text
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["consulting"])
    olga_leg, ivan_leg = call_row(web, sid)["agent_leg"], transfer_rows(web, sid)[0]["leg_sid"]
    wait_until(lambda: set(in_room(web, sid)) == {olga_leg, ivan_leg})  # the caller is not in the room: on hold
    assert says(web, olga_leg, "this caller was charged twice") == {ivan_leg}
    assert any("bring in a colleague" in line for line in sim_call(web, sid)["heard"])
    assert agent_row(web, "ivan")["presence"] == "busy"
    pop = signed_in(web, "ivan").get(f"/api/calls/{sid}/context")
    assert pop.status_code == 200 and pop.json()["transfer"]["note"] == "VIP, double charge"

    done = olga.post(f"/api/calls/{sid}/transfer/complete")
    assert done.status_code == 200, done.text
    wait_until(lambda: set(in_room(web, sid)) == {sid, ivan_leg})  # the caller with Ivan; Olga left
    assert says(web, sid, "hello?") == {ivan_leg}
    wait_until(lambda: agent_row(web, "olga")["presence"] in ("wrapup", "available"))
    row = call_row(web, sid)
    assert (row["agent_id"], row["agent_leg"]) == ("ivan", ivan_leg)
    assert row["routing_reason"] == "warm transfer from olga: VIP, double charge"
    assert [t["state"] for t in transfer_rows(web, sid)] == ["completed"]

    assert web.sim.post(f"{web.base_url}/sim/clients/ivan/hangup", json={}, timeout=5).status_code == 200
    web.wait_call(sid, 60)
    wait_until(lambda: agent_row(web, "ivan")["presence"] in ("wrapup", "available"))
    assert call_row(web, sid)["outcome"] == "answered"


def test_in_a_room_a_supervisor_listens_without_a_beep_and_a_caller_on_hold_hears_our_hold_music(web, olga_talking):
    """Twilio beeps when someone joins a conference unless told not to, and plays its own music to a participant on
    hold unless given a HoldUrl: a listening supervisor joins silently, and the held caller hears ours."""
    sid, olga, _ = olga_talking
    phone(web, "sam")
    sam = signed_in(web, "sam")
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "listen"}).status_code == 200
    wait_until(lambda: "client:sam" in in_room(web, sid).values())
    available(web, "ivan")
    assert olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm"}).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["consulting"])
    assert transfer_rows(web, sid)[0]["hold"] == "room"  # (the caller was in the room already: held there)
    wait_until(lambda: [e for e in sim_call(web, sid)["events"] if e["kind"] == "hold-music"])
    music = [e for e in sim_call(web, sid)["events"] if e["kind"] == "hold-music"]
    assert music[0]["url"].endswith("/static/hold.wav") and music[0]["status"] == 200
    assert music[0]["content_type"].startswith("audio/") and music[0]["seconds"] > 5
    assert olga.post(f"/api/calls/{sid}/transfer/cancel").status_code == 200
    wait_until(lambda: agent_row(web, "ivan")["presence"] == "available")
    assert says(web, sid, "are you still there?") == {call_row(web, sid)["agent_leg"]} | {
        s for s, to in in_room(web, sid).items() if to == "client:sam"}
    assert [e for e in sim_call(web, sid)["events"] if e["kind"] == "beep"] == []  # nobody announced themselves
    assert sam.post(f"/api/calls/{sid}/monitor", json={"mode": "leave"}).status_code == 200


def test_a_warm_transfer_canceled_takes_the_caller_back_and_frees_the_colleague(web, olga_talking):
    sid, olga, _ = olga_talking
    available(web, "ivan")
    assert olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm"}).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["consulting"])
    canceled = olga.post(f"/api/calls/{sid}/transfer/cancel")
    assert canceled.status_code == 200, canceled.text
    olga_leg = call_row(web, sid)["agent_leg"]
    wait_until(lambda: set(in_room(web, sid)) == {sid, olga_leg})
    assert says(web, sid, "are you still there?") == {olga_leg}
    wait_until(lambda: agent_row(web, "ivan")["presence"] == "available")
    assert [t["state"] for t in transfer_rows(web, sid)] == ["canceled"]
    assert talking_to(web, "olga", sid) and call_row(web, sid)["agent_id"] == "olga"


def test_a_warm_transfer_nobody_answers_brings_the_caller_back_by_itself(web, olga_talking):
    sid, olga, _ = olga_talking
    phone(web, "ivan", answers=False)
    available(web, "ivan")
    assert olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm"}).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["no-answer"], timeout=30)
    olga_leg = call_row(web, sid)["agent_leg"]
    wait_until(lambda: set(in_room(web, sid)) == {sid, olga_leg})
    assert says(web, sid, "hello?") == {olga_leg}
    assert agent_row(web, "ivan")["presence"] == "break"
    signed_in(web, "ivan").post("/api/presence", json={"presence": "offline"})


def test_transfers_refuse_what_cannot_be_done(web, olga_talking):
    sid, olga, _ = olga_talking
    cases = [
        ({"to_queue": "nowhere", "mode": "cold"}, 400), ({"to_agent": "olga", "mode": "cold"}, 400),
        ({"to_agent": "ivan", "mode": "cold"}, 409),  # Ivan is offline
        ({"to_queue": "orders", "mode": "later"}, 400), ({"mode": "cold"}, 400),
        ({"to_queue": "orders", "to_agent": "ivan"}, 400), ({"to_queue": "orders", "mode": "warm"}, 409),  # nobody free
        ({"to_queue": "orders", "note": "x" * 501}, 400),
    ]
    for payload, status in cases:
        answer = olga.post(f"/api/calls/{sid}/transfer", json=payload)
        assert answer.status_code == status, (payload, answer.text)
        assert answer.json()["error"]
    assert olga.post(f"/api/calls/{sid}/transfer/complete").status_code == 409  # none under way
    assert signed_in(web, "ivan").post(f"/api/calls/{sid}/transfer", json={"to_queue": "orders"}).status_code == 409
    assert signed_in(web, "sam").post(f"/api/calls/{sid}/transfer", json={"to_queue": "orders"}).status_code == 403
    assert transfer_rows(web, sid) == [] and talking_to(web, "olga", sid)


def test_the_agent_page_transfers_warm_and_the_colleagues_pop_says_who_and_why(web, browser):
    olga_page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
    ivan_page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
    sign_in(olga_page, web, "olga")
    sign_in(ivan_page, web, "ivan")
    expect(olga_page.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
    expect(ivan_page.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
    for agent_id in ("olga", "ivan"):
        phone(web, agent_id)  # (their pages made their phones manual: these answer by themselves)
        available(web, agent_id)
    sid = web.start_call(new_number(), [{"keys": "2"}])
    wait_until(lambda: talking_to(web, "olga", sid) or talking_to(web, "ivan", sid))
    sender, colleague = ("olga", "ivan") if talking_to(web, "olga", sid) else ("ivan", "olga")
    pages = {"olga": olga_page, "ivan": ivan_page}
    page = pages[sender]
    form = page.locator("#transfer-form")
    name, sender_name = ({"olga": "Olga Smirnova", "ivan": "Ivan Orlov"}[who] for who in (colleague, sender))

    def consult() -> None:
        """The sender asks the colleague first, with a note; the caller waits on hold."""
        page.locator("#transfer-to").select_option(label=f"{name} (available)")
        page.get_by_label("Talk to them first (warm)").check()
        page.get_by_label("Note for whoever takes the call").fill("asks about a double charge")
        form.get_by_role("button", name="Transfer").click()
        expect(page.locator("#consult-status")).to_have_text(f"You are talking with {name}; the caller is on hold.",
                                                             timeout=WAIT_MS)

    try:
        expect(form).to_be_visible(timeout=WAIT_MS)
        consult()
        other = pages[colleague]
        expect(other.locator("#phone-status")).to_contain_text("is telling you about the call", timeout=WAIT_MS)
        expect(other.locator('#pop [data-field="transfer"]')).to_have_text(
            f"by {sender_name} (warm): asks about a double charge", timeout=WAIT_MS)
        page.screenshot(path=str(shot("agent-transfer.png")), full_page=True)

        # Back to the caller: the colleague leaves, the caller is off hold with the sender; then asked again.
        page.get_by_role("button", name="Back to the caller").click()
        expect(page.locator("#consult")).to_be_hidden(timeout=WAIT_MS)
        wait_until(lambda: agent_row(web, colleague)["presence"] == "available" and talking_to(web, sender, sid))
        assert transfer_rows(web, sid)[-1]["state"] == "canceled"
        wait_until(lambda: in_room(web, sid) == {sid: "+15550001000", call_row(web, sid)["agent_leg"]: f"client:{sender}"})
        consult()
        page.get_by_role("button", name="Complete the transfer").click()
        expect(page.locator("#presence")).not_to_have_text("on a call", timeout=WAIT_MS)
        wait_until(lambda: talking_to(web, colleague, sid) and call_row(web, sid)["agent_id"] == colleague)
        expect(other.locator("#consult")).to_be_hidden()
        expect(other.locator("#transfer-form")).to_be_visible(timeout=WAIT_MS)  # they may pass it on in turn
    finally:
        hang_up(web, sid)
        for agent_id in ("olga", "ivan"):
            wait_until(lambda: agent_row(web, agent_id)["presence"] not in ("busy", "reserved"), timeout=30)  # noqa: B023
            signed_in(web, agent_id).post("/api/presence", json={"presence": "offline"})


def test_the_agent_page_sends_a_caller_cold_to_another_queue_with_a_note(web, olga_talking, browser):
    sid, _, _ = olga_talking
    page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
    sign_in(page, web, "olga")
    phone(web, "olga")  # (her page made her phone manual: it talks on by itself here)
    form = page.locator("#transfer-form")
    expect(form).to_be_visible(timeout=WAIT_MS)
    page.locator("#transfer-to").select_option(value="queue:orders")
    page.get_by_label("Send now (cold)").check()
    page.get_by_label("Note for whoever takes the call").fill("wants to change the delivery address")
    form.get_by_role("button", name="Transfer").click()
    expect(page.locator("#presence")).not_to_have_text("on a call", timeout=WAIT_MS)
    available(web, "ben")  # Ben serves orders
    wait_until(lambda: talking_to(web, "ben", sid))
    sent = transfer_rows(web, sid)[-1]
    assert (sent["mode"], sent["to_queue"], sent["from_agent"], sent["note"], sent["state"]) == \
        ("cold", "orders", "olga", "wants to change the delivery address", "completed")
    assert call_row(web, sid)["queue"] == "orders"


def test_the_simulator_cli_scripts_an_agent_who_transfers_and_a_supervisor_who_joins(web):
    """`python -m simulator call --transfer queue:orders --monitor sam:listen,whisper`, as a new user would run it."""
    for agent_id in ("olga", "ben"):
        phone(web, agent_id, talk_s=30)
    phone(web, "sam", talk_s=600)
    olga = available(web, "olga")
    token = web.sim.headers["Authorization"].removeprefix("Bearer ")
    caller = new_number()
    try:
        cli = subprocess.Popen(
            [sys.executable, "-m", "simulator", "call", "--base-url", web.base_url, "--auth-token", token,
             "--from", caller, "--digits", "2", "--monitor", "sam:listen,whisper,leave", "--transfer",
             "queue:orders", "--after", "1", "--password", PASSWORD, "--talk", "12", "--hold", "40"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        transferred = ("SELECT calls.sid FROM transfers JOIN calls ON calls.sid = transfers.call_sid WHERE "
                       "calls.from_number = ? AND from_agent = 'olga' AND to_queue = 'orders' AND state = 'completed'")
        wait_until(lambda: web.query(transferred, [caller]), timeout=60)  # this call's, not an earlier test's
        sid = web.query(transferred, [caller])[0]["sid"]
        # Ben is free once the caller heard why they wait: a redirect to his ring that came before the simulator
        # ran the announcement would replace it, as on Twilio.
        wait_until(lambda: any("transferring your call" in said for said in sim_call(web, sid)["heard"]), timeout=30)
        available(web, "ben")
        out, err = cli.communicate(timeout=90)
    finally:
        olga.post("/api/presence", json={"presence": "offline"})
    assert cli.returncode == 0, err
    lines = out.splitlines()
    for said in ("supervisor sam listen: 200 listen", "supervisor sam whisper: 200 whisper", "supervisor sam leave: 200 leave",
                 "agent olga transfers cold to queue orders: 200 ringing"):
        assert any(line.strip() == said for line in lines), (said, out)
    assert any("talking  with olga" in line for line in lines) and any("talking  with ben" in line for line in lines)
    assert any("heard    Please hold: I am transferring your call." in line for line in lines)
    for agent_id in ("olga", "ben"):
        wait_until(lambda: agent_row(web, agent_id)["presence"] not in ("busy", "reserved"), timeout=30)  # noqa: B023
        signed_in(web, agent_id).post("/api/presence", json={"presence": "offline"})


def test_a_caller_who_hangs_up_on_hold_ends_the_consultation_and_frees_both_agents(web, olga_talking):
    sid, olga, _ = olga_talking
    available(web, "ivan")
    assert olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm"}).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["consulting"])
    hang_up(web, sid)  # tired of the hold music
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["canceled"])
    wait_until(lambda: in_room(web, sid) == {})  # the room ended: both agents are out of it
    wait_until(lambda: agent_row(web, "ivan")["presence"] == "available"
               and agent_row(web, "olga")["presence"] in ("wrapup", "available"))
    assert events(web, sid, "transfer-ended") == [{"why": "the caller hung up on hold", "to_agent": "ivan"}]
    signed_in(web, "ivan").post("/api/presence", json={"presence": "offline"})


def test_a_sender_who_hangs_up_during_a_warm_transfer_leaves_the_caller_in_line_not_dropped(web, olga_talking):
    sid, olga, _ = olga_talking
    available(web, "ivan")
    assert olga.post(f"/api/calls/{sid}/transfer", json={"to_agent": "ivan", "mode": "warm"}).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["consulting"])
    assert web.sim.post(f"{web.base_url}/sim/clients/olga/hangup", json={}, timeout=5).status_code == 200
    wait_until(lambda: [t["state"] for t in transfer_rows(web, sid)] == ["canceled"])
    wait_until(lambda: talking_to(web, "ivan", sid) or talking_to(web, "olga", sid), timeout=30)  # answered again
    assert not sim_call(web, sid)["ended"]
    assert events(web, sid, "transfer-back")[-1] == {"queue": "billing", "why": "the sender left before it completed"}
    signed_in(web, "ivan").post("/api/presence", json={"presence": "offline"})
