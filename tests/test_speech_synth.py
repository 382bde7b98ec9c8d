"""Caller audio synthesized with espeak-ng for the simulator and tests: 8 kHz μ-law, noise at a chosen SNR."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.exceptions import SimulatorError
from simulator.voices import CACHE_DIR, LINE_DBFS, active_power, caller_audio, line_noise, snr_of
from wire.mulaw import duration_ms, ulaw_decode


def test_a_korean_phrase_becomes_about_a_second_of_8khz_ulaw_speech():
    audio = caller_audio("상담원 연결", "ko")
    assert 600 < duration_ms(audio) < 3000
    assert np.abs(ulaw_decode(audio).astype(int)).max() > 3000  # words, not silence


def test_the_same_request_is_read_from_the_cache():
    first = caller_audio("환불", "ko", voice_variant="f3", speed=140)
    cached_files = {p.name: p.stat().st_mtime_ns for p in CACHE_DIR.glob("*.ulaw")}
    again = caller_audio("환불", "ko", voice_variant="f3", speed=140)
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in CACHE_DIR.glob("*.ulaw")} == cached_files


def test_voices_and_speeds_change_the_audio():
    plain = caller_audio("환불", "ko")
    assert caller_audio("환불", "ko", voice_variant="f3") != plain
    assert duration_ms(caller_audio("환불", "ko", speed=110)) > duration_ms(caller_audio("환불", "ko", speed=220))


@pytest.mark.parametrize("snr_db", [10, 15, 20])
def test_noise_is_mixed_at_the_requested_snr(snr_db):
    clean = caller_audio("요금제", "ko")
    noisy = caller_audio("요금제", "ko", snr_db=snr_db, seed=3)
    assert snr_of(clean, noisy) == pytest.approx(snr_db, abs=0.5)  # μ-law quantization moves it a little


def test_a_line_floor_leaves_no_digital_silence_around_the_words():
    lead = ulaw_decode(caller_audio("오더", "ko", lead_ms=300, line_dbfs=LINE_DBFS))[:2400].astype(np.float64)
    assert not (lead.reshape(-1, 160) == 0).all(axis=1).any()  # no 20 ms frame of zeros, as on a real line
    level = 20 * np.log10(np.sqrt(np.mean(lead**2)) / 32768)
    assert level == pytest.approx(LINE_DBFS, abs=2.0)  # μ-law's coarse steps near zero raise it a little
    assert not ulaw_decode(caller_audio("오더", "ko", lead_ms=300))[:2400].any()  # without it: digital silence


def test_noise_depends_on_the_seed():
    assert caller_audio("요금제", "ko", snr_db=15, seed=1) != caller_audio("요금제", "ko", snr_db=15, seed=2)


def test_pauses_before_and_after_the_words_are_added():
    words = caller_audio("오더", "ko")
    padded = caller_audio("오더", "ko", lead_ms=300, tail_ms=700)
    assert duration_ms(padded) == pytest.approx(duration_ms(words) + 1000, abs=2)
    assert not ulaw_decode(padded[:2400]).any()


def test_line_noise_is_quiet():
    hiss = ulaw_decode(line_noise(1000, dbfs=-50))
    level = 10 * np.log10(active_power(hiss, floor_db=100) / 32768**2)
    assert level == pytest.approx(-50, abs=1.5)


def test_an_unknown_voice_is_a_clear_error():
    with pytest.raises(SimulatorError, match="cannot synthesize"):
        caller_audio("hello", "xx-nonexistent")
