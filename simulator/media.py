"""The simulator's side of <Connect><Stream> and <Start><Stream>: Twilio's Media Streams protocol over a WebSocket.

Messages as Twilio sends them: ``connected``, ``start`` (callSid, streamSid, customParameters,
mediaFormat audio/x-mulaw 8000 Hz mono), ``media`` (base64 μ-law, 20 ms, track inbound, chunk and
timestamp), ``dtmf``, ``mark`` (echoed back when the server's audio before it has "played") and
``stop``. A <Connect> stream ends when the server closes the socket; then the <Connect> action is requested.

A <Start> stream (``ForkedStream``) runs beside the call's TwiML: it carries the call's audio as the call's media
clock moves (prompts playing, pauses, gather timeouts: ``Platform._sleep``), the caller's words where they speak
them, a quiet line elsewhere, until <Stop><Stream>, the server closing it, or the end of the call. As on Twilio, the
socket carries audio only once it is open: what the caller says in the first ``STREAM_OPEN_MS`` after <Start> is
lost (noted on the call as ``stream-audio-lost``).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from simulator.exceptions import SimulatorError
from simulator.twiml import Verb
from simulator.voices import LINE_DBFS, line_noise
from wire import media_streams as messages
from wire.mulaw import FRAME_BYTES, FRAME_MS, frames
from wire.signature import sign

if TYPE_CHECKING:
    from simulator.platform import Platform, SimCall

log = logging.getLogger(__name__)

SILENCE = b"\xff" * FRAME_BYTES  # μ-law zero
MAX_LISTEN_S = 15.0  # media time the caller stays on a stream the server does not close
FAST_BATCH_FRAMES = 25  # fast mode sends half a second of audio, then lets the server catch up
FAST_BATCH_PAUSE_S = 0.01
SERVER_CLOSE_WAIT_S = 30.0  # wall seconds to wait, after the last frame, for the server to decide and close
FRAME_S = FRAME_MS / 1000
STREAM_OPEN_MS = 400  # media time from <Start> until the socket carries audio (the handshake, Twilio's start-up)


def _media_frames(platform: Platform, call: SimCall) -> tuple[list[bytes], str | None]:
    """The caller's audio for this stream (their next Say, else silence) and a key to press, if any."""
    from simulator.platform import Keys, Say, Silence

    step = call.script.steps[0] if call.script.steps else None
    if isinstance(step, Say):
        call.script.steps.popleft()
        call.note("speak", text=step.text, heard_by="stream")
        return frames(step.line_audio()), None
    if isinstance(step, Keys):
        key = step.digits[0]
        step.digits = step.digits[1:]
        if not step.digits:
            call.script.steps.popleft()
        call.note("press", digits=key, via="stream")
        return [], key
    if isinstance(step, Silence):
        call.script.steps.popleft()
    return [], None


def _answer_server(ws: ClientConnection, stream_sid: str) -> bool:
    """Handle what the server sent so far (marks are echoed); False once the server closed."""
    while True:
        try:
            raw = ws.recv(timeout=0)
        except TimeoutError:
            return True
        except ConnectionClosed:
            return False
        message = json.loads(raw)
        if message.get("event") == "mark":
            ws.send(messages.mark(stream_sid, str(message.get("mark", {}).get("name", ""))))


