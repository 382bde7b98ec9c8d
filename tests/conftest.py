"""Shared fixtures: a Flask app on a temp database, a real server process, signed requests."""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
import yaml

from app import create_app
from core.numbers import callable_number
from routing import admin, service
from store.db import connect, fetch_all
from tests.databases import POSTGRES, app_config, backend, server_env, sqlite_copy
from wire.signature import sign

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-auth-token-0123456789abcdef"


def new_sid() -> str:
    return "CA" + secrets.token_hex(16)


def new_number() -> str:
    """A fresh, valid US number per test (1 in millions to repeat), so tests on one server never share a caller."""
    while True:
        number = f"+1202{200 + secrets.randbelow(800):03d}{secrets.randbelow(10**4):04d}"
        if callable_number(number):
            return number


@pytest.fixture
def app(tmp_path: Path):
    app = create_app(app_config({"TESTING": True, "DATABASE_PATH": str(tmp_path / "test.db"), "TWILIO_AUTH_TOKEN": TOKEN,
                                 "PROMPT_CACHE_DIR": str(tmp_path / "prompts")}))
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.conn.close()


def signed_post(client, path: str, params: dict[str, str], token: str = TOKEN):
    """POST like Twilio: form parameters with X-Twilio-Signature over URL + sorted params."""
    signature = sign(token, "http://localhost" + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def heard_in(app, twiml: str) -> str:
    """What a caller hears from this TwiML: each <Say>'s text and the words of each <Play>ed prompt rendering (kept
    beside it in PROMPT_CACHE_DIR), in order."""
    folder = Path(app.config["PROMPT_CACHE_DIR"])
    texts = []
    for verb in ElementTree.fromstring(twiml).iter():
        if verb.tag == "Say":
            texts.append(verb.text or "")
        elif verb.tag == "Play" and "/prompts/" in (verb.text or ""):
            texts.append((folder / Path(verb.text).name).with_suffix(".txt").read_text(encoding="utf-8"))
    return " ".join(texts)


# Every server and app of the tests is open around the clock and has no holidays, so that tests pass at any hour
# (a test of closed hours sets its own).
os.environ.setdefault("OPENING_HOURS", "mon-sun 00:00-24:00")
os.environ.setdefault("HOLIDAYS_FILE", "")
# Short timers so whole calls take seconds; always open, so tests pass at any hour.
TEST_SERVER_SETTINGS = {"RING_TIMEOUT_S": "3", "CALLBACK_RETRY_S": "1", "CALLBACK_RING_S": "2", "CALLBACK_OFFER_AFTER_S": "1",
                        "OPENING_HOURS": "mon-sun 00:00-24:00"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real server (python app.py) in its own process, on a free port and a temp database."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.env = server_env({**os.environ, "PORT": str(self.port), "DATABASE_PATH": str(workdir / "server.db"),
                               "PROMPT_CACHE_DIR": str(workdir / "prompts"), **(env or {})})
        self.db_path = self.env["DATABASE_PATH"]
        self.database = self.env.get("DATABASE_URL") or self.db_path  # what the server stores in
        self.proc: subprocess.Popen | None = None
        self._sim: requests.Session | None = None

    def start(self) -> Server:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("server did not start within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    @property
    def sim(self) -> requests.Session:
        """HTTP to a local-mode server's simulator (its control API takes the server's local token only)."""
        if self._sim is None:
            token = self.env.get("TWILIO_AUTH_TOKEN") or (ROOT / "instance" / "local_auth_token").read_text().strip()
            self._sim = requests.Session()
            self._sim.headers["Authorization"] = f"Bearer {token}"
        return self._sim

    def query(self, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
        """Rows of the server's database (the same SQL on either backend)."""
        return self.seed(lambda db: fetch_all(db, sql, params))

    def oracle(self) -> sqlite3.Connection:
        """The center's data in SQLite, for a test's own SQL (see tests.databases.sqlite_copy)."""
        return sqlite_copy(self.database)

    def seed(self, fn) -> Any:
        """Run ``fn(db)`` against the server's database (test data, never the demo's)."""
        database = connect(self.database)
        try:
            return fn(database)
        finally:
            database.conn.close()

    def call(self, from_: str, steps: list[dict[str, Any]] | None = None, timeout: float = 90, **script: Any) -> dict[str, Any]:
        """Place a simulated call on the server's simulator and wait until it ends; returns its summary."""
        body = {"from": from_, "steps": steps or [], "hold_s": 5, **script}
        created = self.sim.post(self.base_url + "/sim/calls", json=body, timeout=10)
        assert created.status_code == 201, created.text
        return self.wait_call(created.json()["call_sid"], timeout)

    def start_call(self, from_: str, steps: list[dict[str, Any]] | None = None, **script: Any) -> str:
        created = self.sim.post(self.base_url + "/sim/calls", json={"from": from_, "steps": steps or [], **script}, timeout=10)
        assert created.status_code == 201, created.text
        return created.json()["call_sid"]

    def wait_call(self, sid: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.sim.get(f"{self.base_url}/sim/calls/{sid}", timeout=10).json()
            if state["ended"]:
                return state
            time.sleep(0.1)
        raise AssertionError(f"call {sid} did not end within {timeout} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server"), TEST_SERVER_SETTINGS).start()
    srv.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", datetime.now(UTC)))
    yield srv
    srv.stop()


def presence(server: Server, agent_id: str) -> str:
    return server.query("SELECT presence FROM agents WHERE id = ?", [agent_id])[0]["presence"]


@pytest.fixture
def staff(server, tmp_path):
    """Add agents to the running center (unique ids per test), with simulated softphones; all offline afterwards."""
    added = []

    def add(name, languages, skills, *, answers=True, talk_s=1.0, answer_after_s=0.2):
        agent_id = f"{name}_{secrets.token_hex(3)}"
        path = tmp_path / f"{agent_id}.yaml"
        path.write_text(
            yaml.safe_dump({"agents": [{"id": agent_id, "name": name, "languages": languages, "skills": skills}]})
        )
        server.seed(lambda db: admin.load_center(db, path, datetime.now(UTC)))
        server.seed(lambda db: service.set_presence(db, agent_id, "available", datetime.now(UTC)))
        phone = {"answers": answers, "talk_s": talk_s, "answer_after_s": answer_after_s}
        assert server.sim.post(f"{server.base_url}/sim/clients/{agent_id}", json=phone, timeout=5).status_code == 200
        added.append(agent_id)
        return agent_id

    yield add
    for agent_id in added:

        def offline(db, agent_id=agent_id):
            row = db["agents"].get(agent_id)
            if row["presence"] in ("available", "break", "wrapup"):
                service.set_presence(db, agent_id, "offline", datetime.now(UTC))

        wait_until(lambda agent_id=agent_id: presence(server, agent_id) not in ("busy", "reserved"))
        server.seed(offline)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test of SQLite itself (its file, lock or tracer), run in "
                                       "the SQLite pass only")
    config.addinivalue_line("markers", "postgres_only(reason): a test of several nodes on one PostgreSQL database, run "
                                       "in the PostgreSQL pass only")


def pytest_collection_modifyitems(config, items) -> None:
    """Leave out the tests that belong to the other pass (sqlite_only, postgres_only), and say which and why."""
    other = "sqlite_only" if backend() == "postgresql" else "postgres_only"
    left = [item for item in items if item.get_closest_marker(other)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if not item.get_closest_marker(other)]
        config._other_pass = sorted({item.get_closest_marker(other).kwargs["reason"] for item in left})


def pytest_report_header(config) -> str:
    return f"database backend: {backend()}" + (f" ({POSTGRES})" if POSTGRES else " (set DATABASE_URL=postgresql://… for PostgreSQL)")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    other = "SQLite" if backend() == "postgresql" else "PostgreSQL"
    for reason in getattr(config, "_other_pass", []):
        terminalreporter.write_line(f"left to the {other} pass: {reason}")


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


