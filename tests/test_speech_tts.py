"""Prompts rendered with pyttsx3 (espeak-ng voices) to 8 kHz μ-law WAV, cached on disk by text, voice and rate."""

from __future__ import annotations

import subprocess

import pytest

from speech import tts
from speech.exceptions import SpeechError
from speech.tts import VOICES, build_all, cached, prompt_filename, render

GREETINGS = {
    "en": "Welcome. How can I help you?",
    "ru": "Здравствуйте. Чем могу помочь?",
    "fa": "سلام. چطور می توانم کمک کنم؟",
    "ko": "안녕하세요. 무엇을 도와드릴까요?",
}


def soxi(path) -> dict[str, str]:
    lines = subprocess.run(["soxi", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines) if v}


def test_a_prompt_is_not_there_until_rendered_and_then_is_8khz_mulaw_wav(tmp_path):
    text = GREETINGS["ko"]
    assert cached(text, "ko", tmp_path) is None
    name = render(text, "ko", tmp_path)
    assert cached(text, "ko", tmp_path) == name == prompt_filename(text, "ko")
    info = soxi(tmp_path / name)
    assert (info["Sample Rate"], info["Channels"], info["Sample Encoding"]) == ("8000", "1", "8-bit u-law")
    seconds = float(info["Duration"].split("=")[0].split(":")[-1])
    assert 1.0 < seconds < 10.0
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary files left behind


@pytest.mark.parametrize("lang", sorted(GREETINGS))
def test_a_webhook_renders_a_prompt_at_once_where_the_batch_would_put_it(tmp_path, lang):
    """render_now: espeak-ng itself, for a prompt a webhook needs now (a caller's place in line): the same file name
    as the batch renderer's, 8 kHz μ-law, nothing left behind; the batch finds it done."""
    name = tts.render_now(GREETINGS[lang], lang, tmp_path)
    assert name == prompt_filename(GREETINGS[lang], lang) == cached(GREETINGS[lang], lang, tmp_path)
    info = soxi(tmp_path / name)
    assert (info["Sample Rate"], info["Sample Encoding"]) == ("8000", "8-bit u-law") and tts.length_ms(tmp_path / name) > 800
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert build_all({lang: [GREETINGS[lang]]}, tmp_path) == {"rendered": 0, "cached": 1}


def test_a_prompt_that_cannot_be_rendered_at_once_is_a_speech_error(tmp_path):
    with pytest.raises(SpeechError, match="no prompt voice for language 'de'"):
        tts.render_now("Guten Tag", "de", tmp_path)
    with pytest.raises(SpeechError, match="within 0.0001 s"):  # espeak-ng cannot start that fast: given up
        tts.render_now("A sentence the machine has no time to say.", "en", tmp_path, timeout_s=0.0001)
    assert list(tmp_path.iterdir()) == []


def test_rendering_again_reuses_the_file(tmp_path):
    name = render("Press one.", "en", tmp_path)
    written = (tmp_path / name).stat().st_mtime_ns
    assert render("Press one.", "en", tmp_path) == name
    assert (tmp_path / name).stat().st_mtime_ns == written


def test_text_voice_and_rate_each_make_a_different_file():
    names = {prompt_filename("Hello", "en"), prompt_filename("Hello!", "en"), prompt_filename("Hello", "ru")}
    names.add(prompt_filename("Hello", "en", rate=120))
    assert len(names) == 4


def test_build_all_renders_every_language_once(tmp_path):
    texts = {lang: [greeting, greeting] for lang, greeting in GREETINGS.items()}
    assert build_all(texts, tmp_path) == {"rendered": 4, "cached": 0}
    assert all(cached(greeting, lang, tmp_path) for lang, greeting in GREETINGS.items())
    assert build_all(texts, tmp_path) == {"rendered": 0, "cached": 4}


def test_every_language_of_the_flows_has_a_voice():
    assert set(VOICES) == {"en", "ru", "fa", "ko"}


def test_a_language_without_a_voice_is_a_speech_error(tmp_path):
    with pytest.raises(SpeechError, match="no prompt voice for language 'de'"):
        render("Hallo", "de", tmp_path)
    assert cached("Hallo", "ko", tmp_path) is None


def test_espeak_ng_renders_a_prompt_pyttsx3_left_empty_in_every_language(tmp_path):
    """The fallback of a rendering pyttsx3 wrote nothing for: espeak-ng itself, with the same voice and rate."""
    for lang, text in (("en", "Goodbye."), ("ru", "До свидания."), ("fa", "خدانگهدار."), ("ko", "안녕히 계세요.")):
        job = {"text": text, "voice": tts.voice_for(lang), "rate": tts.DEFAULT_RATE, "out": str(tmp_path / f"{lang}.wav")}
        tts.espeak_render(job)
        assert tts.has_audio(job), lang
