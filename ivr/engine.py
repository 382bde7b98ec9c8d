"""The flow engine: renders flow nodes to TwiML and moves a call through its flow.

No Flask and no store: it works on a ``core.turn.Turn``, appending to the call the nodes entered and
the input heard (the webhook saves them), and rendering into ``turn.response``. A queue node hands the
call to ``core.queue.enqueue``. Failed input is re-prompted at most ``max_reprompts`` times; then the
caller goes to a human, with everything collected so far on the call for the agent's screen pop.
``Engine`` is the ``core.turn.Flows`` the lifecycle uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from babel.dates import format_datetime
from twilio.twiml.voice_response import Connect, Gather, Start, Stop

from core import queue
from core.callback import spoken
from core.clock import iso
from core.constants import AGENT_INTENT, AGENT_KEY, LANGUAGES
from core.model import Choice, Input, Match, turn_key
from core.numbers import callable_number
from core.ops import BookCallback, CallerLanguage, Enqueue, SurveyAnswer
from core.turn import Turn
from ivr.exceptions import IvrError
from ivr.flows import Flow, Node, Option
from speech.intent import confirm_answer, match, match_speech_result, yes_no_choices, yes_or_no

log = logging.getLogger(__name__)

MAX_CHAINED_NODES = 20  # prompt → prompt → … guard against a cycle of prompts
MENU_TIMEOUT_S = 6
LOOKUP_TIMEOUT_S = 10
LANGUAGE_MENU = "choose_language"  # the menu before any flow, for callers nothing tells us the language of
KEYS_ONLY = "_keys"  # a menu prompt's variant for languages without speech recognition here
VOICEMAIL_TURN = "voicemail"  # the stream token's turn (voice.voicemail checks it)
PROMPT_MS = "prompt_ms"  # the <Stream> parameter that says how long the prompt plays (no-input counts after it)
STREAM_DECIDES_WITHIN_S = 17  # after the prompt and MENU_TIMEOUT_S: the longest utterance (15 s) and its decoding
NARROWED_OPTIONS = 2  # after words that were not understood, the re-prompt offers this many likeliest options


class Engine:
    """The center's flows by language, and how a call moves through them."""

    def __init__(self, flows: dict[str, Flow], default_language: str,
                 holidays: dict[date, dict[str, str]] | None = None) -> None:
        if default_language not in flows:
            raise IvrError(f"DEFAULT_LANGUAGE {default_language!r} has no flow; flows: {', '.join(sorted(flows))}")
        self.flows = flows
        self.default_language = default_language
        self.holidays = holidays or {}

    def counted(self, language: str, name: str, count: int) -> str:
        return self.flow(language).counted(name, count)

    def holiday_name(self, day: date, language: str) -> str:
        names = self.holidays.get(day, {})
        return names.get(language) or names.get(self.default_language) or day.isoformat()

    def language_for(self, language: str | None) -> str:
        return language if language in self.flows else self.default_language

    def flow(self, language: str | None) -> Flow:
        return self.flows[self.language_for(language)]

    def name(self, language: str) -> str:
        return self.flow(language).name

    def text(self, language: str, name: str, **values: Any) -> str:
        return self.flow(language).text(name, **values)

    def voice(self, language: str) -> str:
        return self.flow(language).voice

    def begin(self, turn: Turn) -> None:
        if turn.call["language"] is None and len(self.flows) > 1:  # nothing said which language: the caller does
            self._language_menu(turn)
            return
        flow = self.flow(turn.language)
        enter(turn, flow, flow.start)

    @property
    def menu_languages(self) -> list[str]:
        """The languages of the language menu, in the order their keys are pressed (1, 2, …)."""
        return [language for language in LANGUAGES if language in self.flows]

    def _language_menu(self, turn: Turn) -> None:
        """"For English, press 1. Для русского языка нажмите 2. …", each in its own language and voice."""
        turn.call.append("path", LANGUAGE_MENU)
        turn.call.log("enter", {"node": LANGUAGE_MENU, "attempt": 1})
        gather = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT_S, action=turn.urls.step(LANGUAGE_MENU))
        for key, language in enumerate(self.menu_languages, start=1):
            turn.say(self.flows[language].text("language_choice", key=key), gather, language=language)
        turn.response.append(gather)
        turn.response.redirect(turn.urls.step(LANGUAGE_MENU))

    def _language_chosen(self, turn: Turn, inp: Input) -> None:
        """The key pressed at the language menu (nothing or another key: DEFAULT_LANGUAGE); kept on the caller."""
        languages = self.menu_languages
        key = inp.digits[:1]
        language = languages[int(key) - 1] if key.isdecimal() and 1 <= int(key) <= len(languages) else None
        turn.call.set(language=language or self.default_language, flow=self.name(language or self.default_language))
        turn.call.log("input", {"node": LANGUAGE_MENU, "digits": inp.digits or None})
        if language:
            turn.do(CallerLanguage(turn.sid, language))
        flow = self.flow(turn.language)
        enter(turn, flow, flow.start)

    def advance(self, turn: Turn, node_id: str, inp: Input, attempt: int, confirming: str | None) -> None:
        if node_id == LANGUAGE_MENU:
            self._language_chosen(turn, inp)
            return
        flow = self.flow(turn.language)
        node = flow.node(node_id)
        if (node.type == "menu" or confirming is not None) and turn.rules.listens_by(flow.language) == "stream":
            _stop_listening(turn, node_id, attempt, confirming)
        if confirming is not None:
            _confirmation(turn, flow, node, inp, attempt, confirming)
        elif node.type in INPUT_HANDLERS:
            INPUT_HANDLERS[node.type](turn, flow, node, inp, attempt)
        else:
            raise IvrError(f"node {node_id!r} takes no input")

    def survey(self, turn: Turn) -> bool:
        flow = self.flow(turn.language)
        if not flow.survey_node:
            return False
        enter(turn, flow, flow.survey_node)
        return True

    def choices(self, language: str, node_id: str, confirming: str | None) -> list[Choice]:
        flow = self.flow(language)
        return yes_no_choices(flow.language) if confirming else menu_choices(flow, flow.node(node_id))


