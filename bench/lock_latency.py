"""Webhook latency while another process holds the database's write lock (issue 11: p99 ≤ 2 s, nothing lost).

One server, ``app:create_app()`` under ``gunicorn -w 2 -k gthread --threads 4`` with the project's
``gunicorn.conf.py`` (as ``bench.webhook_load`` runs it). wrk replays signed requests, 8 connections: new calls
(``POST /voice/incoming``) and menu steps of calls made beforehand (``POST /voice/step/main_menu``), first with
the database free (the baseline, same run), then while another process holds SQLite's write lock
(``BEGIN IMMEDIATE`` and a write, held ``--lock`` seconds, longer than the runs). With the lock held the webhooks
wait up to ``STORE_WRITE_WAIT_S`` (1 s) for it, answer with what they decided, and keep their reports in the
journal. After the lock is let go the journal is replayed; the benchmark then counts the calls in the database:
every call made during the lock must have its row, and every menu step its turn.

    .venv/bin/python -m bench.lock_latency [--duration 5] [--lock 20]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.headline import row
from bench.machine import describe
from bench.webhook_load import APP_CONFIG, call_sid, gunicorn, incoming, menu_step, post, render_prompts, warm_up, wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "lock_latency.json"
GOAL_P99_MS = 2000
TWILIO_TIMEOUT_MS = 15000
CONNECTIONS = 8
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE IF NOT EXISTS lock_holder (x)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def count(db: Path, sql: str, params: tuple = ()) -> int:
    with sqlite3.connect(db, timeout=60) as conn:
        return conn.execute(sql, params).fetchone()[0]


def phase(base_url: str, workdir: Path, first: int, calls: int, steps_of: list[str], duration_s: int) -> dict[str, Any]:
    """New calls ``first``… for ``duration_s``, then menu steps of ``steps_of`` for ``duration_s``."""
    new_calls = [incoming(n) for n in range(first, first + calls)]
    return {"incoming": wrk(base_url, new_calls, workdir, duration_s, CONNECTIONS),
            "menu_step": wrk(base_url, [menu_step(sid) for sid in steps_of], workdir, duration_s, CONNECTIONS)}


def run(duration_s: int = 5, lock_s: int = 20, calls: int = 4000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        prompts = workdir / "prompts"
        build_error = render_prompts(prompts)
        (workdir / "app").mkdir()
        db = workdir / "app" / "bench.db"
        with gunicorn("app:create_app()", workdir / "app", prompts, APP_CONFIG, STORE_WRITE_WAIT_S="1") as url:
            warm_up((url,), 10 * calls, 200)
            for n in range(0, 2 * calls):  # calls the menu steps go to, made beforehand
                post(url, incoming(n))
            free = phase(url, workdir, 2 * calls, calls, [call_sid(n) for n in range(0, calls)], duration_s)
            holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(lock_s)], stdout=subprocess.PIPE,
                                      text=True)
            assert holder.stdout.readline().strip() == "locked"
            locked_at = time.monotonic()
            locked = phase(url, workdir, 3 * calls, calls, [call_sid(n) for n in range(calls, 2 * calls)], duration_s)
            within_lock = time.monotonic() - locked_at < lock_s
            holder.wait(lock_s + 30)
            drain_started = time.monotonic()
            made = locked["incoming"]["requests"]
            stepped = locked["menu_step"]["requests"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                rows = count(db, "SELECT count(*) FROM calls WHERE sid >= ? AND sid < ?",
                             (call_sid(3 * calls), call_sid(4 * calls)))
                turns = count(db, "SELECT count(*) FROM calls WHERE sid >= ? AND sid < ? AND digits != '[]'",
                              (call_sid(calls), call_sid(2 * calls)))
                if rows >= min(made, calls) and turns >= min(stepped, calls):
                    break
                time.sleep(0.5)
            drained_s = round(time.monotonic() - drain_started, 1)
    return {"machine": describe(), "settings": {"duration_s": duration_s, "lock_s": lock_s, "connections": CONNECTIONS,
                                                "runs_inside_the_lock": within_lock,
                                                "prompts": "prebuilt" if build_error is None else build_error},
            "free": free, "locked": locked,
            "recorded": {"calls_made_during_lock": min(made, calls), "call_rows_after": rows,
                         "steps_during_lock": min(stepped, calls), "steps_recorded_after": turns,
                         "seconds_to_apply_after_the_lock": drained_s}}


def headline(report: dict[str, Any]) -> list[dict[str, Any]]:
    free, locked, recorded = report["free"], report["locked"], report["recorded"]
    rows = []
    for kind in ("incoming", "menu_step"):
        rows.append(row(f"{kind} p99 ms, write lock held by another process", locked[kind]["p99_ms"],
                        free[kind]["p99_ms"], ratio=round(locked[kind]["p99_ms"] / free[kind]["p99_ms"], 1),
                        goal=f"≤ {GOAL_P99_MS} ms", met=locked[kind]["p99_ms"] <= GOAL_P99_MS))
        rows.append(row(f"{kind} max ms, lock held (Twilio gives up at 15 s)", locked[kind]["max_ms"],
                        free[kind]["max_ms"], goal=f"< {TWILIO_TIMEOUT_MS} ms",
                        met=locked[kind]["max_ms"] < TWILIO_TIMEOUT_MS))
        rows.append(row(f"{kind} errors, lock held", locked[kind]["errors"], free[kind]["errors"], goal="0",
                        met=locked[kind]["errors"] == 0))
    rows.append(row("calls made during the lock: rows after it (of all made)", recorded["call_rows_after"],
                    recorded["calls_made_during_lock"], goal="all",
                    met=recorded["call_rows_after"] >= recorded["calls_made_during_lock"]))
    rows.append(row("menu steps during the lock: recorded after it (of all)", recorded["steps_recorded_after"],
                    recorded["steps_during_lock"], goal="all",
                    met=recorded["steps_recorded_after"] >= recorded["steps_during_lock"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per endpoint and phase")
    parser.add_argument("--lock", type=int, default=20, help="seconds the other process holds the write lock")
    args = parser.parse_args()
    report = run(args.duration, args.lock)
    report["headline"] = headline(report)
    print(f"Webhook latency with the write lock held {args.lock} s by another process (gunicorn -w 2 gthread ×4, "
          f"wrk {CONNECTIONS} connections, {args.duration} s per endpoint; baseline: the same, lock free, same run)")
    for r in report["headline"]:
        print(f"  {r['measure']:<58} {r['value']!s:>9}  (free: {r['baseline']!s:>8})  goal {r['goal']:<9} "
              f"{'met' if r['met'] else 'MISSED'}")
    print(f"  applied {report['recorded']['seconds_to_apply_after_the_lock']} s after the lock was let go")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
