"""The caller's phone page (local mode): a call placed from the browser hears the menu, says something, presses
keys on the keypad and by keyboard, hears its order status, and hangs up."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from core.clock import now_text as now
from tests.conftest import new_number
from tests.web_support import add_caller, browser_fixture, sign_in, web_fixture  # noqa: F401 (fixtures browser, web)

WAIT_MS = 20_000


def line(page, pattern):
    """The one transcript line matching ``pattern``."""
    return page.locator("#transcript li").filter(has_text=re.compile(pattern))


def test_a_caller_on_the_phone_page_hears_the_menu_presses_keys_and_hears_the_order_status(web, browser):
    number = new_number()
    caller = add_caller(web, number, name="Pat Doe", language="en")
    web.seed(lambda db: db["orders"].insert({"number": "7788", "caller_id": caller, "item": "a green teapot",
                                             "status": "shipped", "eta": "on Monday", "updated_at": now()}))
    page = browser.new_page()
    sign_in(page, web, "sam")
    page.get_by_role("link", name="Caller phone").click()
    page.get_by_label("Call from").fill(number)
    page.get_by_role("button", name="Call").click()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("Thank you for calling Northwind", timeout=WAIT_MS)
    expect(transcript).to_contain_text("For the status of an order, press 1")

    page.get_by_label("Words").fill("hello there")
    page.get_by_role("button", name="Say it").click()
    expect(line(page, r'said\s+"hello there"')).to_be_visible(timeout=WAIT_MS)

    page.locator("#keypad").get_by_role("button", name="1", exact=True).click()  # sent after the pause
    expect(line(page, r"pressed\s+1$")).to_be_visible(timeout=WAIT_MS)
    expect(transcript).to_contain_text("Please enter your order number on the keypad", timeout=WAIT_MS)
    page.get_by_label("Keys").press_sequentially("7788#")  # typed: the hash key sends at once
    expect(line(page, r"pressed\s+7788$")).to_be_visible(timeout=WAIT_MS)
    expect(transcript).to_contain_text("Order 7 7 8 8, a green teapot, is shipped. Expected on Monday.", timeout=WAIT_MS)

    page.get_by_role("button", name="Hang up").click()
    expect(transcript).to_contain_text("Call ended", timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Call")).to_be_enabled()
    sid = web.query("SELECT sid FROM calls WHERE from_number = ? ORDER BY started_at DESC", [number])[0]["sid"]
    assert web.query("SELECT intent FROM calls WHERE sid = ?", [sid])[0]["intent"] == "order_status"


def test_a_caller_on_the_phone_page_reaches_the_agent_page_and_hangs_up_first(web, browser):
    number = new_number()
    add_caller(web, number, name="Chris Caller", language="en")
    agent = browser.new_page()
    sign_in(agent, web, "olga")
    agent.get_by_role("button", name="Available").click()
    expect(agent.locator("#presence")).to_have_text("available", timeout=WAIT_MS)

    phone = browser.new_page()
    sign_in(phone, web, "sam")
    phone.goto(web.base_url + "/phone")
    phone.get_by_label("Call from").fill(number)
    phone.get_by_role("button", name="Call").click()
    expect(phone.locator("#transcript")).to_contain_text("For billing and payments, press 2", timeout=WAIT_MS)
    phone.get_by_label("Keys").fill("2")
    phone.get_by_label("Keys").press("Enter")

    expect(agent.locator('#pop [data-field="name"]')).to_have_text("Chris Caller", timeout=WAIT_MS)
    answer = agent.get_by_role("button", name="Answer")
    expect(answer).to_be_enabled(timeout=WAIT_MS)
    answer.click()
    expect(line(phone, r"talking\s+with olga$")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#presence")).to_have_text("on a call", timeout=WAIT_MS)

    phone.get_by_role("button", name="Hang up").click()
    expect(line(phone, r"hung up\s+\(caller, in bridged\)")).to_be_visible(timeout=WAIT_MS)
    expect(agent.locator("#presence")).to_have_text(re.compile("wrapup|available"), timeout=WAIT_MS)
    agent.get_by_role("button", name="Offline").click()
    expect(agent.locator("#presence")).to_have_text("offline", timeout=WAIT_MS)
