"""The database cannot be written (another process holds its write lock for 20 s or 40 s, or its disk is full): the
webhooks still answer within Twilio's time, the callers go on with their calls, and every report is kept in the
journal and lands in the database once it can be written again. Real processes: `python app.py`, its simulated
Twilio, another process holding SQLite's lock (`BEGIN IMMEDIATE`), a small tmpfs as the database's disk."""

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bench.lock_latency import HOLD_LOCK
from routing import admin
from routing import service as routing
from tests.conftest import ROOT, Server, new_number, wait_until

pytestmark = pytest.mark.sqlite_only(reason="the store-fault tests hold SQLite's write lock from another process and fill a SQLite file's disk")

WEBHOOK_ANSWER_MS = 3000  # well inside Twilio's 15 s: STORE_WRITE_WAIT_S is 1 s


def center(tmp_path: Path, **env: str) -> Server:
    server = Server(tmp_path, {"OPENING_HOURS": "mon-sun 00:00-24:00", "STORE_WRITE_WAIT_S": "1",
                               "JOURNAL_PATH": str(tmp_path / "journal.jsonl"), "CALLBACK_OFFER_AFTER_S": "600", **env})
    server.db_path = env.get("DATABASE_PATH", server.db_path)
    return server


def start(server: Server) -> Server:
    """The server up, with one support agent, Amy, available (her simulated phone answers at once)."""
    server.start()
    tmp_path = Path(server.log_path).parent
    center = tmp_path / "center.yaml"
    center.write_text(yaml.safe_dump({"skills": {"support": "Support"}, "queues": {"support": {"skills": {"support": 3},
                                      "wrapup_s": 0}}, "agents": [{"id": "amy", "name": "Amy", "languages": ["en"],
                                                                   "skills": {"support": 5}}]}))
    server.seed(lambda db: admin.load_center(db, center, datetime.now(UTC)))
    server.seed(lambda db: routing.set_presence(db, "amy", "available", datetime.now(UTC)))
    server.sim.post(f"{server.base_url}/sim/clients/amy", json={"answer_after_s": 0.2, "talk_s": 1}, timeout=5)
    return server


def hold_lock(server: Server, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, server.db_path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def answer_times(call: dict) -> list[int]:
    return [e["ms"] for e in call["events"] if e["kind"] == "fetch"]


@pytest.fixture
def server(tmp_path):
    running = start(center(tmp_path))
    yield running
    running.stop()


def test_a_caller_during_a_20_s_lock_goes_through_the_menu_and_reaches_an_agent(server, tmp_path):
    holder = hold_lock(server, 20)
    started = time.monotonic()
    result = server.call(new_number(), [{"keys": "3"}], hold_s=60, timeout=120)
    assert time.monotonic() - started > 20 and holder.wait(5) == 0  # the call outlived the lock

    assert max(answer_times(result)) < WEBHOOK_ANSWER_MS, answer_times(result)
    assert not [e for e in result["events"] if e["kind"] == "http-error"]
    assert result["agent"] == "amy" and result["queue"] == "support"
    wait_until(lambda: server.query("SELECT ended_at FROM calls WHERE sid = ?", [result["call_sid"]])[0]["ended_at"])
    row = server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["outcome"] == "answered" and row["agent_id"] == "amy" and '"main_menu"' in row["path"]
    wait_until(lambda: not (tmp_path / "journal.jsonl").exists())  # everything kept was applied
    assert server.query("SELECT count(*) AS n FROM journal_replayed")[0]["n"] == 0


def test_a_caller_who_hangs_up_during_a_40_s_lock_is_in_the_records_afterwards(server, tmp_path):
    holder = hold_lock(server, 40)
    result = server.call(new_number(), [{"keys": "3"}], hold_s=4, timeout=60)  # gives up in the queue
    assert result["outcome"] == "abandoned" or result["status"] == "completed"
    assert max(answer_times(result)) < WEBHOOK_ANSWER_MS, answer_times(result)
    assert server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]]) == []  # not yet: still locked
    cli = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "agents", "presence", "amy", "break"],
                         cwd=ROOT, env=server.env, capture_output=True, text=True)
    assert cli.returncode == 1 and "cannot be written" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr
    assert holder.wait(60) == 0

    wait_until(lambda: server.query("SELECT ended_at FROM calls WHERE sid = ?", [result["call_sid"]]) != [], 20)
    wait_until(lambda: server.query("SELECT ended_at FROM calls WHERE sid = ?", [result["call_sid"]])[0]["ended_at"])
    row = server.query("SELECT * FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["outcome"] == "abandoned" and row["queued_at"]
    assert server.query("SELECT status FROM call_statuses WHERE call_sid = ? AND status = 'completed'",
                        [result["call_sid"]])
    assert server.query("SELECT * FROM queue_items WHERE id = ?", [result["call_sid"]]) == []
    abandoned = server.query("SELECT id FROM routing_events WHERE item_id = ? AND kind = 'abandoned'", [result["call_sid"]])
    assert len(abandoned) == 1


def test_on_a_full_disk_calls_go_on_and_land_in_the_records_when_space_is_freed(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test mounts a small tmpfs as the database's disk (as root): {mounted.stderr}"
    server = center(tmp_path, DATABASE_PATH=str(disk / "center.db"))
    try:
        start(server)
        try:
            with sqlite3.connect(server.db_path) as conn:  # an empty WAL: the next write must grow a file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = disk / "filler"
            with open(filler, "wb", buffering=0) as out:  # unbuffered: nothing left to write when it closes
                try:
                    while True:
                        out.write(b"\0" * 65536)
                except OSError:
                    pass  # the disk is full
            journal = tmp_path / "journal.jsonl"
            sid = server.start_call(new_number(), [{"keys": "3"}], hold_s=60)
            wait_until(lambda: journal.exists() and journal.read_text().count("\n") >= 1, 30)  # kept, not written
            assert "database or disk is full" in server.log_path.read_text()
            filler.unlink()  # space again

            result = server.wait_call(sid, 90)
            assert max(answer_times(result)) < WEBHOOK_ANSWER_MS, answer_times(result)
            assert not [e for e in result["events"] if e["kind"] == "http-error"]
            assert result["agent"] == "amy"
            wait_until(lambda: server.query("SELECT ended_at FROM calls WHERE sid = ?", [sid])[0]["ended_at"], 20)
            row = server.query("SELECT * FROM calls WHERE sid = ?", [sid])[0]
            assert '"main_menu"' in row["path"] and row["queue"] == "support" and row["outcome"] == "answered"
            wait_until(lambda: not journal.exists())
            assert "Traceback" not in server.log_path.read_text()
        finally:
            server.stop()
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
        subprocess.run(["umount", "--lazy", str(disk)], check=False)  # (the test's own sqlite3 handles may linger)