def enter(turn: Turn, flow: Flow, node_id: str, attempt: int = 1) -> None:
    """Render ``node_id`` (and the nodes a prompt chains to) into the turn's response."""
    for _ in range(MAX_CHAINED_NODES):
        node = flow.node(node_id)
        turn.call.append("path", node.id)
        turn.call.set(node=node.id)
        turn.call.log("enter", {"node": node.id, "attempt": attempt})
        if node.type == "prompt":
            turn.say(flow.text(node.prompt))
            node_id = node.next
            continue
        RENDERERS[node.type](turn, flow, node, attempt)
        return
    raise IvrError(f"flow {flow.language}: more than {MAX_CHAINED_NODES} prompts in a row from {node_id!r}")


def _record_input(turn: Turn, node: Node, *, digits: str | None = None, speech: dict[str, Any] | None = None,
                  **event: Any) -> None:
    """Keep what the caller did at ``node`` on the call (keys, what was said) and in its event log."""
    call = turn.call
    if digits:
        call.append("digits", {"node": node.id, "digits": digits})
    if speech:
        call.append("speech", {"node": node.id, **speech})
    call.set(node=node.id)
    detail: dict[str, Any] = {"digits": digits} if digits else {}
    if speech:
        detail["speech"] = speech
    call.log("input", {"node": node.id, **detail, **event})



# --- rendering nodes -------------------------------------------------------------------------


def _listen(turn: Turn, flow: Flow, node: Node, attempt: int, prompt_text: str | Sequence[str], phrases: list[str],
            confirming: str | None = None) -> None:
    """Speak a prompt (one text, or several said one after the other) and collect one key or an utterance, as the
    flow's speech input mode allows."""
    action = turn.urls.step(node.id, attempt, confirming=confirming)
    mode = turn.rules.listens_by(flow.language)
    if mode == "stream":
        _listen_while_speaking(turn, node, attempt, prompt_text, confirming)
        return
    speech: dict[str, Any] = {}
    if mode == "twilio":
        speech = {"input": "dtmf speech", "language": flow.voice, "hints": ", ".join(phrases), "speech_timeout": "auto"}
    _gather(turn, action, prompt_text, num_digits=1, timeout=MENU_TIMEOUT_S, **speech)


