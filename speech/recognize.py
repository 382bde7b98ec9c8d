"""Recognition off the web threads: a process-wide pool of worker threads that owns Vosk recognizers.

Each live stream gets a ``Recognition`` handle. ``feed()`` only queues μ-law audio; a pool worker
decodes it and runs ``KaldiRecognizer.AcceptWaveform`` (Vosk releases the GIL inside its C calls, so
workers run in parallel, one per core). Frames of one stream are processed in order by one worker at
a time, one 100 ms unit per turn on a worker, so that streams take turns when the pool is busy.
Results go to a callback or wait to be polled: a partial one after every decoded unit (so a
listener can follow the audio's progress) and a final one per utterance.

A grammar recognizer can be *verified*: a second recognizer decodes the same audio with a loop of
filler words (short syllables of the language). A grammar always finds its best menu word, even in
"thank you" or a cough; comparing its path score with the filler loop's tells whether the menu words
really fit the audio (``Result.fit``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import vosk

from speech.audio import SpeechDetector, Upsampler
from speech.exceptions import SpeechError
from wire.mulaw import SAMPLE_RATE, ulaw_decode

log = logging.getLogger(__name__)

DEFAULT_ALTERNATIVES = 5
# Audio is decoded in fixed units: results then do not depend on how the frames were bunched in
# time (Vosk's scores move with the chunking), and one call per 100 ms costs less than one per 20 ms.
UNIT_BYTES = SAMPLE_RATE // 10
UNKNOWN_WORDS = ("[unk]", "<UNK>", "<unk>")
LAG_SAMPLES = 5000
# Dither: the Gaussian noise (in 16-bit sample units) Kaldi adds to every frame by default. It fills
# the 4-8 kHz bands that telephone audio lacks, and recognition is much worse without it. Kaldi's is
# random; models.py turns it off and this module adds the same amount from a seeded generator, after
# upsampling to the model's 16 kHz (added at 8 kHz it would leave the upper bands empty).
DITHER = 1.0
MODEL_RATE = 2 * SAMPLE_RATE
# Only the caller's voice is decoded: from PREROLL before audio.SpeechDetector hears it to TAIL_MS
# after it stops. A quiet line costs nothing, and the noise around the words can neither become
# words nor weigh on the verification (a loop of fillers models noise better than the menu does).
PREROLL_SAMPLES = SAMPLE_RATE * 300 // 1000
TAIL_MS = 100  # decoded after the voice stops; the quiet after it (which fillers model better) is not
# Vosk's n-best "confidence" is a path log-likelihood; a softmax over it gives each alternative's share.
NBEST_TEMPERATURE = 1.0


@dataclass(frozen=True)
class Result:
    """What the recognizer heard so far (partial) or for a finished utterance (final).

    ``alternatives``: (text, weight) best first; for a final result the weights sum to 1.
    ``audio_ms``: how much of the stream's audio had been decoded when the result was made.
    ``fit``: for final results of a verified recognizer, best grammar path score minus filler-loop
    score over the same audio (a log-likelihood ratio: near or above 0 means the menu words fit).
    ``voice_start_ms``/``voice_end_ms``: where the voice heard since the last final result starts and
    (so far) ends, by voice activity (audio.SpeechDetector); None when there was none.
    ``carried``: for final results of a recognizer opened with carriers, the alternatives of the same audio decoded
    with the menu words *and* the carrier words (a sentence heard as its words, not forced into menu words).
    ``words_ms``: for final results, how long the best alternative's words last (a menu word that covers only part of
    the caller's voice was not all they said); ``voiced_ms``: how much of the audio the VAD called voice.
    """

    final: bool
    alternatives: list[tuple[str, float]]
    audio_ms: int
    fit: float | None = None
    voice_start_ms: int | None = None
    voice_end_ms: int | None = None
    carried: list[tuple[str, float]] | None = None
    words_ms: int | None = None
    voiced_ms: int = 0

    @property
    def text(self) -> str:
        return self.alternatives[0][0] if self.alternatives else ""


def grammar(model: vosk.Model, phrases: Sequence[str], *, unknown: bool = True) -> tuple[list[str], list[str]]:
    """The phrases a model can take as a grammar (plus its unknown-word token), and the missing words.

    Vosk silently drops a grammar phrase with any word missing from the model's vocabulary; here
    such phrases are left out and their words reported so that the flow author can see it.
    """
    kept, missing = [], []
    for phrase in dict.fromkeys(p.strip() for p in phrases if p.strip()):
        absent = [word for word in phrase.split() if model.vosk_model_find_word(word) < 0]
        if absent:
            missing.extend(absent)
        else:
            kept.append(phrase)
    token = next((w for w in UNKNOWN_WORDS if model.vosk_model_find_word(w) >= 0), None) if unknown else None
    return kept + ([token] if token else []), missing


def words_ms(result_json: str) -> int | None:
    """How long the best alternative's words last in all, in ms (from Vosk's word times; None without them)."""
    data = json.loads(result_json)
    best = (data.get("alternatives") or [data])[0]
    spans = best.get("result")
    return None if spans is None else round(1000 * sum(w["end"] - w["start"] for w in spans))


def nbest(result_json: str) -> tuple[list[tuple[str, float]], float | None]:
    """Vosk's result JSON → (text, weight) alternatives and the best path's score (None without n-best)."""
    data = json.loads(result_json)
    scored = [(a.get("text", ""), float(a.get("confidence", 0.0))) for a in data.get("alternatives", [])]
    if not scored:
        return [(data.get("text", ""), 1.0)], None
    top = max(score for _, score in scored)
    exps = [math.exp((score - top) / NBEST_TEMPERATURE) for _, score in scored]
    total = sum(exps)
    return [(text, e / total) for (text, _), e in zip(scored, exps, strict=True)], top


class Recognition:
    """One stream's recognizer(s); made by ``RecognizerPool.open``. Feed audio, get results, close."""

    def __init__(
        self,
        pool: RecognizerPool,
        recognizer: vosk.KaldiRecognizer,
        filler: vosk.KaldiRecognizer | None,
        carrier: vosk.KaldiRecognizer | None,
        sample_rate: int,
        dither: float,
        on_result: Callable[[Result], None] | None,
    ) -> None:
        self._pool = pool
        self._recognizer: vosk.KaldiRecognizer | None = recognizer
        self._filler = filler
        self._carrier = carrier
        self._upsample = Upsampler() if sample_rate == MODEL_RATE else None
        self._voice = SpeechDetector()
        self._listening = False  # an utterance is being decoded
        self._preroll: deque[np.ndarray] = deque()  # the audio just before the voice (up to PREROLL_SAMPLES)
        self._dither = dither
        self._noise = np.random.default_rng(0)  # seeded: the same audio always gets the same dither
        self._on_result = on_result
        self._buffer = bytearray()  # μ-law queued, not yet decoded
        self._arrivals: deque[tuple[int, float]] = deque()  # (stream byte offset where a chunk ends, time queued)
        self._taken_bytes = 0
        self._ends: list[int] = []  # stream byte offsets where utterances are to be finished
        self._results: deque[Result] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._fed_bytes = 0
        self._processed_bytes = 0
        self._closed = False
        self._freed = False
        self._when_freed: list[Callable[[], None]] = []
        self.error: str | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def fed_ms(self) -> int:
        return self._fed_bytes * 1000 // SAMPLE_RATE

    @property
    def processed_ms(self) -> int:
        return self._processed_bytes * 1000 // SAMPLE_RATE

    def feed(self, ulaw: bytes) -> None:
        """Queue 8 kHz μ-law audio for decoding; returns at once."""
        with self._lock:
            if self._closed or not ulaw:
                return
            self._buffer += ulaw
            self._fed_bytes += len(ulaw)
            self._arrivals.append((self._fed_bytes, time.monotonic()))
            if len(self._buffer) >= UNIT_BYTES:
                self._schedule()

    def finish(self, *, now: bool = False) -> None:
        """End the utterance: the recognizer flushes and delivers a final result, then goes on listening.

        By default the utterance ends after all audio fed so far (the stream stopped); ``now`` ends it
        where decoding has got to (a listener, called back from the worker, decided it is over), and
        the audio queued behind starts the next utterance — as it would have had it come in real time.
        """
        with self._lock:
            end = self._taken_bytes if now else self._fed_bytes
            if self._closed or end in self._ends:
                return
            self._ends = sorted([*self._ends, end])
            self._schedule()

    def results(self) -> list[Result]:
        """Results delivered since the last call (collected only when no callback was given)."""
        with self._lock:
            out = list(self._results)
            self._results.clear()
        return out

    def close(self, then: Callable[[], None] | None = None) -> None:
        """Stop recognizing and free the recognizers: now, or when a running batch ends. Idempotent.

        ``then`` runs once the recognizers are freed (at once if they already are).
        """
        with self._lock:
            if then is not None:
                self._when_freed.append(then)
            if not self._closed:
                self._closed = True
                self._buffer.clear()
                if not self._scheduled:
                    self._free()
            callbacks = self._take_callbacks()
        for callback in callbacks:
            callback()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._pool._submit(self._drain)

    def _free(self) -> None:
        count = (self._recognizer is not None) + (self._filler is not None) + (self._carrier is not None)
        self._recognizer = self._filler = self._carrier = None  # the only references: vosk frees the C recognizers
        self._pool._released(count)
        self._freed = True

    def _take_callbacks(self) -> list[Callable[[], None]]:
        if not self._freed:
            return []
        callbacks, self._when_freed = self._when_freed, []
        return callbacks

    def _take_batch(self) -> tuple[bytes, float | None, bool] | None:
        """The next unit of audio (or the rest, when finishing), when it was complete, and whether to finish;
        None once closed (the recognizers are freed here if a batch was running at close time)."""
        with self._lock:
            if self._closed:
                self._scheduled = False
                if not self._freed:
                    self._free()
                return None
            to_end = self._ends[0] - self._taken_bytes if self._ends else None
            size = UNIT_BYTES if to_end is None else min(UNIT_BYTES, to_end)
            if len(self._buffer) < size:
                self._scheduled = False
                return b"", None, False
            finish = size == to_end
            if finish:
                self._ends.pop(0)
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            self._taken_bytes += size
            return data, self._completed_at(self._taken_bytes) if data else None, finish

    def _completed_at(self, offset: int) -> float | None:
        """When the chunk holding the byte before ``offset`` was queued (the unit could be decoded from then)."""
        completed = None
        while self._arrivals and self._arrivals[0][0] <= offset:
            end, completed = self._arrivals.popleft()
            if end == offset:
                return completed
        return self._arrivals[0][1] if self._arrivals else completed

    def _drain(self) -> None:
        """Worker: decode one unit of this stream's audio, then queue again behind the other streams."""
        batch = self._take_batch()
        if batch is None:
            self._run_freed_callbacks()
            return
        data, completed, finish = batch
        if not data and not finish:
            return
        try:
            if data:
                self._accept(data)
                if completed is not None:
                    self._pool._record_lag(time.monotonic() - completed)
            if finish:
                self._final(self._recognizer.FinalResult(), *self._side_results(final=True))
        except Exception as exc:  # a failing recognizer must neither kill the worker nor leak
            log.exception("recognizer failed")
            self.error = f"recognizer failed: {exc}"
            self._deliver(Result(True, [("", 1.0)], self.processed_ms))
            self.close()
        self._pool._submit(self._drain)

    def _run_freed_callbacks(self) -> None:
        with self._lock:
            callbacks = self._take_callbacks()
        for callback in callbacks:
            callback()

    def _accept(self, ulaw: bytes) -> None:
        pcm = ulaw_decode(ulaw)
        self._voice(pcm)
        self._processed_bytes += len(ulaw)
        if not self._listening:
            self._preroll.append(pcm)
            while sum(len(p) for p in self._preroll) - len(self._preroll[0]) >= PREROLL_SAMPLES + 2 * UNIT_BYTES:
                self._preroll.popleft()
            if self._voice.voice_start_ms is None:  # no voice yet: nothing to decode
                self._deliver(Result(False, [("", 1.0)], self.processed_ms))
                return
            pcm = self._from_preroll(self._voice.voice_start_ms * SAMPLE_RATE // 1000)
            self._listening = True
            self._upsample = Upsampler() if self._upsample is not None else None  # skipped audio is not its past
        else:  # decoded up to TAIL_MS after the voice, not a whole unit less when the tail ends inside this one
            tail = (self._voice.voice_end_ms + TAIL_MS - self.processed_ms) * SAMPLE_RATE // 1000 + len(pcm)
            if tail <= 0:  # quiet since the voice: wait for the end
                self._deliver(Result(False, [("", 1.0)], self.processed_ms, None, *self._voice_span()))
                return
            pcm = pcm[:tail]
        if self._upsample is not None:
            pcm = self._upsample(pcm)
        if self._dither:
            pcm = np.clip(pcm + np.rint(self._noise.standard_normal(len(pcm)) * self._dither), -32768, 32767)
        samples = pcm.astype(np.int16).tobytes()
        endpoint = self._recognizer.AcceptWaveform(samples)
        for side in (self._filler, self._carrier):
            if side is not None:
                side.AcceptWaveform(samples)  # their own endpoints are ignored: they follow the grammar's
        if endpoint:
            self._final(self._recognizer.Result(), *self._side_results(final=False))
            return
        partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        self._deliver(Result(False, [(partial, 1.0)], self.processed_ms, None, *self._voice_span()))

    def _from_preroll(self, onset: int) -> np.ndarray:
        """The audio to decode from: exactly PREROLL_SAMPLES before the voice's first sample ``onset`` (whatever the
        leading quiet's length, so the same words always reach the recognizer the same way)."""
        pcm = np.concatenate(self._preroll)
        self._preroll.clear()
        first = self._processed_bytes - len(pcm)  # μ-law bytes are samples: the preroll's first sample's index
        return pcm[max(0, onset - PREROLL_SAMPLES - first):]

    def _side_results(self, *, final: bool) -> tuple[str | None, str | None]:
        """The verifying and the carrier recognizers' results for the utterance the grammar ended (None where there is
        none): flushed when the stream's audio ended (``final``), else as decoded so far, as the grammar's own."""
        sides = (self._filler, self._carrier)
        return tuple(None if side is None else side.FinalResult() if final else side.Result() for side in sides)

    def _final(self, result_json: str, filler_json: str | None, carrier_json: str | None) -> None:
        alternatives, score = nbest(result_json)
        fit = None
        if filler_json is not None and score is not None:
            _, filler_score = nbest(filler_json)
            fit = None if filler_score is None else score - filler_score
        carried = nbest(carrier_json)[0] if carrier_json is not None else None
        self._deliver(Result(True, alternatives, self.processed_ms, fit, *self._voice_span(), carried=carried,
                             words_ms=words_ms(result_json), voiced_ms=self._voice.voiced_ms))
        self._voice.reset()
        self._listening = False

    def _voice_span(self) -> tuple[int | None, int | None]:
        return self._voice.voice_start_ms, self._voice.voice_end_ms

    def _deliver(self, result: Result) -> None:
        if self._closed:
            return
        if self._on_result is not None:
            self._on_result(result)
        else:
            with self._lock:
                self._results.append(result)


class RecognizerPool:
    """Worker threads (one per core by default) that decode every stream's audio; counts live recognizers."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="vosk")
        self._lock = threading.Lock()
        self._live = 0
        self._lags: deque[float] = deque(maxlen=LAG_SAMPLES)

    @property
    def live(self) -> int:
        """Vosk recognizers created and not yet freed."""
        with self._lock:
            return self._live

    def open(
        self,
        model: vosk.Model,
        *,
        phrases: Sequence[str] | None = None,
        fillers: Sequence[str] | None = None,
        carriers: Sequence[str] | None = None,
        max_alternatives: int = DEFAULT_ALTERNATIVES,
        sample_rate: int = MODEL_RATE,
        dither: float = DITHER,
        on_result: Callable[[Result], None] | None = None,
    ) -> Recognition:
        """A recognizer for one stream: constrained to ``phrases`` (plus the unknown word), else free-form.

        With ``fillers`` (and phrases), a second recognizer over the filler words verifies each final
        result (``Result.fit``). With ``carriers`` (and phrases), a third recognizer decodes the same audio with the
        phrases and the carrier words (``Result.carried``). ``sample_rate``: 16000 upsamples the telephone audio to the model's
        rate here, 8000 leaves it to Kaldi. ``dither``: the seeded dither to add (0 with a model that
        keeps Kaldi's own). bench/bench_speech.py compares these.
        """
        if sample_rate not in (SAMPLE_RATE, MODEL_RATE):
            raise SpeechError(f"sample_rate must be {SAMPLE_RATE} or {MODEL_RATE}")
        filler = carrier = None
        if phrases is None:
            recognizer = vosk.KaldiRecognizer(model, sample_rate)
        else:
            recognizer = vosk.KaldiRecognizer(model, sample_rate, _grammar_json(model, phrases, "phrases"))
            if fillers:
                filler = vosk.KaldiRecognizer(model, sample_rate, _grammar_json(model, fillers, "fillers", False))
                filler.SetMaxAlternatives(1)
            if carriers:
                words = [*phrases, *(word for word in carriers if word not in phrases)]
                carrier = vosk.KaldiRecognizer(model, sample_rate, _grammar_json(model, words, "carriers"))
                carrier.SetMaxAlternatives(max_alternatives)
        recognizer.SetMaxAlternatives(max_alternatives)
        recognizer.SetWords(True)
        with self._lock:
            self._live += 1 + (filler is not None) + (carrier is not None)
        return Recognition(self, recognizer, filler, carrier, sample_rate, dither, on_result)

    def lag_ms(self, percentile: float = 95) -> float | None:
        """A percentile, over recent units, of the delay from a unit of audio being complete to decoded."""
        with self._lock:
            lags = list(self._lags)
        return float(np.percentile(lags, percentile) * 1000) if lags else None

    def reset_lag(self) -> None:
        with self._lock:
            self._lags.clear()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

    def _submit(self, work: Callable[[], None]) -> None:
        self._executor.submit(work)

    def _released(self, count: int) -> None:
        with self._lock:
            self._live -= count

    def _record_lag(self, seconds: float) -> None:
        with self._lock:
            self._lags.append(seconds)


def _grammar_json(model: vosk.Model, phrases: Sequence[str], what: str, unknown: bool = True) -> str:
    words, missing = grammar(model, phrases, unknown=unknown)
    if missing:
        log.warning("%s missing from the model's vocabulary, left out: %s", what, missing)
    if not any(w not in UNKNOWN_WORDS for w in words):
        raise SpeechError(f"none of the {what} {list(phrases)!r} is in the model's vocabulary")
    return json.dumps(words, ensure_ascii=False)


_default: RecognizerPool | None = None
_default_lock = threading.Lock()


def default_pool() -> RecognizerPool:
    """The process-wide pool, created on first use with one worker per core."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RecognizerPool()
        return _default
