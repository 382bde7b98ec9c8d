"""Voicemail kept on our own disk: a Korean caller rings on a holiday, hears it named, presses 2, leaves a message
(synthesized Korean streamed over a Media Stream, as Twilio sends it); the WAV is in VOICEMAIL_DIR (0600), real
Vosk transcribed it, agents and supervisors see it listed, play it in Chromium and mark it done. A caller who hangs
up mid-message keeps what was said; the hash key ends a message; forgetting the caller deletes the file."""

from __future__ import annotations

import os
import secrets
import stat
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
import requests
import yaml
from playwright.sync_api import expect
from websockets.sync.client import connect

from routing import admin
from simulator.voices import caller_audio
from speech.recording import Recording
from store import calls as store_calls
from tests.conftest import ROOT, Server, new_number, wait_until
from tests.web_support import PASSWORD, browser_fixture, now, sign_in, signed_in  # noqa: F401 (fixture browser)
from wire import media_streams
from wire.mulaw import frames, silence
from wire.signature import sign

TOKEN = "voicemail-test-" + "7" * 17
MESSAGE = "안녕하세요 주문 상태를 알고 싶습니다 전화 주세요"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("voicemail")
    holidays = workdir / "holidays.yaml"
    holidays.write_text(yaml.safe_dump([{"date": datetime.now(UTC).date().isoformat(), "names": {
        "en": "Harvest Day", "ru": "День урожая", "fa": "روز برداشت", "ko": "추수의 날"}}], allow_unicode=True),
        encoding="utf-8")
    running = Server(workdir, {"TWILIO_AUTH_TOKEN": TOKEN, "HOLIDAYS_FILE": str(holidays),
                               "VOICEMAIL_DIR": str(workdir / "messages"), "TIMEZONE": "UTC"}).start()
    people = workdir / "people.yaml"
    people.write_text(yaml.safe_dump({"agents": [
        {"id": "jun", "name": "Jun Seo", "password": PASSWORD, "languages": ["ko"], "skills": {}},
        {"id": "sam", "name": "Sam", "role": "supervisor", "password": PASSWORD}]}))
    running.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", now()))
    running.seed(lambda db: admin.load_center(db, people, now()))
    yield running
    running.stop()


def korean_caller(server: Server) -> str:
    number = new_number()
    server.seed(lambda db: store_calls.upsert_caller(db, number, name="김민수", language="ko"))
    return number


def test_a_korean_caller_leaves_a_message_on_a_holiday_and_an_agent_plays_it_and_marks_it_done(server, browser):
    number = korean_caller(server)
    result = server.call(number, [{"keys": "2"}, {"say": MESSAGE, "lang": "ko"}])
    heard = " ".join(result["heard"])
    assert "오늘은 추수의 날 휴무입니다." in heard and "메시지를 남겨 주세요." in heard
    assert result["heard"][-1].startswith("감사합니다. 메시지를 받았으며")
    row = server.query("SELECT * FROM voicemails WHERE call_sid = ?", [result["call_sid"]])[0]
    assert row["ended_by"] == "silence" and row["status"] == "open" and row["number"] == number
    assert row["seconds"] > 1.5 and row["language"] == "ko"
    assert row["transcript"] and any("\uac00" <= ch <= "\ud7a3" for ch in row["transcript"])  # Vosk's Hangul
    with wave.open(row["path"]) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert abs(audio.getnframes() / 8000 - row["seconds"]) < 0.05
    assert stat.S_IMODE(os.stat(row["path"]).st_mode) == 0o600
    assert server.query("SELECT outcome FROM calls WHERE sid = ?", [result["call_sid"]]) == [{"outcome": "voicemail"}]

    jun = signed_in(server, "jun")
    listed = [m for m in jun.get("/api/voicemails").json()["voicemails"] if m["id"] == row["id"]]
    assert listed and listed[0]["caller_name"] == "김민수" and listed[0]["transcript"] == row["transcript"]
    wav = jun.get(f"/api/voicemails/{row['id']}/audio")
    assert wav.status_code == 200 and wav.headers["Content-Type"] == "audio/wav" and wav.content[:4] == b"RIFF"
    assert requests.get(f"{server.base_url}/api/voicemails/{row['id']}/audio", timeout=10).status_code == 401

    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(page, server, "jun")
    message = page.locator(f'#voicemails li[data-voicemail="{row["id"]}"]')
    expect(message).to_contain_text("김민수", timeout=WAIT_MS)
    expect(message.locator(".transcript")).to_have_text(row["transcript"])
    played = message.locator("audio").evaluate("""audio => new Promise((resolve, reject) => {
        audio.muted = true;
        audio.play().then(() => setTimeout(() => resolve([audio.duration, audio.currentTime]), 700), reject);
    })""")
    assert played[0] == pytest.approx(row["seconds"], abs=0.1) and played[1] > 0.2
    message.get_by_role("button", name="Mark done").click()
    expect(message.locator("button")).to_have_count(0, timeout=WAIT_MS)
    expect(message).to_contain_text("Done by jun")
    assert server.query("SELECT status, done_by FROM voicemails WHERE id = ?", [row["id"]]) == [
        {"status": "done", "done_by": "jun"}]
    assert jun.post(f"/api/voicemails/{row['id']}/done").status_code == 409
    sam = signed_in(server, "sam")
    assert any(m["id"] == row["id"] for m in sam.get("/api/voicemails").json()["voicemails"])

    forgotten = sam.post(f"/api/callers/{number}/forget", json={"confirm": True})
    assert forgotten.status_code == 200
    assert not os.path.exists(row["path"]) and server.query("SELECT id FROM voicemails WHERE id = ?", [row["id"]]) == []