def _listen_while_speaking(turn: Turn, node: Node, attempt: int, prompt_text: str | Sequence[str],
                           confirming: str | None) -> None:
    """Barge-in: the caller's audio is streamed to us (``<Start><Stream>``, named by the turn) from before the prompt
    starts, so words said over the prompt are heard; the socket's decision redirects the live call to the turn's
    ``via=stream`` step (voice.media), cutting the prompt short. A key ends the <Gather> as usual. The <Pause> and
    <Redirect> after it are only the way on if the socket never decides (it counts the prompt's length first)."""
    key = turn_key(node.id, attempt, confirming)
    start = Start()
    stream = start.stream(name=key, url=turn.urls.media_stream(), track="inbound_track")
    turn.response.append(start)
    prompt_ms = _gather(turn, turn.urls.step(node.id, attempt, confirming=confirming), prompt_text, num_digits=1,
                        timeout=MENU_TIMEOUT_S, then=turn.urls.step(node.id, attempt, via="stream", confirming=confirming),
                        pause_s=STREAM_DECIDES_WITHIN_S)
    for name, value in (("call_sid", turn.sid), ("node", node.id), ("attempt", attempt), ("confirming", confirming or ""),
                        (PROMPT_MS, prompt_ms), *turn.env.tokens.issue(turn.sid, key, turn.now).items()):
        stream.parameter(name=name, value=str(value))


def _stop_listening(turn: Turn, node_id: str, attempt: int, confirming: str | None) -> None:
    """The turn is answered (a key, or the stream's decision): its stream stops before anything else is said."""
    stop = Stop()
    stop.stream(name=turn_key(node_id, attempt, confirming))
    turn.response.append(stop)


def _render_menu(turn: Turn, flow: Flow, node: Node, attempt: int, offer: Sequence[str] = ()) -> None:
    """The menu; with ``offer`` (option keys), a narrowed prompt naming only those options (any key or phrase of the
    menu still counts)."""
    phrases = [p for option in node.options for p in option.phrases] + list(flow.agent_phrases)
    offers = [option.offer for key in offer for option in node.options if option.key == key and option.offer]
    if offers and "narrowed" in flow.messages:
        _listen(turn, flow, node, attempt, [flow.text("narrowed"), *offers], phrases)
    else:
        _listen(turn, flow, node, attempt, flow.text(menu_prompt(turn, flow, node)), phrases)


def likeliest(node: Node, found: Match) -> tuple[str, ...]:
    """The keys of the options a rejected utterance pointed to most (those that can be offered alone), best first."""
    scored = [o for o in node.options if o.offer and found.scores.get(o.intent, 0.0) > 0]
    scored.sort(key=lambda o: -found.scores[o.intent])
    return tuple(o.key for o in scored[:NARROWED_OPTIONS])


def _say_all(turn: Turn, text: str | Sequence[str], parent: Any) -> int:
    """Say one text or several, one after the other; how long they play, in ms."""
    return sum(turn.say(part, parent) for part in ((text,) if isinstance(text, str) else text))


def menu_prompt(turn: Turn, flow: Flow, node: Node) -> str:
    """The menu's prompt; where nothing listens for speech in this language, its keys-only one (``<prompt>_keys``):
    callers are offered what works, never told what does not."""
    keys_only = f"{node.prompt}{KEYS_ONLY}"
    return keys_only if turn.rules.listens_by(flow.language) == "dtmf" and keys_only in flow.prompts else node.prompt


def _gather(turn: Turn, action: str, text: str | Sequence[str], *, then: str | None = None, pause_s: int = 0,
            **options: Any) -> int:
    """Speak ``text`` inside a <Gather>; the <Redirect> after it (to ``then``, else ``action``), after ``pause_s`` of
    silence, is where Twilio falls through when nothing comes. How long the prompt plays, in ms."""
    gather = Gather(action=action, **{"input": "dtmf", **options})
    prompt_ms = _say_all(turn, text, gather)
    turn.response.append(gather)
    if pause_s:
        turn.response.pause(length=pause_s)
    turn.response.redirect(then or action)
    return prompt_ms


def _render_lookup(turn: Turn, flow: Flow, node: Node, attempt: int) -> None:
    _gather(turn, turn.urls.step(node.id, attempt), flow.text(node.prompt), finish_on_key="#", timeout=LOOKUP_TIMEOUT_S)


def _render_queue(turn: Turn, flow: Flow, node: Node, attempt: int) -> None:
    """Into the queue; unless it refuses callers while nobody who could take them is signed in: then a message."""
    staffing = turn.lookup("queue", node.queue) or {}
    if staffing.get("refuse_unstaffed") and not staffing.get("staffed"):
        turn.call.log("refused", {"queue": node.queue, "reason": "nobody staffed"})
        turn.say(flow.text("queue_unstaffed"))
        leave_message(turn, flow, node)
        return
    if node.prompt:
        turn.say(flow.text(node.prompt))
    queue.enqueue(turn, node.queue, node.priority)


