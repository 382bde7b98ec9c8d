"""The agent's softphone and the supervisor's monitor in a real browser (headless Debian Chromium) against the real
server: sign in, go available, a Russian billing call pops with its history, answer, note, wrap-up, live queue."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import new_number
from tests.web_support import add_caller, add_past_call, browser_fixture, shot, sign_in, web_fixture  # noqa: F401 (fixtures browser, web)

WAIT_MS = 15_000


def presence_of(web, agent_id):
    return web.query("SELECT presence FROM agents WHERE id = ?", [agent_id])[0]["presence"]


def test_an_agent_takes_a_russian_billing_call_with_screen_pop_notes_and_wrapup(web, browser):
    number = new_number()
    caller = add_caller(web, number, name="Ольга Кузнецова", language="ru", notes="Prefers SMS.")
    add_past_call(web, caller, 9, intent="billing", outcome="answered", agent_id="olga", disposition="resolved",
                  notes="Refunded a double charge.")
    add_past_call(web, caller, 2, intent="order_status", outcome="abandoned", notes="Hung up after 3 minutes.")
    web.seed(lambda db: db["orders"].insert({"number": "5120", "caller_id": caller, "item": "a standing desk",
                                             "status": "being packed", "eta": "next Tuesday"}))

    agent = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    supervisor = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(agent, web, "olga")
    sign_in(supervisor, web, "sam")
    billing = supervisor.locator('#queues tr[data-queue="billing"]')
    expect(supervisor.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
    expect(billing.locator('[data-field="waiting"]')).to_have_text("0")
    supervisor.evaluate("window.sameDocument = true")  # a reload would lose this

    # The agent is offline, so the Russian caller who presses 2 (billing) waits: the monitor's count rises.
    expect(agent.locator("#presence")).to_have_text("offline", timeout=WAIT_MS)
    sid = web.start_call(number, [{"keys": "2"}])
    expect(billing.locator('[data-field="waiting"]')).to_have_text("1", timeout=WAIT_MS)
    expect(supervisor.locator(f'#waiting tr[data-item="{sid}"]')).to_contain_text("Ольга Кузнецова")

    # She goes available: the call is offered to her and pops before she answers; the waiting count falls.
    agent.get_by_role("button", name="Available").click()
    pop = agent.locator("#pop")
    expect(pop).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#pop-title")).to_have_text("Incoming call")
    expect(pop.locator('[data-field="name"]')).to_have_text("Ольга Кузнецова")
    expect(pop.locator('[data-field="language"]')).to_have_text("Russian")  # the page names values in its language
    expect(pop.locator('[data-field="intent"]')).to_have_text("Billing")
    expect(pop.locator('[data-field="path"]')).to_have_text("welcome → lines_open → main_menu → billing_queue")
    expect(pop.locator('[data-field="reason"]')).to_contain_text("served this caller before; billing 5")
    history = pop.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Order status")
    expect(history.nth(0)).to_contain_text("Hung up after 3 minutes.")
    expect(history.nth(1)).to_contain_text("Refunded a double charge.")
    expect(history.nth(1)).to_contain_text("Olga Smirnova")
    expect(pop.locator("#orders tbody td")).to_have_text(["5120", "a standing desk", "being packed", "next Tuesday"])
    expect(billing.locator('[data-field="waiting"]')).to_have_text("0", timeout=WAIT_MS)
    expect(billing.locator('[data-field="offered"]')).to_have_text("1", timeout=WAIT_MS)
    assert supervisor.evaluate("window.sameDocument") is True
    answer = agent.get_by_role("button", name="Answer")
    expect(answer).to_be_enabled(timeout=WAIT_MS)
    expect(agent.locator("#phone-status")).to_have_text("Ringing: a call from the billing queue")
    agent.screenshot(path=str(shot("agent.png")), full_page=True)

    answer.click()
    expect(agent.locator("#presence")).to_have_text("on a call", timeout=WAIT_MS)
    assert web.query("SELECT agent_id FROM calls WHERE sid = ?", [sid])[0]["agent_id"] == "olga"
    agent.get_by_label("Notes").fill("Second refund requested; escalated to finance.")
    agent.get_by_label("Disposition").select_option("escalated")
    agent.get_by_role("button", name="Save notes").click()
    expect(agent.locator("#saved")).to_have_text("Saved.")
    row = web.query("SELECT notes, disposition FROM calls WHERE sid = ?", [sid])[0]
    assert row == {"notes": "Second refund requested; escalated to finance.", "disposition": "escalated"}

    agent.get_by_role("button", name="Hang up").click()
    expect(agent.locator("#presence")).to_have_text("wrap-up", timeout=WAIT_MS)
    expect(agent.locator("#wrapup")).to_be_visible()
    expect(agent.locator("#wrapup-left")).to_have_text(re.compile(r"^0:0[0-6]$"))
    assert web.query("SELECT wrapup_until FROM agents WHERE id = 'olga'")[0]["wrapup_until"]
    # the wrap-up ends by itself after the queue's 6 s; she is available for the next call
    expect(agent.locator("#presence")).to_have_text("available", timeout=WAIT_MS)
    assert presence_of(web, "olga") == "available"
    assert web.wait_call(sid)["agent"] == "olga"
    agent.get_by_role("button", name="Offline").click()
    expect(agent.locator("#presence")).to_have_text("offline", timeout=WAIT_MS)
