"""The supervisor's monitor shows what the store holds: its figures are compared with SQL over the same database,
they follow changes live (also changes made through another web process), and its actions change agents."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import yaml
from playwright.sync_api import expect

from core.clock import iso
from routing import admin, service
from store import routing as store_routing
from tests.conftest import Server, new_number
from tests.web_support import (  # noqa: F401 (fixtures browser, web)
    add_caller,
    add_past_call,
    browser_fixture,
    now,
    shot,
    sign_in,
    signed_in,
    web_fixture,
)

WAIT_MS = 15_000
QUEUES = ("billing", "general", "orders", "support")


def midnight():
    return now().replace(hour=0, minute=0, second=0, microsecond=0)


def earlier_today(fraction: float):
    """A moment between midnight and now (the test's data must belong to today whatever the hour)."""
    return midnight() + (now() - midnight()) * fraction


def event(web, kind, queue, seconds, at):
    web.seed(lambda db: store_routing.add_event(db, iso(at), kind, item_id="seeded", queue=queue,
                                                seconds=seconds))


def callback(web, queue, status, updated_at):
    stamp = iso(updated_at)
    web.seed(lambda db: db["callbacks"].insert({"number": new_number(), "queue": queue, "entered_at": stamp,
                                                "status": status, "created_at": stamp, "updated_at": stamp}))


@pytest.fixture(scope="module")
def center(web, tmp_path_factory):
    """A day of history (and a bit of yesterday, which must not count), callbacks, two callers waiting, agents."""
    yesterday = midnight() - timedelta(hours=1)
    for fraction, seconds in ((0.1, 5), (0.3, 12), (0.5, 25), (0.7, 41), (0.9, 18)):
        event(web, "accepted", "billing", seconds, earlier_today(fraction))
    for fraction in (0.2, 0.8):
        event(web, "abandoned", "billing", 70, earlier_today(fraction))
    event(web, "accepted", "orders", 8, earlier_today(0.6))
    event(web, "accepted", "billing", 3, yesterday)
    event(web, "abandoned", "orders", 90, yesterday)
    for status in ("pending", "pending", "dialing", "completed"):
        callback(web, "billing", status, earlier_today(0.5))
    callback(web, "billing", "failed", earlier_today(0.4))
    callback(web, "orders", "failed", yesterday)

    agents = tmp_path_factory.mktemp("agents") / "agents.yaml"
    agents.write_text(yaml.safe_dump({"agents": [
        {"id": "bob", "name": "Bob Smith", "languages": ["en"], "skills": {"orders": 4}, "presence": "available"},
        {"id": "carol", "name": "Carol Jones", "languages": ["en", "fa"], "skills": {"support": 4}},
    ]}))
    web.seed(lambda db: admin.load_center(db, agents, now()))
    web.seed(lambda db: service.set_presence(db, "carol", "break", now(), reason="lunch"))
    waiting = []
    for name in ("Mary Major", "Ким Ли"):
        number = new_number()
        add_caller(web, number, name=name)
        waiting.append(web.start_call(number, [{"keys": "2"}]))
    deadline = time.monotonic() + 20
    while len(web.query("SELECT id FROM queue_items WHERE state = 'waiting'")) < 2:
        assert time.monotonic() < deadline, "the callers did not reach the billing queue"
        time.sleep(0.1)
    return waiting


def percent(numerator, denominator):
    return "—" if not denominator else f"{round(100 * numerator / denominator)}%"


def expected_row(web, queue):
    """The queue's figures, computed here with SQL over the server's database."""
    since = iso(midnight())
    with web.oracle() as conn:

        def query(sql: str, params: list) -> dict:
            return dict(conn.execute(sql, params).fetchone())

        target = query("SELECT sl_target_s, sl_target_pct FROM queues WHERE name = ?", [queue])
        answered = query("SELECT COUNT(*) AS n, AVG(seconds) AS asa, SUM(seconds <= ?) AS fast FROM routing_events "
                         "WHERE queue = ? AND kind = 'accepted' AND at >= ?", [target["sl_target_s"], queue, since])
        abandoned = query("SELECT COUNT(*) AS n FROM routing_events WHERE queue = ? AND kind = 'abandoned' AND at >= ?",
                          [queue, since])["n"]
        callbacks = query("SELECT SUM(status IN ('pending', 'dialing')) AS pending, "
                          "SUM(status = 'failed' AND updated_at >= ?) AS failed FROM callbacks WHERE queue = ?",
                          [since, queue])
        items = query("SELECT SUM(state = 'waiting') AS waiting, SUM(state = 'offered') AS offered FROM queue_items "
                      "WHERE queue = ?", [queue])
    handled = answered["n"] + abandoned
    return {
        "waiting": str(items["waiting"] or 0),
        "offered": str(items["offered"] or 0),
        "service_level": percent(answered["fast"] or 0, handled),
        "target": f"{target['sl_target_pct']}% in {target['sl_target_s']} s",
        "asa": "—" if answered["asa"] is None else f"{round(answered['asa'])} s",
        "abandon_rate": percent(abandoned, handled),
        "answered": str(answered["n"]),
        "abandoned": str(abandoned),
        "callbacks_pending": str(callbacks["pending"] or 0),
        "callbacks_failed": str(callbacks["failed"] or 0),
    }


def shown_row(page, queue):
    row = page.locator(f'#queues tr[data-queue="{queue}"]')
    return {field: row.locator(f'[data-field="{field}"]').inner_text() for field in
            ("waiting", "offered", "service_level", "target", "asa", "abandon_rate", "answered", "abandoned",
             "callbacks_pending", "callbacks_failed")}


def expected_hours(web):
    rows = web.query("SELECT CAST(substr(at, 12, 2) AS INTEGER) AS hour, COUNT(*) AS n FROM routing_events "
                     "WHERE kind = 'accepted' AND at >= ? GROUP BY hour", [iso(midnight())])
    counts = [0] * 24
    for row in rows:
        counts[row["hour"]] = row["n"]
    return counts


def test_the_monitor_shows_the_figures_the_store_holds_and_follows_changes_live(web, center, browser):
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(page, web, "sam")
    expect(page.locator("#live")).to_have_text("Live", timeout=WAIT_MS)
    for queue in QUEUES:
        assert shown_row(page, queue) == expected_row(web, queue), queue
    billing = shown_row(page, "billing")
    assert billing["answered"] == "5" and billing["abandoned"] == "2" and billing["callbacks_pending"] == "3"
    bars = page.locator("#chart rect.bar")
    assert [int(bars.nth(hour).get_attribute("data-count")) for hour in range(24)] == expected_hours(web)
    assert page.locator("#waiting tbody tr").count() == 2
    expect(page.locator("#waiting")).to_contain_text("Ким Ли")
    page.screenshot(path=str(shot("supervisor.png")), full_page=True)

    # A caller abandons billing (written straight to the store by another process): the figures follow, no reload.
    page.evaluate("window.sameDocument = true")
    event(web, "abandoned", "billing", 95, now())
    expect(page.locator('#queues tr[data-queue="billing"] [data-field="abandoned"]')).to_have_text("3", timeout=WAIT_MS)
    assert shown_row(page, "billing") == expected_row(web, "billing")
    assert page.evaluate("window.sameDocument") is True


def test_the_supervisor_changes_an_agents_skills_and_forces_a_state(web, center, browser):
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(page, web, "sam")
    row = page.locator('#agents tr[data-agent="carol"]')
    expect(row.locator('[data-field="presence"]')).to_have_text("break (lunch)", timeout=WAIT_MS)

    row.get_by_role("button", name="Edit skills").click()
    editor = page.locator("#agents tr.editor:visible")
    expect(editor.get_by_label("support")).to_have_value("4")
    editor.get_by_label("support").fill("5")
    editor.get_by_label("orders").fill("2")
    editor.get_by_role("button", name="Save skills").click()
    expect(row.locator('[data-field="skills"]')).to_have_text("orders 2, support 5", timeout=WAIT_MS)
    skills = web.query("SELECT skill, level FROM agent_skills WHERE agent_id = 'carol' ORDER BY skill")
    assert skills == [{"skill": "orders", "level": 2}, {"skill": "support", "level": 5}]

    row.get_by_label("New state for Carol Jones").select_option("offline")
    row.get_by_role("button", name="Set state").click()
    expect(row.locator('[data-field="presence"]')).to_have_text("offline", timeout=WAIT_MS)
    assert web.query("SELECT presence FROM agents WHERE id = 'carol'")[0]["presence"] == "offline"


def test_a_change_made_through_one_web_process_reaches_the_event_stream_of_another_within_a_second(web, center,
                                                                                                   tmp_path):
    other = Server(tmp_path, {"DATABASE_PATH": web.db_path}).start()
    try:
        acting = signed_in(web, "sam")
        watching = signed_in(other, "sam")
        with watching.get("/events", stream=True, timeout=30) as stream:
            lines = stream.iter_lines(decode_unicode=True)
            assert board_of(next_snapshot(lines))["bob"] == "available"
            changed = time.monotonic()
            assert acting.post("/api/agents/bob/presence", json={"presence": "break"}).status_code == 200
            while board_of(next_snapshot(lines))["bob"] != "break":
                pass
            latency = time.monotonic() - changed
        assert latency < 1.0, f"the other process pushed the change after {latency:.2f} s"
    finally:
        other.stop()


def next_snapshot(lines):
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line[len("data: "):])
    raise AssertionError("the event stream ended")