def _render_survey(turn: Turn, flow: Flow, node: Node, attempt: int) -> None:
    _gather(turn, turn.urls.step(node.id, attempt), flow.text(node.prompt), num_digits=1, timeout=MENU_TIMEOUT_S)


def _render_hours(turn: Turn, flow: Flow, node: Node, attempt: int) -> None:
    """Open: on to ``next``. Closed (out of hours, or a holiday): when we open again, and the offer of a callback
    then (a key); nothing pressed, goodbye."""
    hours = turn.rules.callback.hours if turn.rules.callback else None
    if hours is None or hours.is_open(turn.now):
        enter(turn, flow, node.next)
        return
    opening = spoken_time(hours.next_open(turn.now), flow.language)
    holiday = hours.holiday(turn.now)
    if attempt == 1:
        turn.call.log("closed", {"holiday": holiday.isoformat() if holiday else None})
        if holiday:
            turn.say(flow.text("closed_holiday", holiday=turn.env.flows.holiday_name(holiday, flow.language),
                               opening=opening))
        else:
            turn.say(flow.text("closed_now", opening=opening))
    gather = Gather(input="dtmf", num_digits=1, timeout=MENU_TIMEOUT_S, action=turn.urls.step(node.id, attempt))
    turn.say(flow.text(node.prompt), gather)
    turn.response.append(gather)
    turn.hang_up("goodbye")


def spoken_time(moment: datetime, language: str) -> str:
    """A moment as a caller hears it in their language: "Monday 08:00", "понедельник 08:00"."""
    return format_datetime(moment, "EEEE HH:mm", tzinfo=moment.tzinfo, locale=language)


def _hours_input(turn: Turn, flow: Flow, node: Node, inp: Input, attempt: int) -> None:
    """Closed: 1 books a callback for when we open (the caller's own number), 2 leaves a message; else goodbye."""
    _record_input(turn, node, digits=inp.digits or None, attempt=attempt)
    hours = turn.rules.callback.hours if turn.rules.callback else None
    number = callable_number(turn.call["from_number"] or "", turn.rules.default_region)
    if inp.digits[:1] == "2":
        leave_message(turn, flow, node)
        return
    if inp.digits[:1] != "1" or hours is None:
        turn.hang_up("goodbye")
        return
    if number is None:  # withheld: nobody to call back
        turn.say(flow.text("callback_bad_number"))
        turn.hang_up("goodbye")
        return
    at = hours.next_open(turn.now)
    call = turn.call
    turn.do(Enqueue(call.sid, node.queue, turn.language, node.priority, call["caller_id"], queue.context_of(call)))
    call.set(queue=node.queue, outcome="callback")
    call.fill(queued_at=iso(turn.now))
    turn.do(BookCallback(turn.sid, number, at))
    call.log("callback-requested", {"number": number, "at": at.isoformat()})
    when = flow.text("callback_when_open", opening=spoken_time(at, flow.language))
    turn.say(flow.text("callback_booked", number=spoken(number), when=when))
    turn.response.hangup()


def leave_message(turn: Turn, flow: Flow, node: Node) -> None:
    """The caller's message, recorded by us over a Media Stream (``voice.voicemail``), never by Twilio."""
    turn.call.set(queue=node.queue)
    turn.call.log("voicemail-started", {"node": node.id})
    turn.say(flow.text("voicemail_intro"))
    connect = Connect(action=turn.urls.voicemail_done())
    stream = connect.stream(url=turn.urls.voicemail_stream())
    for name, value in (("call_sid", turn.sid), *turn.env.tokens.issue(turn.sid, VOICEMAIL_TURN, turn.now).items()):
        stream.parameter(name=name, value=str(value))
    turn.response.append(connect)


def _render_hangup(turn: Turn, flow: Flow, node: Node, attempt: int) -> None:
    if node.prompt:
        turn.say(flow.text(node.prompt))
    turn.response.hangup()


Renderer = Callable[[Turn, Flow, Node, int], None]
RENDERERS: dict[str, Renderer] = {
    "menu": _render_menu,
    "lookup": _render_lookup,
    "queue": _render_queue,
    "survey": _render_survey,
    "hangup": _render_hangup,
    "hours": _render_hours,
}


