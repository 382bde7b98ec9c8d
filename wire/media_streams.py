"""Twilio Media Streams messages, as Twilio's "Media Streams - WebSocket Messages" page gives them.

From Twilio: ``connected``, ``start`` (callSid, streamSid, customParameters, mediaFormat), ``media``
(base64 μ-law, 20 ms, track, chunk, timestamp), ``dtmf``, ``mark`` (echoed once the audio sent before
it has played) and ``stop``. To Twilio, on a bidirectional (``<Connect><Stream>``) stream: ``media``,
``mark`` and ``clear``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping

from wire.mulaw import FRAME_BYTES, FRAME_MS, SAMPLE_RATE

ENCODING = "audio/x-mulaw"


def connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start(stream_sid: str, call_sid: str, account_sid: str, custom_parameters: Mapping[str, str], sequence: int) -> str:
    return json.dumps({
        "event": "start",
        "sequenceNumber": str(sequence),
        "start": {
            "accountSid": account_sid,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": dict(custom_parameters),
            "mediaFormat": {"encoding": ENCODING, "sampleRate": SAMPLE_RATE, "channels": 1},
        },
        "streamSid": stream_sid,
    })


def media(stream_sid: str, chunk: int, payload: bytes, sequence: int) -> str:
    """One frame of the caller's audio (chunk 1 is at timestamp 0)."""
    return json.dumps({
        "event": "media",
        "sequenceNumber": str(sequence),
        "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str((chunk - 1) * FRAME_MS),
                  "payload": base64.b64encode(payload).decode()},
        "streamSid": stream_sid,
    })


def dtmf(stream_sid: str, digit: str, sequence: int) -> str:
    return json.dumps({"event": "dtmf", "streamSid": stream_sid, "sequenceNumber": str(sequence),
                       "dtmf": {"track": "inbound_track", "digit": digit}})


def stop(stream_sid: str, call_sid: str, account_sid: str, sequence: int) -> str:
    return json.dumps({"event": "stop", "sequenceNumber": str(sequence), "streamSid": stream_sid,
                       "stop": {"accountSid": account_sid, "callSid": call_sid}})


def mark(stream_sid: str, name: str) -> str:
    """To Twilio: send ``name`` back once the audio sent before it has played (and Twilio's echo of it)."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def play(stream_sid: str, audio: bytes) -> str:
    """To Twilio: play 8 kHz μ-law ``audio`` to the caller."""
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(audio).decode()}})


def clear(stream_sid: str) -> str:
    """To Twilio: drop the audio buffered for playing (the caller barged in)."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


def inbound_messages(
    audio: bytes,
    *,
    call_sid: str,
    stream_sid: str,
    account_sid: str = "AC" + "0" * 32,
    custom_parameters: Mapping[str, str] | None = None,
    digit: str | None = None,
    stopped: bool = True,
) -> Iterator[str]:
    """The messages Twilio sends for a caller saying ``audio`` (μ-law): connected, start, 20 ms media…,
    an optional key after the audio, and stop."""
    sequence = iter(range(1, 1 << 31))
    yield connected()
    yield start(stream_sid, call_sid, account_sid, custom_parameters or {}, next(sequence))
    for chunk, offset in enumerate(range(0, len(audio), FRAME_BYTES), start=1):
        yield media(stream_sid, chunk, audio[offset : offset + FRAME_BYTES], next(sequence))
    if digit is not None:
        yield dtmf(stream_sid, digit, next(sequence))
    if stopped:
        yield stop(stream_sid, call_sid, account_sid, next(sequence))
