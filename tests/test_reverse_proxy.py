"""The README's production layout, run for real: nginx (deploy/nginx.conf, its listen and TLS lines swapped for a
local port) in front of a request pool (SERVE=requests, 4 threads) and a live pool (SERVE=live). Clients that send
their headers or bodies slowly, or nothing at all, hold nginx connections and no gunicorn thread: signed webhooks go
on answering at once, while the same attack straight at gunicorn stalls them. Event streams and Media Streams pass
through nginx to the live pool."""

from __future__ import annotations

import contextlib
import re
import runpy
import socket
import time
from pathlib import Path

import requests
from gunicorn.config import Config
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness import nginx
from tests.conftest import ROOT, free_port, wait_until
from tests.test_live_connections import TOKEN, TWILIO_MODE, signed_in_as_ann, signed_incoming, start_gunicorn
from wire.signature import sign

ATTACKERS = 40  # of each kind
NGINX_UPSTREAM_KEEPALIVE_DEFAULT_S = 60  # nginx's keepalive_timeout in an upstream block when none is given


def open_attackers(port: int) -> list[socket.socket]:
    """Slow headers, slow bodies and silent connections, ATTACKERS of each, left open."""
    sockets = []
    for kind in ("headers", "body", "silent"):
        for _ in range(ATTACKERS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if kind == "headers":
                sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Twilio-")
            elif kind == "body":
                sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\nCallSid=CA")
            sockets.append(sock)
    return sockets


def closed_by_peer(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        while sock.recv(4096):
            pass  # nginx answers 408 (or nothing) and closes
        return True
    except (TimeoutError, OSError):
        return False


def webhook_answers_within(base: str, public: str, seconds: float) -> bool:
    try:
        return signed_incoming(base, timeout=seconds, public=public) < seconds
    except requests.Timeout:
        return False


def test_slow_and_silent_clients_cannot_stall_webhooks_behind_nginx_and_live_connections_pass_through(tmp_path):
    assert Path(nginx.NGINX).exists(), "nginx is not installed: make test installs Debian's nginx package"
    requests_port, live_port, nginx_port = free_port(), free_port(), free_port()
    public = f"http://127.0.0.1:{nginx_port}"
    pool = start_gunicorn(tmp_path, requests_port, threads=4, log="requests.log", SERVE="requests",
                          TRUSTED_PROXIES="1", PUBLIC_BASE_URL=public, **TWILIO_MODE)
    live = start_gunicorn(tmp_path, live_port, threads=16, log="live.log", SERVE="live", LIVE_CONNECTIONS="12",
                          TRUSTED_PROXIES="1", PUBLIC_BASE_URL=public, **TWILIO_MODE)
    proxy = nginx.start(tmp_path, nginx_port, {"127.0.0.1:8000": requests_port, "127.0.0.1:8001": live_port})
    attackers: list[socket.socket] = []
    try:
        wait_until(lambda: _answers(public + "/healthz"), 30)

        # Straight at gunicorn, a handful of slow clients take all four threads: a webhook waits.
        direct = f"http://127.0.0.1:{requests_port}"
        attackers = open_attackers(requests_port)[:8]
        assert not webhook_answers_within(direct, public, 3.0)
        _close(attackers)
        wait_until(lambda: webhook_answers_within(direct, public, 1.0), 30)

        # Behind nginx, 120 of them change nothing.
        attackers = open_attackers(nginx_port)
        latencies = [signed_incoming(public) for _ in range(20)]
        assert max(latencies) < 1.0, latencies
        assert requests.get(public + "/healthz", timeout=5).status_code == 200

        ann = signed_in_as_ann(public)
        with ann.get(public + "/events", stream=True, timeout=10) as stream:
            assert stream.status_code == 200
            assert next(stream.iter_lines(decode_unicode=True), "").startswith(("data:", "retry:", ":"))
        media_url = f"ws://127.0.0.1:{nginx_port}/voice/media"
        opened = time.monotonic()
        with connect(media_url, additional_headers={"X-Twilio-Signature": sign(TOKEN, media_url, {})},
                     open_timeout=10) as ws, contextlib.suppress(ConnectionClosed):
            ws.recv(timeout=20)  # upgraded through nginx; the live pool closes a stream that sends no start
        assert time.monotonic() - opened < 15
        assert "sent no start within" in (tmp_path / "live.log").read_text()

        # nginx itself gives up on the slow ones after its timeouts (10 s in the sample).
        slow = attackers[:ATTACKERS * 2]
        assert sum(closed_by_peer(sock, 20) for sock in slow[:10] + slow[-10:]) == 20
    finally:
        _close(attackers)
        proxy.terminate()
        proxy.wait(10)
        for proc in (pool, live):
            proc.terminate()
            proc.wait(20)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def test_nginx_closes_an_idle_upstream_connection_before_gunicorn_does():
    """Otherwise nginx can send a webhook down a kept-alive connection gunicorn is closing, and Twilio hears 502
    (gunicorn's default keep-alive is 2 s, nginx's upstream cache keeps a connection 60 s)."""
    gunicorn_s = runpy.run_path(str(ROOT / "gunicorn.conf.py")).get("keepalive", Config().keepalive)
    for sample in ("upstreams-one-node.conf", "upstreams-two-nodes.conf"):
        block = re.search(r"upstream contact_center_requests \{(.*?)\}", (ROOT / "deploy" / sample).read_text(), re.S)
        assert block is not None and "keepalive " in block.group(1), sample
        timeout = re.search(r"keepalive_timeout (\d+)s;", block.group(1))
        nginx_s = int(timeout.group(1)) if timeout else NGINX_UPSTREAM_KEEPALIVE_DEFAULT_S
        assert nginx_s < gunicorn_s, f"{sample}: nginx keeps an idle connection {nginx_s} s, gunicorn {gunicorn_s} s"