def _server_closed(ws: ClientConnection, stream_sid: str, seconds: float) -> bool:
    """Wait up to ``seconds`` for the server to close the socket (answering marks meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _answer_server(ws, stream_sid):
            return True
        time.sleep(0.05)
    return False


def _connect(platform: Platform, url: str) -> ClientConnection:
    """Open a Media Streams socket as Twilio does (the handshake signed over the URL)."""
    headers = {"X-Twilio-Signature": sign(platform.auth_token, url, {})}
    try:
        return connect(url, additional_headers=headers, open_timeout=10, close_timeout=2)
    except (InvalidHandshake, InvalidStatus, OSError) as exc:
        raise SimulatorError(f"media stream {url} refused: {exc}") from None


def stream_call(platform: Platform, call: SimCall, noun: Verb) -> None:
    """Run one <Stream> of a <Connect>: stream the caller's audio until the server closes the socket."""
    from simulator.platform import new_sid

    url = noun.attr("url")
    parameters = {p.attr("name"): p.attr("value") for p in noun.children if p.name == "Parameter"}
    stream_sid = new_sid("MZ")
    platform.await_input(call, MAX_LISTEN_S)
    audio, key = _media_frames(platform, call)
    try:
        ws = _connect(platform, url)
    except SimulatorError as exc:
        call.note("stream-error", text=str(exc))
        raise
    call.note("stream", url=url.replace(platform.base_url.replace("http", "ws", 1), ""))
    sequence = 1
    started = time.monotonic()
    with ws:
        ws.send(messages.connected())
        sequence += 1
        ws.send(messages.start(stream_sid, call.sid, platform.account_sid, parameters, sequence))
        if key is not None:
            sequence += 1
            ws.send(messages.dtmf(stream_sid, key, sequence))
        silence_frames = int(MAX_LISTEN_S / 0.02)
        frames = audio + [SILENCE] * silence_frames
        for chunk, payload in enumerate(frames, start=1):
            if not _answer_server(ws, stream_sid):
                break
            sequence += 1
            try:
                ws.send(messages.media(stream_sid, chunk, payload, sequence))
            except ConnectionClosed:
                break
            if platform.time_scale:
                time.sleep(0.02 * platform.time_scale)
            elif chunk % FAST_BATCH_FRAMES == 0 and _server_closed(ws, stream_sid, FAST_BATCH_PAUSE_S):
                break  # fast mode: small batches, so a server that decided is never stuck behind a full socket
        else:  # everything sent: like Twilio, keep the stream open until the server closes it
            if not _server_closed(ws, stream_sid, SERVER_CLOSE_WAIT_S):
                sequence += 1
                ws.send(messages.stop(stream_sid, call.sid, platform.account_sid, sequence))
    call.note("stream-closed", seconds=round(time.monotonic() - started, 3))


class ForkedStream:
    """One <Start><Stream>: the call's inbound audio, frame by frame as the call's media clock moves."""

    def __init__(self, platform: Platform, call: SimCall, noun: Verb, at_frame: int) -> None:
        from simulator.platform import new_sid

        self.name = noun.attr("name") or new_sid("MZ")
        self.url = noun.attr("url")
        self.call_sid, self.account_sid = call.sid, platform.account_sid
        self.stream_sid = new_sid("MZ")
        self.first_frame = at_frame + STREAM_OPEN_MS // FRAME_MS
        self.sequence, self.chunk, self.lost_frames = 0, 0, 0
        self.closed = False
        parameters = {p.attr("name"): p.attr("value") for p in noun.children if p.name == "Parameter"}
        self.ws = _connect(platform, self.url)
        self._send(messages.connected())
        self._send(messages.start(self.stream_sid, call.sid, platform.account_sid, parameters, self._next()))

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def _send(self, message: str) -> None:
        try:
            self.ws.send(message)
        except ConnectionClosed:
            self.closed = True

    def send(self, frame: int, payload: bytes, speaking: bool) -> None:
        """The call's audio at media frame ``frame`` (lost while the socket is not open yet)."""
        if self.closed:
            return
        if frame < self.first_frame:
            self.lost_frames += speaking
            return
        self.chunk += 1
        self._send(messages.media(self.stream_sid, self.chunk, payload, self._next()))

    def poll(self) -> bool:
        """Notice whether the server closed the socket (it decided); True while open."""
        if not self.closed:
            self.closed = not _answer_server(self.ws, self.stream_sid)
        return not self.closed

    def stop(self) -> None:
        """<Stop><Stream>, or the call ended: Twilio's ``stop`` message, then the socket closes."""
        if not self.closed:
            self._send(messages.stop(self.stream_sid, self.call_sid, self.account_sid, self._next()))
            self.closed = True
        self.ws.close()


@functools.cache
def _line() -> list[bytes]:
    return frames(line_noise(1000, dbfs=LINE_DBFS, seed=7))


def quiet_line(frame: int) -> bytes:
    """What a <Start> stream carries at media frame ``frame`` while the caller says nothing."""
    line = _line()
    return line[frame % len(line)]