def board_of(snapshot):
    return {agent["id"]: agent["presence"] for agent in snapshot["agents"]}


def test_the_supervisor_forces_a_stuck_busy_agent_free_after_confirming_and_it_is_recorded(web, center, browser,
                                                                                         tmp_path):
    agents = tmp_path / "dan.yaml"
    agents.write_text(yaml.safe_dump({"agents": [{"id": "dan", "name": "Dan Stuck", "languages": ["en"],
                                                  "skills": {"support": 3}}]}))
    web.seed(lambda db: admin.load_center(db, agents, now()))
    web.seed(lambda db: db.execute("UPDATE agents SET presence = 'busy', presence_since = ?, current_call_sid = "
                                   "'CA00000000000000000000000000000dead' WHERE id = 'dan'", [iso(now())]))
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(page, web, "sam")
    row = page.locator('#agents tr[data-agent="dan"]')
    expect(row.locator('[data-field="presence"]')).to_have_text("on a call", timeout=WAIT_MS)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_label("New state for Dan Stuck").select_option("available")
    row.get_by_role("button", name="Set state").click()
    expect(row.locator('[data-field="presence"]')).to_have_text("available", timeout=WAIT_MS)
    assert asked and "Dan Stuck is on a call. Force available?" in asked[0]
    audit = web.query("SELECT reason FROM routing_events WHERE agent_id = 'dan' AND kind = 'forced'")
    assert [a["reason"] for a in audit] == ["busy to available by sam"]


