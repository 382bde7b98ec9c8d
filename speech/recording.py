"""A caller's voicemail, received over a Twilio Media Stream: kept as 8 kHz 16-bit PCM, ended by the hash key,
by silence once the caller has spoken, by the length limit, or by the stream ending (a hang-up keeps what was
said); written as a WAV file and transcribed with Vosk where a model exists. Audio never leaves this machine.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import vosk

from speech.audio import SpeechDetector
from wire.mulaw import FRAME_MS, SAMPLE_RATE, ulaw_decode

log = logging.getLogger(__name__)

FINISH_KEY = "#"


@dataclass
class Recording:
    """One voicemail's stream: ``receive`` each message; ``ended`` says why it is over (None: still recording)."""

    max_s: float
    silence_end_s: float
    no_speech_s: float
    start: dict[str, Any] | None = None
    ended: str | None = None
    pieces: list[np.ndarray] = field(default_factory=list)
    spoke_ms: int = 0  # media time where the caller's voice last ended (0: none yet)
    media_ms: int = 0
    voice: SpeechDetector = field(default_factory=SpeechDetector)  # the menus' voice activity detector

    def receive(self, message: str | bytes) -> None:
        """One Media Streams message; anything malformed is ignored (the limits still end the recording)."""
        try:
            data = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return
        event = data.get("event") if isinstance(data, dict) else None
        if event == "start" and self.start is None and isinstance(data.get("start"), dict):
            self.start = data["start"]
        elif event == "media" and self.start is not None and self.ended is None:
            self._media(data.get("media"))
        elif event == "dtmf" and (data.get("dtmf") or {}).get("digit") == FINISH_KEY:
            self.ended = self.ended or "key"
        elif event == "stop":
            self.ended = self.ended or "stopped"

    def _media(self, media: Any) -> None:
        try:
            pcm = ulaw_decode(base64.b64decode(media["payload"], validate=True))
        except (TypeError, KeyError, binascii.Error):
            return
        self.pieces.append(pcm)
        self.media_ms += FRAME_MS
        self.voice(pcm)
        self.spoke_ms = self.voice.voice_end_ms or 0
        if self.media_ms >= self.max_s * 1000:
            self.ended = "length"
        elif self.spoke_ms and self.media_ms - self.spoke_ms >= self.silence_end_s * 1000:
            self.ended = "silence"
        elif not self.spoke_ms and self.media_ms >= self.no_speech_s * 1000:
            self.ended = "nothing said"

    @property
    def pcm(self) -> np.ndarray:
        """What was said, without the trailing silence that ended it."""
        audio = np.concatenate(self.pieces) if self.pieces else np.zeros(0, dtype=np.int16)
        if self.ended == "silence":
            audio = audio[: self.spoke_ms * SAMPLE_RATE // 1000]
        return audio

    @property
    def seconds(self) -> float:
        return round(self.pcm.size / SAMPLE_RATE, 2)


def write_wav(path: Path, pcm: np.ndarray) -> None:
    """8 kHz mono 16-bit WAV, readable only by the server's user."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.astype("<i2").tobytes())
    path.chmod(0o600)


def transcribe(model: vosk.Model, pcm: np.ndarray) -> str:
    """Vosk's free recognition of the whole message (no grammar): its best text."""
    recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
    data = pcm.astype("<i2").tobytes()
    words = []
    for start in range(0, len(data), 8000):
        if recognizer.AcceptWaveform(data[start:start + 8000]):
            words.append(json.loads(recognizer.Result()).get("text", ""))
    words.append(json.loads(recognizer.FinalResult()).get("text", ""))
    return " ".join(w for w in words if w).strip()