# --- handling input --------------------------------------------------------------------------


def menu_choices(flow: Flow, node: Node) -> list[Choice]:
    """What a caller may say at a menu: its options that have phrases, and always the agent."""
    spoken = [Choice(key=o.key, intent=o.intent, phrases=list(o.phrases)) for o in node.options if o.phrases]
    return [*spoken, Choice(key=AGENT_KEY, intent=AGENT_INTENT, phrases=list(flow.agent_phrases))]


def _speech_record(turn: Turn, inp: Input, found: Match | None) -> dict[str, Any] | None:
    """What to keep of an utterance: the transcript only when STORE_TRANSCRIPTS allows."""
    if not inp.alternatives:
        return None
    record: dict[str, Any] = {"source": inp.source}
    if found is not None:
        record.update(intent=found.intent, score=round(found.score, 3), decision=found.decision)
    if turn.rules.store_transcripts:
        record["text"], record["confidence"] = inp.alternatives[0]
    return record


def _menu_input(turn: Turn, flow: Flow, node: Node, inp: Input, attempt: int) -> None:
    if inp.digits:
        key = inp.digits[:1]
        option = _option(node, key)
        _record_input(turn, node, digits=inp.digits, attempt=attempt)
        if key == AGENT_KEY:
            _to_human(turn, flow, node, "asked", intent=AGENT_INTENT)
        elif option is None:
            _retry(turn, flow, node, attempt, "no_match")
        else:
            _choose(turn, flow, node, option, confidence=1.0)
        return
    if inp.empty:
        _record_input(turn, node, attempt=attempt, result="no-input")
        _retry(turn, flow, node, attempt, "no_input")
        return
    if inp.decided is not None:
        found = inp.decided
    elif inp.source == "gather-speech":
        found = match_speech_result(menu_choices(flow, node), *inp.alternatives[0])
    else:
        found = match(menu_choices(flow, node), list(inp.alternatives))
    _record_input(turn, node, speech=_speech_record(turn, inp, found), attempt=attempt)
    if turn.rules.store_transcripts and inp.alternatives and inp.alternatives[0][0]:
        turn.call.set(transcript=inp.alternatives[0][0])
    if found.decision == "reject":
        _retry(turn, flow, node, attempt, "no_match", offer=likeliest(node, found))
    elif found.key == AGENT_KEY and found.decision == "act":
        _to_human(turn, flow, node, "asked", intent=AGENT_INTENT, confidence=found.score)
    elif found.decision == "act":
        _choose(turn, flow, node, _option(node, found.key), confidence=found.score)
    else:
        _ask_to_confirm(turn, flow, node, attempt, found.key, found.heard if found.key == AGENT_KEY else None)


def _ask_to_confirm(turn: Turn, flow: Flow, node: Node, attempt: int, key: str, heard: str | None = None) -> None:
    """ "Did you say …?" about option ``key``: named by its first phrase, or for the agent by what was ``heard``."""
    option = _option(node, key)
    label = heard or (option.phrases[0] if option is not None and option.phrases else next(iter(flow.agent_phrases), key))
    _listen(turn, flow, node, attempt, flow.text("confirm", choice=label), list(flow.yes_phrases + flow.no_phrases),
            confirming=key)


def _confirmation(turn: Turn, flow: Flow, node: Node, inp: Input, attempt: int, key: str) -> None:
    """The caller answers "did you say …?": 1/yes acts on ``key``; an answer not understood asks again; no, or nothing,
    re-prompts the menu."""
    if inp.digits:
        answer: bool | None = inp.digits[:1] == "1" if inp.digits[:1] in ("1", "2") else None
    elif inp.decided is not None:  # the stream matched yes/no: the same rule as for words (speech.intent.yes_or_no)
        answer = yes_or_no(inp.decided)
    else:
        answer = confirm_answer(list(inp.alternatives), flow.language) if inp.alternatives else None
    _record_input(turn, node, digits=inp.digits or None, attempt=attempt, confirming=key, confirmed=answer)
    if answer and key == AGENT_KEY:
        _to_human(turn, flow, node, "asked", intent=AGENT_INTENT)
    elif answer:
        _choose(turn, flow, node, _option(node, key), confidence=None)
    elif answer is None and not inp.empty and attempt <= turn.rules.max_reprompts:
        # words not understood or another key: the same question again, not the whole menu (they already named it)
        turn.say(flow.messages["no_match"])
        _ask_to_confirm(turn, flow, node, attempt + 1, key)
        turn.call.log("reprompt", {"node": node.id, "attempt": attempt + 1, "reason": "no_match", "confirming": key})
    else:
        _retry(turn, flow, node, attempt, "no_match" if answer is False or not inp.empty else "no_input")


