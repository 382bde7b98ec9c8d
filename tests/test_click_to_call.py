"""Click-to-call in whole calls: an available agent asks for a call to a customer; the simulated Twilio rings the
agent's softphone, and once the agent answers dials the customer with our caller ID. The call is a call row like any
other (outcome, notes, disposition) and counts in the agent's figures."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from store import voicemails
from tests import lifecycle
from tests.conftest import new_number, wait_until
from tests.web_support import browser_fixture, sign_in, signed_in, web_fixture  # noqa: F401 (fixtures browser, web)

WAIT_MS = 15_000

OUR_NUMBER = "+15550001000"  # CALLBACK_CALLER_ID of the test server


@pytest.fixture
def olga(web):
    """Olga signed in and available, her softphone answering at once; offline again afterwards."""
    session = signed_in(web, "olga")
    assert web.sim.post(f"{web.base_url}/sim/clients/olga", json={"answers": True, "answer_after_s": 0.2, "manual": False},
                        timeout=5).status_code == 200
    assert session.post("/api/presence", json={"presence": "available"}).status_code == 200
    yield session
    wait_until(lambda: presence(web) not in ("reserved", "busy"))
    session.post("/api/presence", json={"presence": "offline"})


def presence(web) -> str:
    return web.query("SELECT presence FROM agents WHERE id = 'olga'")[0]["presence"]


def customer(web, behaviour: str, talk_s: float = 1.0) -> str:
    number = new_number()
    web.sim.post(f"{web.base_url}/sim/customers/{number}", json={"behaviour": behaviour, "talk_s": talk_s}, timeout=5)
    return number


def call_row(web, sid: str) -> dict:
    return web.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]


def test_an_agent_calls_a_customer_who_answers_and_the_call_is_kept_like_any_other(web, olga):
    number = customer(web, "answer", talk_s=2)
    placed = olga.post("/api/calls/outbound", json={"to": number})
    assert placed.status_code == 201, placed.text
    sid = placed.json()["call_sid"]

    ended = web.wait_call(sid, 30)
    events = ended["events"]
    assert ended["to"] == "client:olga" and ended["agent"] == "olga"  # her phone rang first…
    dialled = next(e for e in events if e["kind"] == "ringing" and e.get("number"))
    assert dialled["number"] == number and dialled["caller_id"] == OUR_NUMBER  # …then the customer's, with our number
    assert any(e["kind"] == "bridged" and e.get("number") == number for e in events)

    wait_until(lambda: call_row(web, sid)["ended_at"] is not None)
    row = call_row(web, sid)
    assert (row["direction"], row["agent_id"], row["to_number"], row["outcome"]) == ("outbound-agent", "olga", number, "answered")
    assert row["talk_s"] == 2 and row["connected_at"]
    caller = web.query("SELECT number FROM callers WHERE id = ?", [row["caller_id"]])[0]
    assert caller["number"] == number  # the customer's history has it
    wait_until(lambda: presence(web) == "available")  # no queue given: no wrap-up

    saved = olga.post(f"/api/calls/{sid}/wrapup", json={"notes": "Confirmed the delivery address.", "disposition": "resolved"})
    assert saved.status_code == 200
    pop = olga.get(f"/api/calls/{sid}/context").json()
    assert pop["call"]["notes"] == "Confirmed the delivery address." and pop["caller"]["number"] == number

    today = datetime.now(UTC).date()
    days = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"  # (whatever the center's time zone)
    report = signed_in(web, "sam").get(f"/api/reports/intervals?{days}&interval=day&by=agent&format=json")
    assert report.status_code == 200, report.text
    mine = [r for r in report.json()["rows"] if r["agent"] == "olga"]
    assert sum(r["outbound"] for r in mine) >= 1 and sum(r["handled"] for r in mine) >= 1


@pytest.mark.parametrize("behaviour", ["busy", "no-answer"])
def test_a_customer_who_is_not_reached_is_the_calls_outcome_and_the_agent_is_free_again(web, olga, behaviour):
    placed = olga.post("/api/calls/outbound", json={"to": customer(web, behaviour)})
    sid = placed.json()["call_sid"]
    web.wait_call(sid, 30)
    wait_until(lambda: call_row(web, sid)["ended_at"] is not None)
    assert call_row(web, sid)["outcome"] == behaviour
    wait_until(lambda: presence(web) == "available")


def test_an_agent_who_does_not_answer_their_own_phone_is_available_again_and_nobody_is_dialled(web, olga):
    web.sim.post(f"{web.base_url}/sim/clients/olga", json={"manual": True}, timeout=5)
    number = customer(web, "answer")
    sid = olga.post("/api/calls/outbound", json={"to": number}).json()["call_sid"]
    wait_until(lambda: presence(web) == "reserved")
    wait_until(lambda: web.sim.post(f"{web.base_url}/sim/clients/olga/reject", timeout=5).status_code == 200)
    ended = web.wait_call(sid, 30)
    assert not any(e.get("number") == number for e in ended["events"])
    wait_until(lambda: call_row(web, sid)["ended_at"] is not None)
    assert call_row(web, sid)["outcome"] == "agent-missed"
    wait_until(lambda: presence(web) == "available")


def test_calls_out_are_refused_clearly(web, olga):
    for body, status, said in [({}, 400, "E.164"), ({"to": "12"}, 400, "not a phone number"),
                               ({"to": "+1900555012"}, 400, "not a phone number"),
                               ({"to": new_number(), "queue": "nonesuch"}, 400, "no queue nonesuch")]:
        refused = olga.post("/api/calls/outbound", json=body)
        assert (refused.status_code, said in refused.json()["error"]) == (status, True), (body, refused.text)
    assert presence(web) == "available"  # a refused call leaves her as she was
    assert signed_in(web, "sam").post("/api/calls/outbound", json={"to": new_number()}).status_code == 403
    olga.post("/api/presence", json={"presence": "break"})
    busy = olga.post("/api/calls/outbound", json={"to": new_number()})
    assert busy.status_code == 409 and "when available" in busy.json()["error"]


def test_an_agent_calls_back_a_caller_who_left_a_message_then_about_an_earlier_call_from_the_agent_page(web, browser):
    number = customer(web, "answer", talk_s=2)
    message = web.seed(lambda db: voicemails.add(db, {"number": number, "language": "en", "queue": "billing",
                                                      "seconds": 4.0, "transcript": "Please call me about my bill.",
                                                      "created_at": datetime.now(UTC).isoformat()}))
    earlier = web.seed(lambda db: lifecycle.start(db, "CA" + secrets.token_hex(16), datetime.now(UTC) - timedelta(days=2),
                                                  number, queue="orders", outcome="abandoned", language="en"))
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(page, web, "olga")  # (her softphone is now the page's: answered with its button)
    page.get_by_role("button", name="Available").click()
    expect(page.locator("#presence")).to_have_text("available", timeout=WAIT_MS)

    page.locator(f'#voicemails li[data-voicemail="{message}"]').get_by_role("button", name="Call").click()
    expect(page.locator("#phone-status")).to_have_text("Your call out: answer your phone to dial the customer",
                                                       timeout=WAIT_MS)
    expect(page.locator('#pop [data-field="number"]')).to_have_text(number)
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#presence")).to_have_text("on a call", timeout=WAIT_MS)
    expect(page.locator("#presence")).to_have_text("wrap-up", timeout=WAIT_MS)  # the customer talked 2 s; billing's wrap-up
    row = web.query("SELECT * FROM calls WHERE to_number = ? AND direction = 'outbound-agent'", [number])[0]
    assert (row["agent_id"], row["queue"], row["outcome"], row["talk_s"]) == ("olga", "billing", "answered", 2)
    page.get_by_label("Notes").fill("Explained the bill.")
    page.get_by_role("button", name="Save notes").click()
    expect(page.locator("#saved")).to_have_text("Saved.")
    assert web.query("SELECT notes FROM calls WHERE sid = ?", [row["sid"]])[0]["notes"] == "Explained the bill."

    # The screen pop's history: the call they gave up on two days ago, in orders; a call back about it counts there.
    page.get_by_role("button", name="Ready for the next call").click()
    expect(page.locator("#presence")).to_have_text("available", timeout=WAIT_MS)
    history_row = page.locator("#history tbody tr").filter(has_text="abandoned")
    expect(history_row).to_have_count(1)
    history_row.get_by_role("button", name="Call").click()
    expect(page.locator("#phone-status")).to_have_text("Your call out: answer your phone to dial the customer",
                                                       timeout=WAIT_MS)
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#presence")).to_have_text("wrap-up", timeout=WAIT_MS)
    again = web.query("SELECT * FROM calls WHERE to_number = ? AND direction = 'outbound-agent' AND sid != ?",
                      [number, row["sid"]])[0]
    assert (again["agent_id"], again["queue"], again["outcome"]) == ("olga", "orders", "answered")
    assert again["caller_id"] == call_row(web, earlier)["caller_id"] == row["caller_id"]
    page.get_by_role("button", name="Offline").click()
    expect(page.locator("#presence")).to_have_text("offline", timeout=WAIT_MS)
