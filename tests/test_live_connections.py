"""Long-lived connections never starve Twilio's webhooks (issue 12): under gunicorn (1 worker, 6 threads, 3 of them
for live connections), one agent opens 10 event streams, strangers open 20 more, and 20 correctly signed media
sockets never send ``start``; meanwhile signed webhooks keep answering within 1 s, and what is over the limits is
refused at once (429 for the agent past their share, 503 when the process's live slots are taken, 401 for strangers,
the media sockets closed)."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from datetime import UTC, datetime

import requests
import yaml
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from routing import admin
from store.migrations import migrate
from tests.conftest import ROOT, free_port, wait_until
from tests.databases import connect_db, server_env
from tests.web_support import csrf_of
from wire.signature import sign

TOKEN = "live-test-" + "3" * 22
PASSWORD = "a long password for ann"
# Pools are for Twilio mode (local mode is one process, its simulator inside).
TWILIO_MODE = {"TWILIO_ACCOUNT_SID": "AC" + "4" * 32, "CALLBACK_CALLER_ID": "+12025550100"}


def start_gunicorn(tmp_path, port: int, threads: int = 6, log: str = "gunicorn.log", **settings: str) -> subprocess.Popen:
    """gunicorn (one gthread worker) on the test's database, Ann in it; ``settings`` over the test's defaults."""
    db_path = tmp_path / "live.db"
    if not (tmp_path / "center.yaml").exists():
        center = tmp_path / "center.yaml"
        center.write_text(yaml.safe_dump({"agents": [{"id": "ann", "name": "Ann", "password": PASSWORD,
                                                      "languages": ["en"]}]}))
        database = connect_db(str(db_path))
        migrate(database)
        admin.load_center(database, center, datetime.now(UTC))
        database.conn.close()
    env = server_env({**os.environ, "DATABASE_PATH": str(db_path), "TWILIO_AUTH_TOKEN": TOKEN, "LIVE_CONNECTIONS": "3",
                      "LIVE_CONNECTIONS_PER_USER": "2", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                      "PROMPT_CACHE_DIR": str(tmp_path / "prompts"), **settings})
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", str(threads), "-b",
               f"127.0.0.1:{port}", "-c", str(ROOT / "gunicorn.conf.py"), "app:create_app()"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(tmp_path / log, "wb"), stderr=subprocess.STDOUT)
    wait_until(lambda: up(port), 60)
    return proc


def up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting
        return False


def signed_incoming(base: str, timeout: float = 15, public: str | None = None) -> float:
    """One signed new-call webhook (signed for ``public``, the address Twilio calls, when it is not ``base``); how
    long it took to answer (s)."""
    url = base + "/voice/incoming"
    form = {"CallSid": "CA" + secrets.token_hex(16), "From": "+12025550111", "To": "+15550001000", "CallStatus": "ringing"}
    signature = sign(TOKEN, (public or base) + "/voice/incoming", form)
    started = time.monotonic()
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=timeout)
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def test_event_streams_and_idle_media_sockets_cannot_starve_the_webhooks(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(tmp_path, port)
    held: list[requests.Response] = []
    sockets: list[threading.Thread] = []
    try:
        ann = signed_in_as_ann(base)
        answered = []
        for _ in range(10):  # one agent, ten tabs
            response = ann.get(base + "/events", stream=True, timeout=10)
            answered.append(response.status_code)
            if response.status_code == 200:
                held.append(response)
        assert answered.count(200) == 2 and answered.count(429) == 8, answered
        strangers = [requests.get(base + "/events", stream=True, timeout=10).status_code for _ in range(20)]
        assert set(strangers) == {401}

        media_url = f"ws://127.0.0.1:{port}/voice/media"
        closed: list[float] = []

        def idle_socket() -> None:
            opened = time.monotonic()
            try:
                with connect(media_url, additional_headers={"X-Twilio-Signature": sign(TOKEN, media_url, {})},
                             open_timeout=10) as ws:
                    ws.recv(timeout=30)  # never sends start; waits to be closed
            except (ConnectionClosed, TimeoutError, OSError):
                pass
            closed.append(time.monotonic() - opened)

        signed_incoming(base)  # the greeting is rendered on the first call (production builds prompts beforehand)
        for _ in range(20):
            sockets.append(threading.Thread(target=idle_socket, daemon=True))
            sockets[-1].start()
        latencies = [signed_incoming(base) for _ in range(20)]
        assert max(latencies) < 1.0, latencies
        for thread in sockets:
            thread.join(20)
        assert len(closed) == 20 and max(closed) < 10, closed  # refused at once, or closed 5 s after no start
    finally:
        for response in held:
            response.close()
        proc.terminate()
        proc.wait(20)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "media stream refused" in log or "sent no start within" in log


def signed_in_as_ann(base: str) -> requests.Session:
    ann = requests.Session()
    csrf = csrf_of(ann.get(base + "/login", timeout=10).text)
    assert ann.post(base + "/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf},
                    allow_redirects=False, timeout=10).status_code == 302
    return ann


def test_with_a_live_pool_beside_the_request_pool_a_full_live_pool_leaves_every_webhook_thread_free(tmp_path):
    """Two gunicorns on one database, as behind the README's proxy: SERVE=requests (4 threads) answers webhooks and
    pages; SERVE=live (a larger pool) holds event streams and Media Streams. Its every slot taken, the request pool
    still answers each signed webhook at once, and each pool refuses the other's paths with a clear message."""
    requests_port, live_port = free_port(), free_port()
    requests_base, live_base = f"http://127.0.0.1:{requests_port}", f"http://127.0.0.1:{live_port}"
    public = {"PUBLIC_BASE_URL": requests_base, **TWILIO_MODE}  # one public address; the proxy routes by path
    pool = start_gunicorn(tmp_path, requests_port, threads=4, log="requests.log", SERVE="requests", **public)
    live = start_gunicorn(tmp_path, live_port, threads=24, log="live.log", SERVE="live", LIVE_CONNECTIONS="20",
                          LIVE_CONNECTIONS_PER_USER="25", **public)
    held: list[requests.Response] = []
    try:
        ann = signed_in_as_ann(requests_base)  # signed in through the request pool; the cookie works in both
        for _ in range(20):
            response = ann.get(live_base + "/events", stream=True, timeout=10)
            assert response.status_code == 200
            held.append(response)
        assert ann.get(live_base + "/events", stream=True, timeout=10).status_code == 503  # the live pool is full
        latencies = [signed_incoming(requests_base) for _ in range(20)]
        assert max(latencies) < 1.0, latencies

        misrouted = ann.get(requests_base + "/events", timeout=10)
        assert misrouted.status_code == 421 and "live pool" in misrouted.json()["error"]
        media_url = f"ws://127.0.0.1:{requests_port}/voice/media"
        try:
            with connect(media_url, additional_headers={"X-Twilio-Signature": sign(TOKEN, media_url, {})},
                         open_timeout=10):
                raise AssertionError("the request pool accepted a Media Stream")
        except InvalidStatus as refused:
            assert refused.response.status_code == 421
        elsewhere = requests.post(live_base + "/voice/incoming", data={"CallSid": "CA" + "1" * 32}, timeout=10)
        assert elsewhere.status_code == 404 and "only the live connections" in elsewhere.json()["error"]
        assert requests.get(live_base + "/healthz", timeout=10).status_code == 200
    finally:
        for response in held:
            response.close()
        for proc in (pool, live):
            proc.terminate()
            proc.wait(20)
