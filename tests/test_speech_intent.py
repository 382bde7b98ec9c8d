"""Intent from recognized alternatives: act, confirm or reject, robust to partial and wrong words.

These tests feed the matcher text (as Vosk's n-best list or Twilio's SpeechResult would give it);
tests/test_speech_stream.py feeds it real recognized speech.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speech.intent import (
    ACT_COVERAGE,
    ACT_THRESHOLD,
    CONFIRM_THRESHOLD,
    FIT_FOR_ACT,
    FIT_FOR_CONFIRM,
    Choice,
    confirm_answer,
    fit_factor,
    grammar_phrases,
    match,
    match_in_sentence,
    match_speech_result,
    said_alone,
    similarity,
    tokens,
    yes_no_choices,
    yes_or_no,
)
from speech.lexicon import CARRIERS, KO_MENU

KO = [Choice(key, intent, list(phrases)) for key, intent, phrases in KO_MENU]
EN = [
    Choice("1", "order", ["order", "new order", "buy"]),
    Choice("2", "billing", ["billing", "invoice", "payment"]),
    Choice("3", "tech_support", ["technical support", "internet", "modem"]),
    Choice("4", "refund", ["refund", "money back"]),
    Choice("5", "delivery", ["delivery", "parcel", "shipping"]),
    Choice("0", "agent", ["agent", "representative", "human"]),
]


def test_a_clear_menu_phrase_is_acted_on():
    result = match(EN, [("refund", 1.0)])
    assert (result.decision, result.intent, result.key) == ("act", "refund", "4")
    assert result.heard == "refund"


def test_twilio_speech_result_with_extra_words_and_its_confidence_is_acted_on():
    result = match(EN, [("I'd like a refund for my order please", 0.91)])
    assert result.decision == "confirm"  # two choices mentioned: order and refund
    result = match(EN, [("I'd like my money back please", 0.91)])
    assert (result.decision, result.intent) == ("act", "refund")


@pytest.mark.parametrize("confidence", [None, "", "not a number", "1.7", "nan", "-0.2"])
def test_a_speech_result_without_a_usable_confidence_is_confirmed_at_most(confidence):
    result = match_speech_result(EN, "refund", confidence)
    assert (result.decision, result.intent) == ("confirm", "refund")


def test_a_speech_result_is_read_from_twilios_form_fields():
    assert match_speech_result(EN, "Refund.", "0.93").decision == "act"
    assert match_speech_result(EN, None, "0.93").decision == "reject"


def test_a_low_twilio_confidence_asks_for_confirmation():
    result = match(EN, [("refund", 0.5)])
    assert (result.decision, result.intent) == ("confirm", "refund")


def test_n_best_alternatives_that_disagree_lead_to_confirmation_of_the_heaviest():
    result = match(KO, [("환불", 0.55), ("오더", 0.45)])
    assert (result.decision, result.intent) == ("confirm", "refund")


def test_alternatives_that_agree_add_up():
    result = match(KO, [("상담원", 0.5), ("<UNK> 상담원", 0.3), ("상담원 상담원", 0.2)])
    assert (result.decision, result.intent) == ("act", "agent")


def test_korean_particles_and_misspellings_still_match_the_phrase():
    assert match(KO, [("환불을", 1.0)]).intent == "refund"  # with the object particle
    assert match(KO, [("환불이요", 1.0)]).intent == "refund"
    assert similarity("한불", "환불") > 0.7  # one vowel off, compared on jamo
    assert match(KO, [("한불", 1.0)]).intent == "refund"
    assert match(KO, [("상담 원", 1.0)]).intent == "agent"  # split word


def test_words_of_another_choice_in_the_same_utterance_lower_the_score():
    alone = match(KO, [("모뎀", 1.0)])
    mixed = match(KO, [("모뎀 환불", 1.0)])
    assert alone.decision == "act"
    assert mixed.decision != "act" and mixed.score < alone.score


@pytest.mark.parametrize("heard", ["", "<UNK>", "[unk]", "날씨가 좋네요", "the weather is nice"])
def test_silence_noise_and_off_menu_words_are_rejected(heard):
    result = match(KO + EN, [(heard, 1.0)])
    assert result.decision == "reject" and result.intent is None


def test_a_menu_word_that_covers_only_part_of_what_the_caller_said_is_confirmed_not_acted_on():
    """The grammar forces a phrase into one menu word ("상품 문의" heard as 오더): when that word lasts only part of the
    caller's voice, they said more than it."""
    verified = {"grammar": True, "fit": FIT_FOR_ACT + 5}
    assert match(KO, [("오더", 1.0)], **verified, coverage=ACT_COVERAGE + 0.2).decision == "act"
    assert match(KO, [("오더", 1.0)], **verified, coverage=ACT_COVERAGE - 0.2).decision == "confirm"
    assert match(KO, [("오더", 1.0)], **verified).decision == "act"  # (coverage unknown: a Twilio SpeechResult)


def test_a_caller_heard_with_other_words_beside_the_menu_word_did_not_say_it_alone():
    assert said_alone(KO, "tech_support", [("모뎀", 0.9), ("모뎀 요", 0.1)])
    assert not said_alone(KO, "tech_support", [("모뎀 어떻게 해", 0.8), ("모뎀", 0.2)])  # the best alternative counts
    assert not said_alone(KO, "delivery", [("모뎀", 1.0)])  # another menu word
    assert not said_alone(KO, "delivery", [])


