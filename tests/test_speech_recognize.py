"""The recognizer pool with the real Korean Vosk model and espeak-ng audio: grammar, verification, free-form, freeing."""

from __future__ import annotations

import threading

import pytest

from simulator.voices import caller_audio
from speech.exceptions import SpeechError
from speech.lexicon import FILLERS, KO_MENU
from speech.models import get_model
from speech.recognize import RecognizerPool, Result, grammar
from wire.mulaw import frames, silence

MENU_PHRASES = [p for _, _, phrases in KO_MENU for p in phrases]


@pytest.fixture(scope="module")
def model():
    return get_model("ko", {})


@pytest.fixture
def pool():
    pool = RecognizerPool(workers=2)
    yield pool
    pool.shutdown()
    assert pool.live == 0


def recognize(pool, model, audio, *, at_once=False, **options) -> list[Result]:
    """Stream ``audio`` in 20 ms frames (or feed it in one piece), finish, and return the final
    results once the recognizers are freed."""
    finals: list[Result] = []
    sent = [b"".join(frames(audio))] if at_once else frames(audio)
    end_ms = sum(len(chunk) for chunk in sent) // 8
    flushed, freed = threading.Event(), threading.Event()

    def collect(result: Result) -> None:
        if result.final:
            finals.append(result)
            if result.audio_ms == end_ms:
                flushed.set()

    recognition = pool.open(model, on_result=collect, **options)
    for chunk in sent:
        recognition.feed(chunk)
    recognition.finish()
    assert flushed.wait(30)
    recognition.close(then=freed.set)
    assert freed.wait(30)
    return finals


def test_every_menu_word_of_the_korean_demo_menu_is_in_the_models_vocabulary(model):
    words, missing = grammar(model, MENU_PHRASES)
    assert missing == []
    assert words[:-1] == MENU_PHRASES and words[-1] == "<UNK>"


def test_words_missing_from_the_vocabulary_are_reported_and_left_out(model):
    words, missing = grammar(model, ["환불", "환불받기싫음 환불", "qwzx"])
    assert words == ["환불", "<UNK>"]
    assert missing == ["환불받기싫음", "qwzx"]


def test_a_grammar_with_no_known_word_is_refused(model, pool):
    with pytest.raises(SpeechError, match="none of the phrases"):
        pool.open(model, phrases=["qwzx"])
    assert pool.live == 0


def test_a_menu_word_is_recognized_with_n_best_alternatives_and_verified(model, pool):
    finals = recognize(
        pool, model, caller_audio("상담원", "ko", tail_ms=1000), phrases=MENU_PHRASES, fillers=FILLERS["ko"]
    )
    spoken = [r for r in finals if r.text]
    assert spoken[0].text == "상담원"
    assert sum(w for _, w in spoken[0].alternatives) == pytest.approx(1.0)
    assert spoken[0].fit is not None


def test_free_form_recognition_returns_words_without_a_grammar(model, pool):
    finals = recognize(pool, model, caller_audio("안녕하세요 고객님", "ko", tail_ms=500))
    assert any(r.text for r in finals)
    assert all(r.fit is None for r in finals)


def test_upsampling_to_16khz_is_available_and_recognizes_too(model, pool):
    finals = recognize(pool, model, caller_audio("환불", "ko", tail_ms=800), phrases=MENU_PHRASES, sample_rate=16000)
    assert [r.text for r in finals if r.text][0] == "환불"
    with pytest.raises(SpeechError):
        pool.open(model, sample_rate=11025)


def test_results_can_be_polled_instead_of_called_back(model, pool):
    recognition = pool.open(model, phrases=MENU_PHRASES)
    for frame in frames(caller_audio("환불", "ko") + silence(300)):
        recognition.feed(frame)
    recognition.finish()
    collected: list[Result] = []
    while not any(r.final for r in collected):
        collected += recognition.results()
    assert any(r.final and r.text == "환불" for r in collected)
    assert collected[-1].audio_ms == recognition.processed_ms == recognition.fed_ms
    recognition.close()


def test_results_do_not_depend_on_how_the_audio_is_chunked(model, pool):
    audio = caller_audio("요금제", "ko", voice_variant="f3", tail_ms=1000)
    by_frame = recognize(pool, model, audio, phrases=MENU_PHRASES, fillers=FILLERS["ko"])
    in_one_piece = recognize(pool, model, audio, at_once=True, phrases=MENU_PHRASES, fillers=FILLERS["ko"])
    assert [(r.alternatives, r.fit) for r in in_one_piece] == [(r.alternatives, r.fit) for r in by_frame]


def test_a_quiet_line_is_not_decoded_at_all(model, pool):
    finals = recognize(pool, model, silence(3000), phrases=MENU_PHRASES, fillers=FILLERS["ko"])
    assert [(r.text, r.voice_start_ms) for r in finals] == [("", None)]


def test_closing_frees_the_recognizers_even_in_the_middle_of_decoding(model, pool):
    audio = caller_audio("오더 요금제 모뎀 환불 딜리버리 상담원", "ko")
    recognitions = [pool.open(model, phrases=MENU_PHRASES, fillers=FILLERS["ko"]) for _ in range(6)]
    assert pool.live == 12  # a grammar recognizer and its filler loop each
    freed = [threading.Event() for _ in recognitions]
    for recognition, event in zip(recognitions, freed, strict=True):
        recognition.feed(audio)
        recognition.close(then=event.set)
        recognition.close()  # twice is fine
        recognition.feed(audio)  # and feeding a closed one does nothing
    assert all(event.wait(30) for event in freed)
    assert pool.live == 0


def test_streams_decoded_by_several_workers_at_once_each_get_their_own_words(model, pool):
    words = ["오더", "요금제", "모뎀", "환불", "딜리버리", "상담원"] * 2
    results: dict[int, list[str]] = {i: [] for i in range(len(words))}
    done = [threading.Event() for _ in words]

    def collector(i: int):
        def collect(result: Result) -> None:
            if result.final:
                results[i].append(result.text)
                done[i].set()

        return collect

    recognitions = [pool.open(model, phrases=MENU_PHRASES, on_result=collector(i)) for i in range(len(words))]
    audios = [frames(caller_audio(w, "ko", tail_ms=300)) for w in words]
    for step in range(max(len(a) for a in audios)):  # interleaved, like live calls
        for recognition, audio in zip(recognitions, audios, strict=True):
            if step < len(audio):
                recognition.feed(audio[step])
    for recognition in recognitions:
        recognition.finish()
    assert all(event.wait(60) for event in done)
    singles = [recognize(pool, model, caller_audio(w, "ko", tail_ms=300), phrases=MENU_PHRASES) for w in words]
    assert [results[i][-1] for i in range(len(words))] == [s[-1].text for s in singles]
    for recognition in recognitions:
        recognition.close()
