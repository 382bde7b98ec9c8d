"""A Twilio Media Streams session as a protocol state machine, independent of Flask and of the socket.

Feed it every text message Twilio sends on the WebSocket (``receive``); it validates the message,
passes the caller's audio to a recognizer from the pool and decides when the caller's turn is over:

- speech: the caller's voice stopped for ``end_silence_ms`` (audio.SpeechDetector: Silero VAD, which holds in
  noise where the recognizer keeps hearing words) or the recognizer
  reached its own endpoint, or the caller spoke for ``max_speech_ms``; the recognizer's final words
  were matched to the menu (act, confirm or reject);
- dtmf: a key was pressed;
- noinput: no voice within ``noinput_ms`` of audio, measured in media time (the audio decoded, not
  the wall clock, so tests can stream faster than real time), or the stream stopped in silence;
- error: a malformed message, an unknown event, media before ``start``, a wrong encoding, an
  oversized payload, a recognizer failure, or the socket closed before a decision.

Every way out frees the recognizers. Message shapes follow Twilio's "Media Streams - WebSocket
Messages" page; the messages themselves are built by ``wire.media_streams``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import vosk

from speech.exceptions import SpeechError
from speech.intent import Choice, Match, grammar_phrases, match, match_in_sentence, said_alone, tokens
from speech.lexicon import CARRIERS, FILLERS
from speech.recognize import DITHER, MODEL_RATE, Recognition, RecognizerPool, Result, default_pool
from wire.media_streams import ENCODING
from wire.mulaw import SAMPLE_RATE

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 64 * 1024
MAX_PAYLOAD_BYTES = SAMPLE_RATE  # one second of audio in one media message (Twilio sends 20 ms)
NOINPUT_MS = 5000
MAX_SPEECH_MS = 15000
MIN_UTTERANCE_MS = 400  # voice this long is the caller's turn even when no menu word fits it
MIN_VOICED_MS = 160  # and so is this much of what the VAD called voice: a short 네 the recognizer cannot place is an
# answer not understood, said now, not a silence to wait out (in m1's voice, among others, 네 is decoded as nothing)
END_SILENCE_MS = 200  # this much quiet after the voice ends the utterance. The VAD's end is at the words' end on a
# quiet line and 100-200 ms after it in noise (bench_speech's voice-activity part); on the bench's tuning set 200 and 300
# here gave the same callers right (300 against 500 did too, with the energy detector before). A caller who pauses
# longer than this inside a sentence is cut there.
EVENTS = ("connected", "start", "media", "dtmf", "mark", "stop")

TurnKind = Literal["speech", "dtmf", "noinput", "error"]


@dataclass(frozen=True)
class StreamStart:
    """What the ``start`` message says about the stream."""

    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: list[str]
    custom_parameters: dict[str, str]


@dataclass(frozen=True)
class Listen:
    """What to listen for during one turn: the language's model, the menu's choices, and the timeouts.

    ``grammar=True`` constrains recognition to the choices' phrases (menus); ``False`` recognizes
    freely and scores the choices' phrases as keywords (open questions; no choices: transcript only).
    ``sample_rate``/``dither``: see RecognizerPool.open (the defaults are what bench_speech found best).
    ``carriers``: a menu turn also decodes the audio with the language's carrier words beside the menu words
    (speech.lexicon.CARRIERS), so a menu word said inside a sentence can still be confirmed (never acted on: see
    speech.intent.match_in_sentence).
    """

    model: vosk.Model
    lang: str
    choices: list[Choice] = field(default_factory=list)
    grammar: bool = True
    noinput_ms: int = NOINPUT_MS
    max_speech_ms: int = MAX_SPEECH_MS
    end_silence_ms: int = END_SILENCE_MS
    sample_rate: int = MODEL_RATE
    dither: float = DITHER
    carriers: bool = True


@dataclass(frozen=True)
class TurnResult:
    """How the caller's turn ended. ``media_ms``: audio decoded when it was decided;
    ``speech_end_ms``: where the caller's last recognized words ended (None without speech)."""

    kind: TurnKind
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    transcript: str = ""
    match: Match | None = None
    digits: str = ""
    fit: float | None = None
    error: str | None = None
    media_ms: int = 0
    speech_end_ms: int | None = None
    stopped: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storing on the call or returning as JSON."""
        return {
            "kind": self.kind,
            "transcript": self.transcript,
            "alternatives": [list(a) for a in self.alternatives],
            "decision": self.match.decision if self.match else None,
            "intent": self.match.intent if self.match else None,
            "key": self.match.key if self.match else None,
            "confidence": round(self.match.score, 3) if self.match else None,
            "scores": {intent: round(score, 3) for intent, score in self.match.scores.items()} if self.match else None,
            "digits": self.digits,
            "error": self.error,
            "media_ms": self.media_ms,
        }


class MediaStreamSession:
    """One WebSocket's worth of Media Streams protocol; ``result`` is set once the turn is over.

    ``listen`` is a Listen, or a function of the ``start`` message returning one (so that the
    menu can be looked up from ``customParameters``); raising SpeechError there ends the turn
    with an error. ``on_turn`` is called once, from whichever thread decided.
    """

    def __init__(
        self,
        listen: Listen | Callable[[StreamStart], Listen],
        *,
        pool: RecognizerPool | None = None,
        on_turn: Callable[[TurnResult], None] | None = None,
    ) -> None:
        self._listen_spec = listen
        self._pool = pool or default_pool()
        self._on_turn = on_turn
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._result: TurnResult | None = None
        self._recognition: Recognition | None = None
        self.listen: Listen | None = None
        self.start: StreamStart | None = None
        self.marks: list[str] = []
        self._speech_end_ms: int | None = None
        self._cutting = False  # an utterance end was asked for where decoding had got to
        self._stopped_at_ms: int | None = None  # the audio received when Twilio sent stop

    @property
    def result(self) -> TurnResult | None:
        return self._result

    @property
    def done(self) -> bool:
        """True once the turn is decided and its recognizers are freed."""
        return self._done.is_set()

    @property
    def decided(self) -> bool:
        return self._result is not None

    def wait(self, timeout: float | None = None) -> TurnResult | None:
        """Block until the turn is over (or ``timeout`` seconds); the result, or None on timeout."""
        self._done.wait(timeout)
        return self._result

    def receive(self, message: str | bytes) -> None:
        """Handle one message from Twilio. Protocol errors end the turn with kind "error"; never raises."""
        if self.decided:
            return
        try:
            data = _parse(message)
            handler = getattr(self, f"_on_{data['event']}")
            with self._lock:
                handler(data)
        except SpeechError as exc:
            self._finish(TurnResult("error", error=str(exc), media_ms=self._media_ms()))
        except Exception as exc:  # a bug or a failing listen() must still free the recognizers
            log.exception("media stream message failed")
            self._finish(TurnResult("error", error=f"internal error: {exc}", media_ms=self._media_ms()))

    def close(self, reason: str = "the socket closed before the turn was over") -> TurnResult:
        """End the session (socket closed or timed out): frees the recognizers; the result stays if decided."""
        self._finish(TurnResult("error", error=reason, media_ms=self._media_ms()))
        return self._result

    # --- Twilio's events ---------------------------------------------------------------------

    def _on_connected(self, data: dict[str, Any]) -> None:
        if self.start is not None:
            raise SpeechError("'connected' after 'start'")

    def _on_start(self, data: dict[str, Any]) -> None:
        if self.start is not None:
            raise SpeechError("a second 'start' message")
        start = _object(data, "start")
        media_format = _object(start, "mediaFormat")
        encoding, rate, channels = (
            media_format.get("encoding"),
            media_format.get("sampleRate"),
            media_format.get("channels", 1),
        )
        if encoding != ENCODING or str(rate) != str(SAMPLE_RATE) or str(channels) != "1":
            raise SpeechError(
                f"unsupported media format {encoding} {rate} Hz {channels} channel(s): need {ENCODING} {SAMPLE_RATE} Hz mono"
            )
        parameters = start.get("customParameters") or {}
        if not isinstance(parameters, dict):
            raise SpeechError("'start.customParameters' is not an object")
        self.start = StreamStart(
            stream_sid=_text(start, "streamSid", data.get("streamSid", "")),
            call_sid=_text(start, "callSid"),
            account_sid=_text(start, "accountSid", ""),
            tracks=[str(t) for t in start.get("tracks") or ["inbound"]],
            custom_parameters={str(k): str(v) for k, v in parameters.items()},
        )
        self.listen = self._listen_spec(self.start) if callable(self._listen_spec) else self._listen_spec
        self._recognition = self._open(self.listen)
        log.info(
            "stream %s of call %s listening (%s, %d choices)",
            self.start.stream_sid,
            self.start.call_sid,
            self.listen.lang,
            len(self.listen.choices),
        )

    def _on_media(self, data: dict[str, Any]) -> None:
        if self._recognition is None:
            raise SpeechError("'media' before 'start'")
        media = _object(data, "media")
        if media.get("track", "inbound") not in ("inbound", "inbound_track"):
            return  # the caller's side only; Twilio's own playback is not the caller speaking
        for name in ("chunk", "timestamp"):
            if name in media and not str(media[name]).isdigit():
                raise SpeechError(f"'media.{name}' is not a number: {media[name]!r}")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise SpeechError("'media.payload' is missing")
        if len(payload) > 4 * (MAX_PAYLOAD_BYTES // 3 + 1):
            raise SpeechError(f"media payload over {MAX_PAYLOAD_BYTES} bytes")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SpeechError(f"'media.payload' is not base64: {exc}") from None
        self._recognition.feed(audio)

    def _on_dtmf(self, data: dict[str, Any]) -> None:
        digit = _text(_object(data, "dtmf"), "digit")
        if digit not in "0123456789*#" or len(digit) != 1:
            raise SpeechError(f"'dtmf.digit' is not a key: {digit!r}")
        self._finish(TurnResult("dtmf", digits=digit, media_ms=self._media_ms()))

    def _on_mark(self, data: dict[str, Any]) -> None:
        self.marks.append(_text(_object(data, "mark"), "name"))

    def _on_stop(self, data: dict[str, Any]) -> None:
        if self._recognition is None:
            self._finish(TurnResult("noinput", stopped=True))
            return
        self._stopped_at_ms = self._recognition.fed_ms
        self._recognition.finish()  # decode what came before the stop; its final result decides

    # --- recognition ---------------------------------------------------------------------------

    def _open(self, listen: Listen) -> Recognition:
        phrases = grammar_phrases(listen.choices) if listen.grammar and listen.choices else None
        return self._pool.open(
            listen.model,
            phrases=phrases,
            fillers=FILLERS.get(listen.lang) if phrases else None,
            carriers=CARRIERS.get(listen.lang) if phrases and listen.carriers else None,
            sample_rate=listen.sample_rate,
            dither=listen.dither,
            on_result=self._on_result,
        )

    def _on_result(self, result: Result) -> None:
        """Recognizer callback (a pool worker): follow the words, decide when the turn is over."""
        with self._lock:
            if self.decided:
                return
            if result.final:
                self._on_final(result)
            else:
                self._on_partial(result)

    def _on_partial(self, result: Result) -> None:
        listen = self.listen
        if result.voice_start_ms is None:
            if result.audio_ms >= listen.noinput_ms:
                self._finish(TurnResult("noinput", media_ms=result.audio_ms))
            return
        self._speech_end_ms = result.voice_end_ms
        quiet_since_voice = result.audio_ms - result.voice_end_ms >= listen.end_silence_ms
        spoke_too_long = result.audio_ms - result.voice_start_ms >= listen.max_speech_ms
        if (quiet_since_voice or spoke_too_long) and not self._cutting:
            self._cutting = True
            self._recognition.finish(now=True)

    def _on_final(self, result: Result) -> None:
        self._cutting = False
        stopped = self._stopped_at_ms is not None and result.audio_ms >= self._stopped_at_ms
        if self._recognition.error:
            self._finish(TurnResult("error", error=self._recognition.error, media_ms=result.audio_ms))
            return
        if not _heard_words(result):
            if stopped:
                self._finish(TurnResult("noinput", media_ms=result.audio_ms, stopped=True))
            return  # noise, a cough: keep listening
        listen = self.listen
        decided = (
            match(listen.choices, result.alternatives, grammar=listen.grammar, fit=result.fit, coverage=_coverage(result))
            if listen.choices
            else None
        )
        if decided is not None and decided.decision == "reject" and result.carried:
            decided = match_in_sentence(listen.choices, result.carried) or decided
        elif decided is not None and decided.decision == "act" and result.carried is not None \
                and not said_alone(listen.choices, decided.intent, result.carried):
            decided = replace(decided, decision="confirm")  # they said more than the menu word: asked, not acted on
        self._finish(
            TurnResult(
                "speech",
                alternatives=result.alternatives,
                transcript=" ".join(tokens(result.text)),
                match=decided,
                fit=result.fit,
                media_ms=result.audio_ms,
                speech_end_ms=result.voice_end_ms if result.voice_end_ms is not None else self._speech_end_ms,
                stopped=stopped,
            )
        )

    def _media_ms(self) -> int:
        return self._recognition.processed_ms if self._recognition else 0

    def _finish(self, result: TurnResult) -> None:
        """Decide once: keep the first result, free the recognizers, then tell the listener."""
        with self._lock:
            if self._result is not None:
                return
            self._result = result
            recognition = self._recognition
        if recognition is not None:
            recognition.close(then=self._announce)
        else:
            self._announce()

    def _announce(self) -> None:
        result = self._result
        level = logging.WARNING if result.kind == "error" else logging.INFO
        call = self.start.call_sid if self.start else "?"
        detail = result.error or (result.match.decision if result.match else result.digits or result.transcript)
        log.log(level, "turn of call %s over: %s %s", call, result.kind, detail)
        self._done.set()
        if self._on_turn is not None:
            self._on_turn(result)


# --- parsing ------------------------------------------------------------------------------------------


def _parse(message: str | bytes) -> dict[str, Any]:
    if isinstance(message, bytes):
        raise SpeechError("binary WebSocket message: Media Streams messages are JSON text")
    if len(message) > MAX_MESSAGE_CHARS:
        raise SpeechError(f"message of {len(message)} characters is over {MAX_MESSAGE_CHARS}")
    try:
        data = json.loads(message)
    except ValueError as exc:
        raise SpeechError(f"message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpeechError("message is not a JSON object")
    if data.get("event") not in EVENTS:
        raise SpeechError(f"unknown event {data.get('event')!r}")
    return data


def _object(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise SpeechError(f"'{name}' is missing or not an object")
    return value


def _text(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise SpeechError(f"'{name}' is missing or not a string")
    return value


def _coverage(result: Result) -> float | None:
    """The share of the caller's voice (what the VAD called voice) that the recognized words last; None when unknown."""
    return None if result.words_ms is None or not result.voiced_ms else result.words_ms / result.voiced_ms


def _heard_words(result: Result) -> bool:
    """The caller said something: the best alternative has a real word (not only unknown-word or noise
    markers), or the voice lasted too long for a cough or a click, or the VAD heard enough voice in it."""
    if result.alternatives and tokens(result.alternatives[0][0]):
        return True
    start, end = result.voice_start_ms, result.voice_end_ms
    return start is not None and (end - start >= MIN_UTTERANCE_MS or result.voiced_ms >= MIN_VOICED_MS)
