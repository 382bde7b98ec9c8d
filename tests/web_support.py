"""Helpers of the web tests: a server with people who can sign in, signed-in HTTP sessions, headless Chromium.

A test module imports the fixtures it uses (``from tests.web_support import browser_fixture, web_fixture``); they
are named ``browser`` and ``web``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from routing import admin
from store import calls as store_calls
from tests.conftest import ROOT, Server, new_sid

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# Screenshots go to docs/ only for `make screenshots` (SCREENSHOT_DIR=docs); a test run leaves the work tree alone.
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "contact-center-screenshots")

# Olga speaks Russian and is the billing expert; Sam supervises. Wrap-up is long enough to watch it count down.
CENTER = {
    "queues": {"billing": {"skills": {"billing": 3}, "sl_target_s": 20, "wrapup_s": 6}},
    "agents": [
        {"id": "olga", "name": "Olga Smirnova", "password": PASSWORD, "languages": ["ru", "en"],
         "skills": {"billing": 5}},
        {"id": "sam", "name": "Sam Rivera", "role": "supervisor", "password": PASSWORD},
    ],
}


def shot(name: str) -> Path:
    """Where a screenshot is saved (docs/ under `make screenshots`)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


def now() -> datetime:
    return datetime.now(UTC)


def start_web_server(workdir: Path, env: dict[str, str] | None = None) -> Server:
    """A real server (python app.py) on its own database with the test center, Olga and Sam."""
    server = Server(workdir, {"RING_TIMEOUT_S": "30", **(env or {})}).start()
    center = workdir / "web-center.yaml"
    center.write_text(yaml.safe_dump(CENTER, allow_unicode=True), encoding="utf-8")
    server.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", now()))
    server.seed(lambda db: admin.load_center(db, center, now()))
    return server


@pytest.fixture(scope="module", name="web")
def web_fixture(tmp_path_factory) -> Iterator[Server]:
    server = start_web_server(tmp_path_factory.mktemp("web"))
    yield server
    server.stop()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Session(requests.Session):
    """A signed-in HTTP session that sends its CSRF token on every request."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.csrf = ""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        headers = {"X-CSRF-Token": self.csrf, **(kwargs.pop("headers", None) or {})}
        return super().request(method, self.base_url + url if url.startswith("/") else url, *args, headers=headers,
                               timeout=kwargs.pop("timeout", 10), **kwargs)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def signed_in(server: Server, user: str, password: str = PASSWORD) -> Session:
    """An HTTP session signed in as ``user`` (through the login form, CSRF token and all)."""
    session = Session(server.base_url)
    session.csrf = csrf_of(session.get("/login").text)
    response = session.post("/login", data={"username": user, "password": password, "csrf_token": session.csrf},
                            allow_redirects=False)
    assert response.status_code == 302, response.text
    session.csrf = csrf_of(session.get(response.headers["Location"]).text)
    return session


def sign_in(page: Page, server: Server, user: str, password: str = PASSWORD) -> None:
    """Sign in through the login page like a person, with the keyboard."""
    page.goto(server.base_url + "/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r"/(agent|supervisor)$"))


def add_caller(server: Server, number: str, **fields: Any) -> int:
    return server.seed(lambda db: store_calls.upsert_caller(db, number, **fields))["id"]


def add_past_call(server: Server, caller_id: int, days_ago: int, **fields: Any) -> str:
    """A finished call of this caller some days ago (test data for the history)."""
    sid = new_sid()
    started = (now() - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    row = {"sid": sid, "caller_id": caller_id, "direction": "inbound", "status": "completed", "started_at": started,
           "ended_at": started, "path": json.dumps(["welcome", "main_menu"]), **fields}
    server.seed(lambda db: db["calls"].insert(row))
    return sid
