"""Data protection (issue 12): one caller's data exported whole, or forgotten without a trace of their number or
name in any text column of any table while the supervisor's figures stay the same; retention by age. A real server
process, whole calls through its simulator, the CLI as an operator runs it, and the supervisor's API."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import iso
from routing.desk import supervisor_snapshot
from store import calls as store_calls
from store import privacy
from tests.conftest import ROOT, Server, new_number, wait_until
from tests.web_support import signed_in, start_web_server


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    server = start_web_server(tmp_path_factory.mktemp("privacy"))
    yield server
    server.stop()


def a_known_caller_with_calls(server: Server) -> tuple[str, str]:
    """A caller we know by name, who asked for order 1042 and later waited in the queue and gave up."""
    number, name = new_number(), f"Zelda Quux {secrets.token_hex(3)}"
    server.seed(lambda db: store_calls.upsert_caller(db, number, name=name, notes=f"prefers mornings; {name}"))
    server.call(number, [{"keys": "1"}, {"keys": "1042#"}, {"keys": "9"}])
    server.call(number, [{"keys": "3"}], hold_s=1)
    return number, name


def cli(server: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", "callers", *args], cwd=ROOT, env=server.env,
                          capture_output=True, text=True)


def traces(server: Server, *needles: str) -> list[str]:
    """Every (table, column) whose text holds one of ``needles``, over every text column of every table."""
    found = []
    with server.oracle() as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in conn.execute(f"PRAGMA table_info({table})"):
                if column[2].upper() not in ("TEXT", ""):
                    continue
                for needle in needles:
                    hit = conn.execute(f'SELECT 1 FROM "{table}" WHERE instr("{column[1]}", ?) > 0 LIMIT 1', [needle])
                    if hit.fetchone():
                        found.append(f"{table}.{column[1]} holds {needle!r}")
    return found


def figures(server: Server) -> list[dict]:
    return server.seed(lambda db: supervisor_snapshot(db, datetime.now(UTC), "UTC")["queues"])


def test_export_gives_everything_held_on_the_caller(web):
    number, name = a_known_caller_with_calls(web)
    done = cli(web, "export", number)
    assert done.returncode == 0, done.stderr
    held = json.loads(done.stdout)
    assert held["caller"]["name"] == name and held["caller"]["number"] == number
    assert len(held["calls"]) == 2 and all(call["events"] for call in held["calls"])
    assert any(d.get("digits") == "1042" for c in held["calls"] for d in c["digits"])
    assert cli(web, "export", new_number()).returncode == 1  # nobody: said, no traceback


def test_forget_leaves_no_trace_of_the_number_or_the_name_and_keeps_the_figures(web):
    number, name = a_known_caller_with_calls(web)
    assert traces(web, number, name)  # (the search finds them before)
    before = figures(web)
    done = cli(web, "forget", number, "--yes")
    assert done.returncode == 0, done.stderr
    assert traces(web, number, number.lstrip("+"), name) == []
    assert figures(web) == before
    audit = web.query("SELECT reason FROM routing_events WHERE kind = 'privacy'")
    assert audit and audit[-1]["reason"].startswith("a caller forgotten by cli:")


def test_a_supervisor_forgets_a_caller_from_the_api_and_agents_may_not(web):
    number, name = a_known_caller_with_calls(web)
    agent = signed_in(web, "olga")
    assert agent.post(f"/api/callers/{number}/forget", json={"confirm": True}).status_code == 403
    supervisor = signed_in(web, "sam")
    assert supervisor.get(f"/api/callers/{number}/export").json()["caller"]["name"] == name
    assert supervisor.post(f"/api/callers/{number}/forget", json={}).status_code == 400  # must confirm
    assert supervisor.post(f"/api/callers/{number}/forget", json={"confirm": True}).json()["calls"] == 2
    assert traces(web, number, name) == []
    assert web.query("SELECT reason FROM routing_events WHERE kind = 'privacy'")[-1]["reason"].startswith(
        "a caller forgotten by sam")


def test_retention_erases_what_is_personal_about_old_calls_and_keeps_their_figures(web):
    number, name = a_known_caller_with_calls(web)
    wait_until(lambda: len(web.query("SELECT sid FROM calls WHERE from_number = ? AND ended_at IS NOT NULL", [number])) == 2)
    later = iso(datetime.now(UTC) + timedelta(days=1))  # as if the retention period had passed for these calls
    before = web.query("SELECT sid, queue, outcome, wait_s FROM calls WHERE from_number = ? ORDER BY sid", [number])
    web.seed(lambda db: privacy.expire(db, later, iso(datetime.now(UTC))))
    after = web.query("SELECT sid, queue, outcome, wait_s, from_number, digits FROM calls WHERE sid IN (?, ?) ORDER BY sid",
                      [before[0]["sid"], before[1]["sid"]])
    assert [{k: row[k] for k in ("sid", "queue", "outcome", "wait_s")} for row in after] == before
    assert all(row["from_number"] is None and row["digits"] == "[]" for row in after)
    kinds = web.query("SELECT DISTINCT kind FROM call_events WHERE call_sid = ?", [before[0]["sid"]])
    assert kinds == [{"kind": "erased"}]
