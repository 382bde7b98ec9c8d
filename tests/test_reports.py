"""Historical reports and staffing advice against the real server: a week of calls over two queues (answered,
abandoned, transferred to the other queue or to a colleague in the same one, callbacks asked for, completed and
failed, survey answers) is seeded as the routing code records it
(routing events, callbacks, survey answers); every figure of the JSON, the CSV and the rendered page equals this
test's own SQL over the same rows, in the center's time zone (Europe/Moscow, UTC+3). The staffing advice, on a
seeded history of 100 calls in a half hour of 180 s each, matches Erlang C's reference case: 14 agents."""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from playwright.sync_api import expect

from routing import admin
from tests.conftest import Server
from tests.web_support import PASSWORD, browser_fixture, now, shot, sign_in, signed_in  # noqa: F401 (fixture browser)

WAIT_MS = 15_000
ZONE_HOURS = 3  # Europe/Moscow
WEEK = [datetime(2026, 11, 16, tzinfo=UTC) + timedelta(days=d) for d in range(7)]  # Mon 16 – Sun 22 November
TARGETS = {"billing": 20, "orders": 30}
CENTER = {
    "skills": {"billing": "Billing", "orders": "Orders", "sales": "Sales"},
    "queues": {
        "billing": {"skills": {"billing": 1}, "sl_target_s": 20, "sl_target_pct": 80, "wrapup_s": 10},
        "orders": {"skills": {"orders": 1}, "sl_target_s": 30, "sl_target_pct": 80, "wrapup_s": 10},
        "sales": {"skills": {"sales": 1}, "sl_target_s": 20, "sl_target_pct": 80, "wrapup_s": 30},
    },
    "agents": [
        *({"id": f"a{n}", "name": f"Agent {n}", "password": PASSWORD, "languages": ["en"],
           "skills": {"billing": 3, "orders": 3, "sales": 3}} for n in range(1, 15)),
        {"id": "boss", "name": "Boss", "role": "supervisor", "password": PASSWORD},
    ],
}


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class Week:
    """Routing events of a week of calls, written as the routing code writes them."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.callbacks: list[dict] = []
        self.calls: list[dict] = []
        self.surveys: list[dict] = []
        self.transfers: list[dict] = []

    def event(self, at: datetime, kind: str, **fields) -> None:
        self.events.append({"at": stamp(at), "kind": kind, **fields})

    def handled(self, agent: str, queue: str, item: str, entered: datetime, wait: int, talk: int, wrap: int,
                again: bool = False) -> datetime:
        """One answered call (``again``: transferred back into a queue it was answered in); when its agent is free."""
        answered = entered + timedelta(seconds=wait)
        self.event(entered, "requeued" if again else "enqueued", item_id=item, queue=queue)
        self.event(answered, "offered", item_id=item, agent_id=agent, queue=queue)
        self.event(answered, "answered-again" if again else "accepted", item_id=item, agent_id=agent, queue=queue,
                   seconds=wait)
        ended = answered + timedelta(seconds=talk)
        self.event(ended, "ended", item_id=item, agent_id=agent, queue=queue, seconds=talk)
        self.event(ended, "presence", agent_id=agent, reason="wrapup")
        self.event(ended + timedelta(seconds=wrap), "presence", agent_id=agent, reason="available")
        return ended + timedelta(seconds=wrap)


def seeded_week(rng: random.Random) -> Week:
    week = Week()
    for day in WEEK:
        opening = day.replace(hour=5)  # 08:00 in Moscow
        free = {f"a{n}": opening for n in range(1, 5)}
        for agent in free:
            week.event(opening, "presence", agent_id=agent, reason="available")
        arrivals = sorted(opening + timedelta(seconds=rng.randrange(0, 9 * 3600)) for _ in range(40))
        for n, entered in enumerate(arrivals):
            queue = rng.choice(("billing", "orders"))
            item = f"CA{day:%m%d}{n:04d}{queue[0]}"
            if rng.random() < 0.2:  # hangs up after waiting a while
                wait = rng.randrange(5, 200)
                week.event(entered, "enqueued", item_id=item, queue=queue)
                week.event(entered + timedelta(seconds=wait), "abandoned", item_id=item, queue=queue, seconds=wait)
                continue
            agent = min(free, key=free.get)
            start = max(entered, free[agent])
            wait = int((start - entered).total_seconds()) + rng.randrange(0, 40)
            free[agent] = week.handled(agent, queue, item, entered, wait, rng.randrange(60, 400), rng.randrange(0, 40))
            week.calls.append({"sid": item, "queue": queue, "agent_id": agent, "started_at": stamp(entered),
                               "direction": "inbound", "status": "completed"})
            if rng.random() < 0.2:  # the agent transfers it cold: to orders, or to a colleague in the same queue
                to = rng.choice(("orders", queue))
                sent = free[agent]
                week.transfers.append({"call_sid": item, "from_agent": agent, "from_queue": queue, "to_queue": to,
                                       "mode": "cold", "state": "completed", "created_at": stamp(sent),
                                       "ended_at": stamp(sent)})
                colleague = min((a for a in free if a != agent), key=free.get)
                start = max(sent, free[colleague])
                free[colleague] = week.handled(colleague, to, item, sent, int((start - sent).total_seconds()),
                                               rng.randrange(60, 300), rng.randrange(0, 40), again=to == queue)
            if rng.random() < 0.5:
                week.surveys.append({"call_sid": item, "question": "satisfaction", "score": rng.randrange(1, 6),
                                     "at": stamp(free[agent])})
            if rng.random() < 0.15:
                asked = entered + timedelta(seconds=30)
                status = rng.choice(("completed", "failed", "pending"))
                week.callbacks.append({"queue": queue, "number": "+12025550100", "entered_at": stamp(entered),
                                       "status": status, "created_at": stamp(asked),
                                       "updated_at": stamp(asked + timedelta(minutes=rng.randrange(5, 90)))})
        closing = day.replace(hour=17)
        for agent in free:
            week.event(max(closing, free[agent]), "presence", agent_id=agent, reason="offline")
    return week


def staffing_history(week: Week) -> None:
    """Four Mondays before 23 November: 100 calls into "sales" between 10:00 and 10:30 Moscow time, each 150 s of
    talk and 30 s of wrap-up, answered at once by ten agents one after the other."""
    for monday in (datetime(2026, 11, 23, tzinfo=UTC) - timedelta(weeks=w) for w in range(1, 5)):
        start = monday.replace(hour=7)  # 10:00 in Moscow
        for k in range(10):
            agent = f"a{k + 5}"
            week.event(start, "presence", agent_id=agent, reason="available")
            for j in range(10):
                free = week.handled(agent, "sales", f"CA{monday:%m%d}s{k}{j}", start + timedelta(seconds=180 * j), 0,
                                    150, 30)
            week.event(free, "presence", agent_id=agent, reason="offline")


@pytest.fixture(scope="module")
def center(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("reports")
    server = Server(workdir, {"TIMEZONE": "Europe/Moscow"}).start()
    path = workdir / "center.yaml"
    path.write_text(yaml.safe_dump(CENTER))
    server.seed(lambda db: admin.load_center(db, path, now()))
    week = seeded_week(random.Random(20261116))
    staffing_history(week)

    def write(db) -> None:
        db["routing_events"].insert_all(sorted(week.events, key=lambda e: e["at"]))
        db["calls"].insert_all(week.calls)
        db["survey_answers"].insert_all(week.surveys)
        db["callbacks"].insert_all(week.callbacks)
        db["transfers"].insert_all(week.transfers)

    server.seed(write)
    yield server
    server.stop()


def expected(server: Server, bucket_sql: str) -> dict[tuple[str, str], dict]:
    """This test's own figures per (local interval, queue), straight from the tables."""
    local = f"'+{ZONE_HOURS} hours'"
    b = bucket_sql.format(at="at", local=local)
    rows: dict[tuple[str, str], dict] = {}
    with server.oracle() as conn:
        figures = conn.execute(f"""
            SELECT {b} AS bucket, queue,
                   SUM(kind = 'enqueued') AS offered, SUM(kind = 'accepted') AS answered,
                   SUM(kind = 'abandoned') AS abandoned,
                   SUM(kind = 'accepted' AND seconds <= CASE queue WHEN 'billing' THEN 20 ELSE 30 END) AS within,
                   AVG(CASE WHEN kind = 'accepted' THEN seconds END) AS asa,
                   AVG(CASE WHEN kind = 'abandoned' THEN seconds END) AS abandon_wait,
                   AVG(CASE WHEN kind = 'ended' THEN seconds + (julianday((SELECT MIN(p.at) FROM routing_events p
                        WHERE p.kind = 'presence' AND p.agent_id = e.agent_id AND p.reason != 'wrapup' AND p.at >= e.at))
                        - julianday(e.at)) * 86400 END) AS aht
            FROM routing_events e WHERE queue IN ('billing', 'orders') GROUP BY bucket, queue""").fetchall()
        for row in figures:
            rows[(row["bucket"], row["queue"])] = dict(row)
        for row in conn.execute(f"""SELECT {bucket_sql.format(at='created_at', local=local)} AS bucket, queue,
                                           COUNT(*) AS n FROM callbacks GROUP BY bucket, queue"""):
            rows.setdefault((row["bucket"], row["queue"]), {})["callbacks_requested"] = row["n"]
        for row in conn.execute(f"""SELECT {bucket_sql.format(at='updated_at', local=local)} AS bucket, queue, status,
                                           COUNT(*) AS n FROM callbacks WHERE status IN ('completed', 'failed')
                                    GROUP BY bucket, queue, status"""):
            rows.setdefault((row["bucket"], row["queue"]), {})[f"callbacks_{row['status']}"] = row["n"]
        for row in conn.execute(f"""SELECT {bucket_sql.format(at='s.at', local=local)} AS bucket, c.queue,
                                           AVG(score) AS score FROM survey_answers s JOIN calls c ON c.sid = s.call_sid
                                    WHERE c.queue IN ('billing', 'orders') GROUP BY bucket, c.queue"""):
            rows.setdefault((row["bucket"], row["queue"]), {})["survey"] = row["score"]
        for row in conn.execute(f"""SELECT {bucket_sql.format(at='created_at', local=local)} AS bucket, from_queue,
                                           COUNT(*) AS n FROM transfers WHERE state = 'completed'
                                    GROUP BY bucket, from_queue"""):
            rows.setdefault((row["bucket"], row["from_queue"]), {})["transferred"] = row["n"]
    return rows


