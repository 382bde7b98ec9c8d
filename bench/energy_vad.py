"""The energy voice-activity detector the product used before Silero VAD, kept as the speech bench's same-run baseline
(``bench.bench_speech.voice_activity``): frame energy against a tracked noise floor, 20 ms frames at 8 kHz."""

from __future__ import annotations

import numpy as np

from wire.mulaw import FRAME_MS, SAMPLE_RATE


class EnergyDetector:
    """Voice where a frame is THRESHOLD_DB above the noise floor (which follows quieter frames quickly and rises slowly
    through speech); the same interface as ``speech.audio.SpeechDetector``."""

    THRESHOLD_DB = 9.0
    FLOOR_FALL = 0.3  # share of the way down to a quieter frame
    FLOOR_RISE = 0.05  # share of the way up to a louder frame…
    FLOOR_RISE_DB = 0.1  # …but at most this per frame (5 dB a second)
    MIN_VOICE_DB = 30.0  # about -60 dBFS: quieter is never a voice
    MIN_VOICED_FRAMES = 2  # a run this long starts speech (a click does not)
    SAMPLES = SAMPLE_RATE * FRAME_MS // 1000

    def __init__(self) -> None:
        self.floor_db: float | None = None
        self.position_ms = 0
        self.voice_start_ms: int | None = None
        self.voice_end_ms: int | None = None
        self._run = 0
        self._pending = np.zeros(0, dtype=np.int16)

    def __call__(self, pcm: np.ndarray) -> None:
        samples = np.concatenate([self._pending, pcm])
        whole = len(samples) // self.SAMPLES * self.SAMPLES
        self._pending = samples[whole:]
        if whole == 0:
            return
        power = np.mean(samples[:whole].astype(np.float64).reshape(-1, self.SAMPLES) ** 2, axis=1)
        for level in 10 * np.log10(np.maximum(power, 1.0)):
            self._frame(float(level))

    def _frame(self, level: float) -> None:
        self.position_ms += FRAME_MS
        if level < self.MIN_VOICE_DB - 10:  # digital silence says nothing about the line's noise
            self._run = 0
            return
        if self.floor_db is None:
            floor = level
        elif level < self.floor_db:
            floor = self.floor_db + self.FLOOR_FALL * (level - self.floor_db)
        else:
            floor = self.floor_db + min(self.FLOOR_RISE_DB, self.FLOOR_RISE * (level - self.floor_db))
        self.floor_db = floor
        voiced = level >= max(floor + self.THRESHOLD_DB, self.MIN_VOICE_DB)
        self._run = self._run + 1 if voiced else 0
        if self._run >= self.MIN_VOICED_FRAMES:
            if self.voice_start_ms is None:
                self.voice_start_ms = self.position_ms - self._run * FRAME_MS
            self.voice_end_ms = self.position_ms