def test_the_supervisor_exports_and_then_forgets_one_callers_data_from_the_page(web, browser):
    number = new_number()
    caller = add_caller(web, number, name="Vera Forgetme", notes="Allergic to hold music.")
    add_past_call(web, caller, 4, intent="billing", outcome="answered", notes="Vera asked for a refund.")
    page = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True).new_page()
    sign_in(page, web, "sam")
    page.get_by_label("Phone number").fill(number)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert exported["caller"]["name"] == "Vera Forgetme" and exported["caller"]["number"] == number
    assert [call["notes"] for call in exported["calls"]] == ["Vera asked for a refund."]
    expect(page.locator("#privacy-result")).to_have_text("Exported, with 1 call.")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Forget…").click()
    expect(page.locator("#privacy-result")).to_have_text("Forgotten: 1 call, 0 callbacks cancelled.", timeout=WAIT_MS)
    assert asked == [f"Erase everything held on {number}? This cannot be undone."]
    assert web.query("SELECT count(*) AS n FROM callers WHERE number = ?", [number])[0]["n"] == 0
    assert web.query("SELECT count(*) AS n FROM calls WHERE notes LIKE '%Vera%'")[0]["n"] == 0
    page.get_by_role("button", name="Export").click()
    expect(page.locator("#privacy-error")).to_have_text("no caller with that number")

    page.once("dialog", lambda dialog: dialog.dismiss())  # a supervisor who says no has erased nothing
    other = new_number()
    add_caller(web, other, name="Kept Caller")
    page.get_by_label("Phone number").fill(other)
    page.get_by_role("button", name="Forget…").click()
    expect(page.locator("#privacy-result")).to_have_text("")
    assert web.query("SELECT name FROM callers WHERE number = ?", [other]) == [{"name": "Kept Caller"}]