DAY = "date({at}, {local})"
HOUR = "strftime('%Y-%m-%dT%H:00', {at}, {local})"


def close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 0.051)


def check(row: dict, want: dict) -> None:
    handled = (want.get("answered") or 0) + (want.get("abandoned") or 0)
    assert row["offered"] == (want.get("offered") or 0)
    assert row["answered"] == (want.get("answered") or 0)
    assert row["abandoned"] == (want.get("abandoned") or 0)
    assert row["within_target"] == (want.get("within") or 0)
    assert close(row["service_level"], round(want["within"] / handled, 3) if handled else None)
    assert close(row["asa_s"], want.get("asa")) and close(row["abandon_wait_s"], want.get("abandon_wait"))
    assert close(row["aht_s"], want.get("aht"))
    for name in ("callbacks_requested", "callbacks_completed", "callbacks_failed", "transferred"):
        assert row[name] == want.get(name, 0), name
    assert close(row["survey_score"], want.get("survey"))


@pytest.mark.parametrize(("interval", "bucket", "key"), [("day", DAY, lambda s: s[:10]), ("60", HOUR, lambda s: s[:16])])
def test_report_figures_equal_sql_over_the_seeded_week_in_json_and_csv(center, interval, bucket, key):
    boss = signed_in(center, "boss")
    query = {"from": "2026-11-16", "to": "2026-11-22", "interval": interval}
    report = boss.get("/api/reports/intervals", params=query).json()
    rows = [row for row in report["rows"] if row["queue"] in TARGETS]
    want = expected(center, bucket)
    want = {k: v for k, v in want.items() if "2026-11-16" <= k[0][:10] <= "2026-11-22"}
    assert {(key(row["interval_start"]), row["queue"]) for row in rows} == set(want)
    assert all(row["interval_start"].endswith("+03:00") for row in rows)  # local intervals of Moscow
    for row in rows:
        check(row, want[(key(row["interval_start"]), row["queue"])])
    transferred = sum(row["transferred"] for row in rows)
    assert sum(row["offered"] for row in rows) - transferred_into_another_queue(center) == 280
    assert sum(row["abandoned"] for row in rows) > 20 and transferred > 10

    sheet = boss.get("/api/reports/intervals", params={**query, "format": "csv"})
    assert sheet.headers["Content-Type"].startswith("text/csv") and "attachment" in sheet.headers["Content-Disposition"]
    table = [row for row in csv.DictReader(io.StringIO(sheet.text)) if row["queue"] in TARGETS]
    assert len(table) == len(rows)
    for line, row in zip(table, rows, strict=True):
        assert line["interval_start"] == row["interval_start"] and line["queue"] == row["queue"]
        for column in ("offered", "answered", "abandoned", "transferred", "callbacks_requested", "callbacks_failed"):
            assert int(line[column]) == row[column]
        assert line["aht_s"] == ("" if row["aht_s"] is None else str(row["aht_s"]))


