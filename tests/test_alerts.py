"""Queue alerts against the real server: a caller waits in a queue nobody can serve; the monitor shows "no agent"
and then "longest wait" at once; each is raised once, POSTed to a local receiver with a valid signature (retried
after the receiver first answers 503), and cleared (and POSTed again) when the caller hangs up."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from playwright.sync_api import expect

import settings
from core.errors import ConfigError
from routing import admin
from routing.exceptions import RoutingError
from services.config import resolve
from store.migrations import migrate
from tests.conftest import free_port, new_number, wait_until
from tests.databases import connect_db as connect
from tests.web_support import browser_fixture, now, sign_in, start_web_server  # noqa: F401 (fixture browser)

SECRET = "alert-test-secret"
WAIT_MS = 20_000


class Receiver(ThreadingHTTPServer):
    """A webhook receiver: keeps every request; answers 503 to the first ``failures`` of them."""

    def __init__(self, port: int, failures: int) -> None:
        self.received: list[dict] = []
        self.failures = failures
        super().__init__(("127.0.0.1", port), Hook)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Receiver = self.server  # type: ignore[assignment]
        refused = len(server.received) < server.failures
        server.received.append({"headers": dict(self.headers), "body": body, "refused": refused})
        self.send_response(503 if refused else 204)
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port(), failures=1)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def delivered(receiver: Receiver) -> dict[str, dict]:
    """The alert changes the receiver accepted, by X-Alert-Id."""
    return {r["headers"]["X-Alert-Id"]: json.loads(r["body"]) for r in receiver.received if not r["refused"]}


def test_an_alert_is_shown_raised_once_delivered_signed_retried_and_cleared(tmp_path, receiver, browser):
    server = start_web_server(tmp_path, {"ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_port}/hook",
                                         "ALERT_WEBHOOK_SECRET": SECRET})
    try:
        center = tmp_path / "alerts.yaml"
        center.write_text(yaml.safe_dump({"queues": {"billing": {
            "skills": {"billing": 3}, "sl_target_s": 20, "wrapup_s": 1, "alerts": {"longest_wait_s": 4}}}}))
        server.seed(lambda db: admin.load_center(db, center, now()))
        page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        sign_in(page, server, "sam")

        sid = server.start_call(new_number(), [{"keys": "2"}])  # billing; Olga, its only agent, is offline
        alerts = page.locator("#alerts li")
        expect(page.locator('#alerts li[data-kind="no_agent"]')).to_contain_text(
            "billing: 1 caller waiting and nobody signed in who can take them", timeout=WAIT_MS)
        expect(page.locator('#alerts li[data-kind="longest_wait"]')).to_contain_text("billing: a caller has waited",
                                                                                      timeout=WAIT_MS)
        open_alerts = {row["kind"]: row["id"] for row in server.query("SELECT * FROM alerts WHERE cleared_at IS NULL")}
        assert set(open_alerts) == {"no_agent", "longest_wait"}

        # delivered, the first attempt refused by the receiver and tried again
        wait_until(lambda: {f"{open_alerts['no_agent']}-raised", f"{open_alerts['longest_wait']}-raised"}
                   <= set(delivered(receiver)), 40)
        first = receiver.received[0]
        assert first["refused"] and any(r["headers"]["X-Alert-Id"] == first["headers"]["X-Alert-Id"]
                                        for r in receiver.received[1:])
        for request in receiver.received:
            stamp, body = request["headers"]["X-Alert-Timestamp"], request["body"]
            expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request["headers"]["X-Alert-Signature"], expected)
        raised = delivered(receiver)[f"{open_alerts['no_agent']}-raised"]
        assert raised["queue"] == "billing" and raised["kind"] == "no_agent" and raised["detail"] == {"waiting": 1}
        assert server.query("SELECT count(*) AS n FROM alerts WHERE kind = 'no_agent'") == [{"n": 1}]  # raised once

        server.sim.post(f"{server.base_url}/sim/calls/{sid}/hangup", json={})
        expect(page.locator('#alerts li[data-kind="no_agent"]')).to_have_count(0, timeout=WAIT_MS)
        expect(page.locator('#alerts li[data-kind="longest_wait"]')).to_have_count(0)
        # the caller who gave up leaves the last half hour below target: that one stays raised
        expect(alerts).to_have_count(1)
        expect(page.locator('#alerts li[data-kind="service_level"]')).to_contain_text("billing: service level 0%")
        wait_until(lambda: {f"{open_alerts['no_agent']}-cleared", f"{open_alerts['longest_wait']}-cleared"}
                   <= set(delivered(receiver)), 40)
        cleared = delivered(receiver)[f"{open_alerts['no_agent']}-cleared"]
        assert cleared["state"] == "cleared" and cleared["cleared_at"]
        ids = [r["headers"]["X-Alert-Id"] for r in receiver.received if not r["refused"]]
        assert len(ids) == len(set(ids))  # nothing delivered twice
        assert server.query("SELECT count(*) AS n FROM alert_deliveries WHERE delivered_at IS NULL AND "
                            "next_attempt_at IS NULL") == [{"n": 0}]  # nothing given up
    finally:
        server.stop()


def test_alert_settings_and_thresholds_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_SECRET"):
        resolve({**settings.load({}), "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}, tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"queues": {"q": {"alerts": {"service_level_pct": 150}}}}))
    db = connect(str(tmp_path / "t.db"))
    migrate(db)
    with pytest.raises(RoutingError, match="service_level_pct is 1–100"):
        admin.load_center(db, bad, now())