def _option(node: Node, key: str | None) -> Option | None:
    return next((o for o in node.options if o.key == key), None)


def _choose(turn: Turn, flow: Flow, node: Node, option: Option | None, confidence: float | None) -> None:
    """The caller picked ``option``: keep the intent and go on."""
    if option is None:
        raise IvrError(f"node {node.id!r} has no such option")
    turn.call.set(intent=option.intent, **({"confidence": confidence} if confidence is not None else {}))
    turn.call.log("intent", {"node": node.id, "intent": option.intent})
    enter(turn, flow, option.next)


def _retry(turn: Turn, flow: Flow, node: Node, attempt: int, reason: str, offer: Sequence[str] = ()) -> None:
    """Re-prompt after no input / no match, or hand over to a human once the re-prompts are used up. ``offer``: the
    menu's likeliest options after words that were not understood; the re-prompt names only them."""
    if attempt > turn.rules.max_reprompts:
        if node.type == "survey":
            turn.say(flow.messages["goodbye"])
            turn.response.hangup()
            return
        _to_human(turn, flow, node, reason)
        return
    turn.say(flow.messages[reason])
    if offer and node.type == "menu":
        _render_menu(turn, flow, node, attempt + 1, offer)
    else:
        RENDERERS[node.type](turn, flow, node, attempt + 1)
    turn.call.log("reprompt", {"node": node.id, "attempt": attempt + 1, "reason": reason,
                               **({"offered": list(offer)} if offer else {})})  # fmt: skip


def _to_human(turn: Turn, flow: Flow, node: Node, reason: str, **updates: Any) -> None:
    """Send the caller to a person, with what they said and did already on the call."""
    target = node.agent_node or flow.agent_node
    turn.call.set(**updates)
    turn.call.log("handoff", {"from": node.id, "reason": reason, "to": target})
    turn.say(flow.messages["to_agent"])
    enter(turn, flow, target)


def _lookup_input(turn: Turn, flow: Flow, node: Node, inp: Input, attempt: int) -> None:
    digits = "".join(ch for ch in inp.digits if ch.isdigit())[: node.max_digits]
    _record_input(turn, node, digits=inp.digits or None, attempt=attempt)
    if digits == AGENT_KEY:
        _to_human(turn, flow, node, "asked", intent=AGENT_INTENT)
        return
    if not digits:
        _retry(turn, flow, node, attempt, "no_input" if not inp.digits else "no_match")
        return
    found = LOOKUPS[node.source](turn, digits)
    turn.call.log("lookup", {"node": node.id, "source": node.source, "key": digits, "found": found is not None})
    if found is None:
        turn.say(flow.text(node.not_found))
        _retry(turn, flow, node, attempt, "no_match")
        return
    turn.say(flow.text(node.found, **found))
    enter(turn, flow, node.next)


def _order_status(turn: Turn, number: str) -> dict[str, Any] | None:
    row = turn.lookup("order_status", number)
    if row is None:
        return None
    return {**row, "number_spoken": " ".join(row["number"])}


LOOKUPS: dict[str, Callable[[Turn, str], dict[str, Any] | None]] = {"order_status": _order_status}


def _survey_input(turn: Turn, flow: Flow, node: Node, inp: Input, attempt: int) -> None:
    key = inp.digits[:1]
    _record_input(turn, node, digits=inp.digits or None, attempt=attempt)
    if key in {"1", "2", "3", "4", "5"}:
        turn.do(SurveyAnswer(turn.sid, node.question, int(key)))
        turn.say(flow.messages["survey_thanks"])
        turn.response.hangup()
        return
    _retry(turn, flow, node, attempt, "no_input" if not key else "no_match")


InputHandler = Callable[[Turn, Flow, Node, Input, int], None]
INPUT_HANDLERS: dict[str, InputHandler] = {"menu": _menu_input, "lookup": _lookup_input, "survey": _survey_input,
                                           "hours": _hours_input}