def transferred_into_another_queue(server: Server) -> int:
    with server.oracle() as conn:
        return conn.execute("SELECT COUNT(*) FROM transfers WHERE to_queue != from_queue").fetchone()[0]


def test_per_agent_figures_count_their_calls_and_occupancy(center):
    boss = signed_in(center, "boss")
    rows = boss.get("/api/reports/intervals", params={"from": "2026-11-18", "to": "2026-11-18", "interval": "day",
                                                       "by": "agent"}).json()["rows"]
    with center.oracle() as conn:
        answered = dict(conn.execute("SELECT agent_id, COUNT(*) FROM routing_events WHERE kind IN ('accepted', "
                                     "'answered-again') AND date(at, '+3 hours') = '2026-11-18' GROUP BY agent_id").fetchall())
        sent = dict(conn.execute("SELECT from_agent, COUNT(*) FROM transfers WHERE date(created_at, '+3 hours') = "
                                 "'2026-11-18' GROUP BY from_agent").fetchall())
    assert {row["agent"]: row["answered"] for row in rows} == answered
    assert {row["agent"]: row["transferred"] for row in rows if row["transferred"]} == sent
    for row in rows:  # 08:00–17:00 (or their last call) staffed: occupancy is working / staffed, below 1
        assert row["staffed_s"] >= 9 * 3600 - 1 and 0 < row["occupancy"] < 1
        assert close(row["occupancy"], round(row["working_s"] / row["staffed_s"], 3))

    # One queue's agents: what they transferred out of it and the survey scores of its calls, not of every queue.
    billing = boss.get("/api/reports/intervals", params={"from": "2026-11-16", "to": "2026-11-22", "interval": "day",
                                                          "by": "agent", "queue": "billing"}).json()["rows"]
    with center.oracle() as conn:
        sent = dict(conn.execute("SELECT from_agent, COUNT(*) FROM transfers WHERE state = 'completed' AND "
                                 "from_queue = 'billing' GROUP BY from_agent").fetchall())
        scored = dict(conn.execute("SELECT c.agent_id, COUNT(*) FROM survey_answers s JOIN calls c ON c.sid = s.call_sid "
                                   "WHERE c.queue = 'billing' GROUP BY c.agent_id").fetchall())
    def per_agent(column: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in billing:
            totals[row["agent"]] = totals.get(row["agent"], 0) + (row[column] or 0)
        return {agent: n for agent, n in totals.items() if n}

    assert per_agent("transferred") == sent and sum(sent.values()) > 0
    assert per_agent("survey_answers") == scored and sum(scored.values()) > 0


def test_bad_report_requests_are_clear_400s_and_agents_are_refused(center):
    boss = signed_in(center, "boss")
    for params, words in (({"from": "16.11.2026", "to": "2026-11-22"}, "YYYY-MM-DD"),
                          ({"from": "2026-11-22", "to": "2026-11-16"}, "on or after"),
                          ({"from": "2026-01-01", "to": "2026-12-01"}, "at most 92 days"),
                          ({"from": "2026-11-16", "to": "2026-11-16", "interval": "7"}, "interval is one of"),
                          ({"from": "2026-11-16", "to": "2026-11-16", "queue": "nope"}, "no queue nope"),
                          ({"from": "2026-11-16", "to": "2026-11-16", "format": "xml"}, "json or csv")):
        response = boss.get("/api/reports/intervals", params=params)
        assert response.status_code == 400 and words in response.json()["error"], params
    assert boss.get("/api/reports/staffing", params={"queue": "sales", "day": "monday"}).status_code == 400
    agent = signed_in(center, "a1")
    assert agent.get("/api/reports/intervals", params={"from": "2026-11-16", "to": "2026-11-16"}).status_code == 403
    assert agent.get("/supervisor/reports").status_code == 403


def test_staffing_advice_matches_erlang_c_for_100_calls_in_half_an_hour_of_180_s(center):
    boss = signed_in(center, "boss")
    advice = boss.get("/api/reports/staffing", params={"queue": "sales", "day": "2026-11-23"}).json()
    assert advice["weekdays_seen"] == 4 and advice["aht_s"] == 180.0 and advice["patience_s"] is None
    assert [(i["start"], i["arrivals"], i["agents_erlang_c"], i["agents_erlang_a"]) for i in advice["intervals"]] == [
        ("10:00", 100.0, 14, 14)]
    assert advice["signed_in_now"] == 0  # nobody is signed in now
    tuesday = boss.get("/api/reports/staffing", params={"queue": "sales", "day": "2026-11-24"}).json()
    assert tuesday["weekdays_seen"] == 0 and tuesday["intervals"] == []


def test_the_reports_page_shows_the_same_figures_with_a_chart_and_the_staffing_advice(center, browser):
    page = browser.new_context(viewport={"width": 1500, "height": 1200}).new_page()
    sign_in(page, center, "boss")
    page.goto(center.base_url + "/supervisor/reports?from=2026-11-16&to=2026-11-23&interval=day")
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    want = {k: v for k, v in expected(center, DAY).items() if "2026-11-16" <= k[0] <= "2026-11-23"}
    table = page.locator("#report-queues tbody tr")
    shown = table.evaluate_all("rows => rows.map(r => Object.fromEntries([...r.cells].map(c => [c.dataset.column, "
                               "c.textContent])))")
    billing = [row for row in shown if row["queue"] == "billing"]
    assert len(billing) == len([k for k in want if k[1] == "billing"])
    first = want[("2026-11-16", "billing")]
    monday = next(row for row in billing if row["interval_start"] == "Nov 16, 2026")
    assert monday["offered"] == str(first["offered"]) and monday["abandoned"] == str(first["abandoned"])
    assert monday["transferred"] == str(first.get("transferred") or 0)
    level = 100 * first["within"] / (first["answered"] + first["abandoned"])
    assert monday["service_level"] == f"{math.floor(level + 0.5)}%"  # (Intl rounds half up)
    assert monday["aht_s"] == f"{first['aht']:.1f} s"
    bars = page.locator('#report-chart rect[data-kind="offered"]')
    offered = [int(n) for n in bars.evaluate_all("bars => bars.map(b => b.dataset.count)")]
    assert sum(offered) == sum(v.get("offered") or 0 for k, v in want.items()) + 100  # the sales Monday too
    sales = page.locator('.staffing-queue[data-queue="sales"] tr[data-start="10:00"]')
    expect(sales.locator('[data-field="erlang_c"]')).to_have_text("14")
    expect(page.locator("#csv-queues")).to_have_attribute("href", "/api/reports/intervals?from=2026-11-16&to=2026-11-23"
                                                                   "&interval=day&queue=&format=csv&by=queue")
    page.screenshot(path=str(shot("reports.png")), full_page=True)
    page.locator("#staffing-h").locator("xpath=..").screenshot(path=str(shot("staffing.png")))


def test_the_monitor_shows_the_staffing_advice_for_the_half_hour_we_are_in(tmp_path, browser):
    """The same history, on the weekday and at the local half hour of the moment the test runs (and the next one)."""
    server = Server(tmp_path, {"TIMEZONE": "Europe/Moscow"}).start()
    try:
        path = tmp_path / "center.yaml"
        path.write_text(yaml.safe_dump(CENTER))
        server.seed(lambda db: admin.load_center(db, path, now()))
        local = now().astimezone(ZoneInfo("Europe/Moscow"))
        slot = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
        week = Week()
        for weeks_back in range(1, 5):
            start = (slot - timedelta(weeks=weeks_back)).astimezone(UTC)
            for k in range(10):
                agent = f"a{k + 5}"
                week.event(start, "presence", agent_id=agent, reason="available")
                for j in range(20):  # this half hour and the next
                    week.handled(agent, "sales", f"CA{weeks_back}s{k}{j:02d}", start + timedelta(seconds=180 * j), 0,
                                 150, 30)
        server.seed(lambda db: db["routing_events"].insert_all(week.events))
        page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        sign_in(page, server, "boss")
        row = page.locator('#staffing-now tr[data-queue="sales"]')
        expect(row.locator('[data-field="erlang_c"]')).to_have_text("14", timeout=WAIT_MS)
        expect(page.locator('#staffing-now tr[data-queue="billing"] [data-field="erlang_c"]')).to_have_text("—")
    finally:
        server.stop()
