"""A captured Media Stream handshake cannot steer another caller (issue 12): the TwiML that opens a menu turn's
stream carries a token of that call and turn; a ``start`` with another call's token, none, an expired one or one used
before is refused, logged, and writes nothing on the call it named. A real server process; the attacker holds a
correctly signed handshake (Twilio signs only the fixed wss:// URL)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from core.model import turn_key
from store import calls as store_calls
from tests.conftest import Server, new_number, wait_until
from wire import media_streams
from wire.signature import sign

TOKEN = "stream-test-" + "7" * 20
SECRET = "stream-test-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("streams"), {"TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": SECRET}).start()
    yield running
    running.stop()


def korean_call(server: Server) -> tuple[str, dict[str, str]]:
    """A new call from a Korean caller (whose menus listen over a Media Stream); the stream's parameters."""
    number, sid = new_number(), "CA" + secrets.token_hex(16)
    server.seed(lambda db: store_calls.upsert_caller(db, number, language="ko"))
    url = server.base_url + "/voice/incoming"
    form = {"CallSid": sid, "From": number, "To": "+15550001000", "CallStatus": "ringing", "Direction": "inbound"}
    answer = requests.post(url, data=form, headers={"X-Twilio-Signature": sign(TOKEN, url, form)}, timeout=10)
    stream = ElementTree.fromstring(answer.text).find(".//Stream")
    assert stream is not None, answer.text
    return sid, {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


def open_stream(server: Server, call_sid: str, parameters: dict[str, str]) -> bool:
    """Start a stream for ``call_sid`` and press 1 on it; True when the server took the key (a result was kept)."""
    url = server.base_url.replace("http://", "ws://") + "/voice/media"
    stream_sid = "MZ" + secrets.token_hex(16)
    before = heard(server, call_sid)
    with connect(url, additional_headers={"X-Twilio-Signature": sign(TOKEN, url, {})}, open_timeout=10) as ws:
        ws.send(media_streams.connected())
        ws.send(media_streams.start(stream_sid, call_sid, "AC" + "0" * 32, parameters, 1))
        ws.send(media_streams.dtmf(stream_sid, "1", 2))
        try:
            while True:
                ws.recv(timeout=10)
        except (ConnectionClosed, TimeoutError):
            pass  # the server ends the turn and closes the socket
    return heard(server, call_sid) > before


def heard(server: Server, call_sid: str) -> int:
    return len(server.query("SELECT id FROM call_events WHERE call_sid = ? AND kind = 'heard'", [call_sid]))


def test_a_start_with_its_own_calls_token_is_taken_once(server):
    victim, parameters = korean_call(server)
    assert open_stream(server, victim, parameters)
    assert not open_stream(server, victim, parameters)  # the same token again
    wait_until(lambda: "with a token used before" in server.log_path.read_text())


def test_a_start_for_another_call_with_the_attackers_own_token_is_refused(server):
    victim, _ = korean_call(server)
    _, attackers = korean_call(server)
    steered = {**attackers, "call_sid": victim}
    assert not open_stream(server, victim, steered)
    assert heard(server, victim) == 0
    wait_until(lambda: "with a token of another call or turn" in server.log_path.read_text())


def test_a_start_without_a_token_or_with_an_expired_one_is_refused(server):
    from services.bootstrap import stream_tokens  # (the server's own key, from SECRET_KEY: to make a late token)

    victim, parameters = korean_call(server)
    bare = {k: v for k, v in parameters.items() if k not in ("token", "expires")}
    assert not open_stream(server, victim, bare)
    turn = turn_key(parameters["node"], int(parameters["attempt"]), parameters["confirming"] or None)
    late = stream_tokens(SECRET).issue(victim, turn, datetime.now(UTC) - timedelta(minutes=10))
    assert not open_stream(server, victim, {**bare, **late})
    assert heard(server, victim) == 0
    log = server.log_path.read_text()
    assert "without a token" in log and "with an expired token" in log
