"""The Twilio softphone's sounds, made here so the browser never fetches them from Twilio's CDN.

``python -m web.sounds`` writes ``static/sounds/``: ``ring.wav`` (incoming and outgoing), ``hangup.wav`` and a
DTMF tone per key (``dtmf-0.wav`` … ``dtmf-9.wav``, ``dtmf-s.wav`` for *, ``dtmf-h.wav`` for #). The files are
committed; run this again only to change them. ``static/js/agent.js`` hands them to the SDK's ``sounds`` option.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 8000
FOLDER = Path(__file__).parent / "static" / "sounds"
DTMF = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
        "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "s": (941, 1209), "0": (941, 1336), "h": (941, 1477)}


def tone(frequencies: tuple[int, ...], seconds: float, volume: float = 0.3) -> list[float]:
    count = int(RATE * seconds)
    return [volume * sum(math.sin(2 * math.pi * f * i / RATE) for f in frequencies) / len(frequencies)
            for i in range(count)]


def silence(seconds: float) -> list[float]:
    return [0.0] * int(RATE * seconds)


def write(name: str, samples: list[float]) -> None:
    with wave.open(str(FOLDER / name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", int(s * 32767)) for s in samples))


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    burst = tone((400, 450), 0.4)
    write("ring.wav", burst + silence(0.2) + burst + silence(2.0))  # the SDK loops it while ringing
    write("hangup.wav", tone((480, 620), 0.25) + silence(0.1) + tone((480, 620), 0.25))
    for key, pair in DTMF.items():
        write(f"dtmf-{key}.wav", tone(pair, 0.15))


if __name__ == "__main__":
    main()
