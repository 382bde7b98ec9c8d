"""Audio for recognition: upsampling phone audio for the model and telling voice from silence.

The μ-law codec and framing of phone audio are the wire format (``wire.mulaw``).
"""

from __future__ import annotations

import numpy as np

from wire.mulaw import FRAME_MS, SAMPLE_RATE


class Upsampler:
    """Streaming 2× upsampler (8 kHz → 16 kHz) with a windowed-sinc low-pass, keeping state across chunks."""

    TAPS = 31

    def __init__(self) -> None:
        n = np.arange(self.TAPS) - (self.TAPS - 1) / 2
        kernel = np.sinc(n / 2) * np.blackman(self.TAPS)
        self._kernel = kernel / kernel.sum() * 2  # zero-stuffing halves the gain
        self._history = np.zeros(self.TAPS - 1)

    def __call__(self, pcm: np.ndarray) -> np.ndarray:
        """int16 samples at 8 kHz → int16 samples at 16 kHz (delayed by the filter's half length)."""
        stuffed = np.zeros(2 * len(pcm))
        stuffed[::2] = pcm
        signal = np.concatenate([self._history, stuffed])
        self._history = signal[-(self.TAPS - 1) :]
        out = np.convolve(signal, self._kernel, mode="valid")
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


class SpeechDetector:
    """Where the caller's voice is: frame energy against a tracked noise floor (20 ms frames at 8 kHz).

    The recognizer decides *what* was said; in steady noise it keeps hearing menu words and never
    reaches an endpoint, so the end of speech is found here: the frames louder than the floor by
    THRESHOLD_DB. The floor follows quieter frames quickly and rises slowly through speech. (Tuned on
    espeak-ng words in pink noise at 10-20 dB SNR: no speech found in 5 s of noise alone, speech
    edges within about 100 ms of those found in the same words without noise.)
    """

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
        self.voice_start_ms: int | None = None  # start of the speech heard since the last reset
        self.voice_end_ms: int | None = None  # end of its last voiced frame
        self._run = 0
        self._pending = np.zeros(0, dtype=np.int16)

    def __call__(self, pcm: np.ndarray) -> None:
        """Take the next 8 kHz samples (any length; a partial frame waits for the rest)."""
        samples = np.concatenate([self._pending, pcm])
        whole = len(samples) // self.SAMPLES * self.SAMPLES
        self._pending = samples[whole:]
        if whole == 0:
            return
        power = np.mean(samples[:whole].astype(np.float64).reshape(-1, self.SAMPLES) ** 2, axis=1)
        for level in 10 * np.log10(np.maximum(power, 1.0)):
            self._frame(float(level))

    def reset(self) -> None:
        """Forget the speech heard so far (the utterance was handled); keep the noise floor."""
        self.voice_start_ms = self.voice_end_ms = None
        self._run = 0

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