def test_an_unverified_grammar_result_is_confirmed_at_most():
    # a grammar recognizer always returns a menu word: without verification it can't be trusted alone
    result = match(KO, [("환불", 1.0)], grammar=True)
    assert (result.decision, result.intent) == ("confirm", "refund")


@pytest.mark.parametrize(
    ("fit", "decision"),
    [
        (FIT_FOR_ACT + 3, "act"),
        (FIT_FOR_ACT - 1, "confirm"),
        (FIT_FOR_CONFIRM + 1, "confirm"),
        (FIT_FOR_CONFIRM - 2, "reject"),
    ],
)
def test_the_verification_score_decides_how_far_a_grammar_result_is_trusted(fit, decision):
    assert match(KO, [("환불", 1.0)], grammar=True, fit=fit).decision == decision


def test_the_verification_factor_passes_through_its_anchor_points():
    assert fit_factor(FIT_FOR_ACT) == pytest.approx(ACT_THRESHOLD)
    assert fit_factor(FIT_FOR_CONFIRM) == pytest.approx(CONFIRM_THRESHOLD)
    assert fit_factor(-100) < 0.01 and fit_factor(100) > 0.99


OFF_MENU_WORDS = [
    "날씨",
    "감사합니다",
    "여보세요",
    "안녕하세요",
    "모르겠어요",
    "weather",
    "hello",
    "thanks",
    "<UNK>",
    "",
]


@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(OFF_MENU_WORDS), max_size=4).map(" ".join),
            st.floats(0.01, 1.0),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_utterances_made_only_of_off_menu_words_are_never_acted_on(alternatives):
    assert match(KO + EN, alternatives).decision == "reject"


@given(st.sampled_from(KO + EN), st.floats(0.0, 1.0))
def test_a_choice_never_wins_when_the_words_heard_are_another_choices(choice, weight):
    others = [c for c in KO + EN if c.intent != choice.intent or c.key != choice.key]
    other = others[0] if others[0].phrases != choice.phrases else others[1]
    result = match([choice, other], [(other.phrases[0], weight)])
    assert result.intent != choice.intent or result.decision == "reject"


@pytest.mark.parametrize(
    ("lang", "yes", "no"),
    [("en", "yes", "no"), ("ru", "да", "нет"), ("fa", "بله", "نه"), ("ko", "네", "아니요")],
)
def test_yes_and_no_in_every_language(lang, yes, no):
    assert confirm_answer([(yes, 1.0)], lang) is True
    assert confirm_answer([(no, 1.0)], lang) is False
    assert confirm_answer([("", 1.0)], lang) is None


def test_a_doubtful_yes_is_not_taken_but_a_doubtful_no_is():
    # yes sends the call on, no only asks again: a wrong yes costs more
    assert confirm_answer([("네", 0.45), ("아니요", 0.3)], "ko") is None
    assert confirm_answer([("아니요", 0.45), ("네", 0.3)], "ko") is False
    assert confirm_answer([("yes", 1.0)], "en", grammar=True, fit=FIT_FOR_CONFIRM - 10) is None


def test_grammar_phrases_lists_every_phrase_once_in_menu_order():
    choices = [Choice("1", "a", ["refund", "money back"]), Choice("2", "b", ["refund", "agent"])]
    assert grammar_phrases(choices) == ["refund", "money back", "agent"]


def test_tokens_drop_punctuation_case_and_recognizer_markers():
    assert tokens("Refund, please! [unk] <UNK>") == ["refund", "please"]


def test_a_yes_heard_through_a_stream_is_taken_by_the_same_rule_as_a_yes_in_words():
    # a verified grammar "네" that scores below acting is still a clear yes: no is nowhere near it
    heard = match(yes_no_choices("ko"), [("네", 1.0)], grammar=True, fit=-1.0)
    assert heard.decision == "confirm"
    assert yes_or_no(heard) is True is confirm_answer([("네", 1.0)], "ko", grammar=True, fit=-1.0)
    assert yes_or_no(match(yes_no_choices("ko"), [("네 아뇨", 1.0)], grammar=True, fit=5.0)) is None
    assert yes_or_no(match(yes_no_choices("ko"), [("아뇨", 1.0)], grammar=True, fit=-10.0)) is False


@pytest.mark.parametrize(("carried", "intent"), [
    ([("환불 때문에 전화 했어요", 0.7), ("환불 때문에 전화 요", 0.3)], "refund"),
    ([("저 딜리버리 하고 싶어요", 1.0)], "delivery"),
    ([("오더 좀 알려 주세요", 0.6), ("오더 좀 알려 어", 0.4)], "order"),
])
def test_a_menu_word_among_carrier_words_is_confirmed_never_acted_on(carried, intent):
    assert all(word in CARRIERS["ko"] for text, _ in carried for word in text.split() if word not in
               {p for c in KO for p in c.phrases})  # fmt: skip
    found = match_in_sentence(KO, carried)
    assert found is not None and found.decision == "confirm" and found.intent == intent


@pytest.mark.parametrize("carried", [
    [("때문에 전화 했어요", 1.0)],
    [("좀 알려 주세요", 1.0)],
    [("환불 모뎀 때문에", 0.5), ("오더 상담원 요", 0.5)],
    [("", 1.0)],
])
def test_carrier_words_alone_or_a_sentence_naming_several_options_give_nothing_to_confirm(carried):
    assert match_in_sentence(KO, carried) is None
