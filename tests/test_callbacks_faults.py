"""Callbacks survive faults: 50 pending callbacks, rq workers killed with -9 mid-stream, the web server killed
and restarted, Redis restarted empty. Every callback is placed exactly once and none is lost.

Real processes throughout: redis-server, `python -m services.worker` (rq, `make worker`), `python app.py`, and the simulated
Twilio in its own process (`python -m simulator serve`), which counts the outbound calls per number."""

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import requests
import yaml

from routing import admin
from routing import service as routing
from tests import lifecycle
from tests.conftest import ROOT, Server, free_port

CALLBACKS = 50
AGENTS = 8
ACCOUNT = "AC" + "0" * 32


class Redis:
    def __init__(self, port: int) -> None:
        self.port, self.proc = port, None

    def start(self) -> "Redis":
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _redis_ping(self.port), 10)
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def _redis_ping(port: int) -> bool:
    import redis

    try:
        return redis.Redis(port=port).ping()
    except redis.ConnectionError:
        return False


def wait_for(predicate, timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not met within {timeout} s")


def seed(server: Server, tmp_path, numbers: list[str]) -> None:
    """The center: AGENTS available billing agents; CALLBACKS callers who asked to be called back, in order."""
    agents = [{"id": f"agent{i}", "name": f"Agent {i}", "languages": ["en"], "skills": {"billing": 5}} for i in range(AGENTS)]
    center = tmp_path / "center.yaml"
    center.write_text(yaml.safe_dump({"skills": {"billing": "Billing"}, "queues": {"billing": {"skills": {"billing": 3}, "wrapup_s": 0}},
                                      "agents": agents}))
    start = datetime.now(UTC) - timedelta(minutes=10)

    def fill(db):
        admin.load_center(db, center, start)
        for i, number in enumerate(numbers):
            sid = "CA" + secrets.token_hex(16)
            at = start + timedelta(seconds=i)
            lifecycle.start(db, sid, at, number, to_number="+15550001000", language="en", flow="main")
            lifecycle.enqueue(db, sid, "billing", at)
            lifecycle.book_callback(db, sid, number, at)
        for agent in agents:
            routing.set_presence(db, agent["id"], "available", datetime.now(UTC))

    server.seed(fill)


def test_fifty_callbacks_are_placed_exactly_once_through_kills_and_a_redis_restart(tmp_path):
    redis = Redis(free_port()).start()
    token = secrets.token_hex(16)
    web_port, sim_port = free_port(), free_port()
    sim = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", str(sim_port), "--server-url",
                            f"http://127.0.0.1:{web_port}", "--auth-token", token], cwd=ROOT,
                           stdout=open(tmp_path / "sim.log", "wb"), stderr=subprocess.STDOUT)
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": token, "TWILIO_API_BASE_URL": f"{sim_url}/sim/twilio",
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}", "CALLBACK_CALLER_ID": "+12025550123", "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
           "OPENING_HOURS": "mon-sun 00:00-24:00", "CALLBACK_RECOVER_AFTER_S": "3", "CALLBACK_RING_S": "5",
           "CALLBACK_RETRY_S": "1", "CALLBACK_MAX_ATTEMPTS": "5", "RING_TIMEOUT_S": "5"}
    server = Server(tmp_path, env, port=web_port)
    workers: list[subprocess.Popen] = []

    def start_worker() -> None:
        log = open(tmp_path / f"worker{len(workers)}.log", "wb")
        workers.append(subprocess.Popen([sys.executable, "-m", "services.worker"], cwd=ROOT, env={**os.environ, **server.env},
                                        stdout=log, stderr=subprocess.STDOUT))

    def supervise() -> None:
        """Like systemd would: a worker that died (Redis went away) is started again."""
        for proc in list(workers):
            if proc.poll() is not None:
                workers.remove(proc)
                start_worker()

    numbers = [f"+1202555{1000 + i:04d}" for i in range(CALLBACKS)]
    try:
        wait_for(lambda: _up(sim_url), 20, "simulator up")
        for i in range(AGENTS):
            requests.post(f"{sim_url}/sim/clients/agent{i}", json={"answer_after_s": 0.2, "talk_s": 0.5}, timeout=5)
        server.start()
        seed(server, tmp_path, numbers)
        start_worker()
        start_worker()

        def completed() -> int:
            supervise()
            return server.query("SELECT count(*) AS n FROM callbacks WHERE status IN ('completed', 'failed')")[0]["n"]

        wait_for(lambda: completed() >= 8, 120, "8 callbacks done")
        workers[0].send_signal(signal.SIGKILL)  # kill -9 a worker while jobs flow
        wait_for(lambda: completed() >= 18, 120, "18 callbacks done")
        server.proc.send_signal(signal.SIGKILL)  # kill -9 the web server mid-calls, then bring it back
        server.proc.wait(10)
        server.start()
        wait_for(lambda: completed() >= 28, 120, "28 callbacks done")
        redis.kill()  # Redis restarts empty: every queued job is gone
        redis.start()
        wait_for(lambda: completed() >= CALLBACKS, 240, "all callbacks done")

        rows = server.query("SELECT id, number, status, last_result, placed_call_sid FROM callbacks ORDER BY id")
        placed = requests.get(sim_url + "/sim/calls", timeout=10).json()["calls"]
        per_number = {n: 0 for n in numbers}
        for call in placed:
            if call["direction"] == "outbound-api":
                per_number[call["to"]] += 1
        assert per_number == {n: 1 for n in numbers}, {n: c for n, c in per_number.items() if c != 1}
        assert all(r["placed_call_sid"] for r in rows)
        lost = [r for r in rows if r["status"] not in ("completed", "failed")]
        assert lost == []
        failed = [r for r in rows if r["status"] == "failed"]
        assert all("outage" in r["last_result"] for r in failed), failed  # only calls cut off by the server's death
        assert len(failed) <= AGENTS
    finally:
        for proc in workers:
            proc.kill()
        if server.proc:
            server.stop()
        sim.kill()
        redis.kill()


def _up(url: str) -> bool:
    try:
        requests.get(url + "/sim/", timeout=1)
        return True
    except requests.ConnectionError:
        return False