def message_stream(server: Server, number: str) -> tuple[str, str, dict[str, str]]:
    """A new call from ``number`` that presses 2 at the closed offer: its sid, the stream URL and parameters."""
    sid = "CA" + secrets.token_hex(16)
    url = server.base_url + "/voice/incoming"
    form = {"CallSid": sid, "From": number, "To": "+15550001000", "CallStatus": "ringing", "Direction": "inbound"}
    offer = requests.post(url, data=form, headers={"X-Twilio-Signature": sign(TOKEN, url, form)}, timeout=10)
    action = ElementTree.fromstring(offer.text).find(".//Gather").get("action")
    step = {"CallSid": sid, "Digits": "2", "CallStatus": "in-progress"}
    answer = requests.post(action, data=step, headers={"X-Twilio-Signature": sign(TOKEN, action, step)}, timeout=10)
    stream = ElementTree.fromstring(answer.text).find(".//Stream")
    assert urlsplit(stream.get("url")).path == "/voice/voicemail"
    return sid, stream.get("url"), {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


def test_a_caller_who_hangs_up_mid_message_keeps_what_was_said(server):
    sid, url, parameters = message_stream(server, korean_caller(server))
    stream_sid = "MZ" + secrets.token_hex(16)
    with connect(url, additional_headers={"X-Twilio-Signature": sign(TOKEN, url, {})}, open_timeout=10) as ws:
        ws.send(media_streams.connected())
        ws.send(media_streams.start(stream_sid, sid, "AC" + "0" * 32, parameters, 1))
        for n, payload in enumerate(frames(caller_audio(MESSAGE, "ko")), start=2):
            ws.send(media_streams.media(stream_sid, n, payload, n))
    # the socket closed without "stop": the caller hung up
    wait_until(lambda: server.query("SELECT ended_by FROM voicemails WHERE call_sid = ?", [sid]), 20)
    row = server.query("SELECT ended_by, seconds FROM voicemails WHERE call_sid = ?", [sid])[0]
    assert row["ended_by"] == "hung up" and row["seconds"] > 1.5


def test_a_replayed_start_keeps_no_second_message(server):
    """A captured handshake and start, sent again within the token's two minutes, adds nothing: one token, one message."""
    sid, url, parameters = message_stream(server, korean_caller(server))
    for _ in range(2):
        with connect(url, additional_headers={"X-Twilio-Signature": sign(TOKEN, url, {})}, open_timeout=10) as ws:
            ws.send(media_streams.start("MZ" + "3" * 32, sid, "AC" + "0" * 32, parameters, 1))
            for n, payload in enumerate(frames(caller_audio(MESSAGE, "ko")), start=2):
                ws.send(media_streams.media("MZ" + "3" * 32, n, payload, n))
        wait_until(lambda: server.query("SELECT id FROM voicemails WHERE call_sid = ?", [sid]), 20)
    assert len(server.query("SELECT id FROM voicemails WHERE call_sid = ?", [sid])) == 1
    wait_until(lambda: "token used before" in server.log_path.read_text(), 20)


def test_a_start_without_this_calls_token_keeps_nothing(server):
    sid, url, parameters = message_stream(server, korean_caller(server))
    with connect(url, additional_headers={"X-Twilio-Signature": sign(TOKEN, url, {})}, open_timeout=10) as ws:
        ws.send(media_streams.start("MZ" + "1" * 32, sid, "AC" + "0" * 32, {**parameters, "token": "forged"}, 1))
        ws.send(media_streams.media("MZ" + "1" * 32, 1, frames(caller_audio(MESSAGE, "ko"))[0], 2))
        ws.send(media_streams.stop("MZ" + "1" * 32, sid, "AC" + "0" * 32, 3))
    assert server.query("SELECT id FROM voicemails WHERE call_sid = ?", [sid]) == []


def test_a_message_ends_with_the_hash_key_at_the_length_limit_or_when_nothing_is_said():
    speech = frames(caller_audio(MESSAGE, "ko"))

    def fed(messages, **limits) -> Recording:
        recording = Recording(**{"max_s": 120, "silence_end_s": 3, "no_speech_s": 10, **limits})
        recording.receive(media_streams.start("MZ" + "2" * 32, "CA" + "2" * 32, "AC" + "0" * 32, {}, 1))
        for message in messages:
            recording.receive(message)
            if recording.ended:
                break
        return recording

    media = [media_streams.media("MZ" + "2" * 32, n, p, n) for n, p in enumerate(speech, start=2)]
    keyed = fed([*media[:50], media_streams.dtmf("MZ" + "2" * 32, "#", 99)])
    assert keyed.ended == "key" and keyed.seconds == pytest.approx(1.0)
    assert fed(media, max_s=1).ended == "length"
    quiet = [media_streams.media("MZ" + "2" * 32, n, p, n) for n, p in enumerate(frames(silence(11_000)), start=2)]
    assert fed(quiet).ended == "nothing said"
    assert fed([*media, *quiet]).ended == "silence"
    assert fed(["not json", b"\xff", '{"event": "media", "media": {"payload": "%%%"}}']).ended is None
