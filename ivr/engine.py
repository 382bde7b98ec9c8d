"""The flow engine: renders flow nodes to TwiML and moves a call through its flow.

No Flask here. A webhook builds a ``Turn`` (the call, its flow, the database, URL makers and the
services the engine needs) and calls ``begin`` (a new call) or ``advance`` (input at a node).
Every node entered and every input heard is recorded on the call row and in its event log.
Failed input is re-prompted at most ``max_reprompts`` times; then the caller goes to a human,
with everything collected so far on the call row for the agent's screen pop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlite_utils
from twilio.twiml.voice_response import Connect, Gather, VoiceResponse

from ivr.exceptions import IvrError
from ivr.flows import AGENT_KEY, Flow, Node, Option
from speech.intent import Choice, Match, confirm_answer, match, match_speech_result
from store import calls

log = logging.getLogger(__name__)

AGENT_INTENT = "agent"
MAX_CHAINED_NODES = 20  # prompt → prompt → … guard against a cycle of prompts
MENU_TIMEOUT_S = 6
LOOKUP_TIMEOUT_S = 10
BARGE_IN_TIMEOUT_S = 1  # DTMF pressed during a prompt is kept; then the stream listens for speech


class Urls(Protocol):
    """Absolute URLs of the server's own webhooks, as Twilio must request them."""

    def step(self, node: str, **query: Any) -> str: ...
    def media_stream(self) -> str: ...
    def queue_wait(self, queue: str) -> str: ...
    def queue_result(self) -> str: ...
    def audio(self, text: str, language: str) -> str | None: ...
    def static(self, filename: str) -> str: ...
    def voice(self, endpoint: str, **query: Any) -> str: ...


@dataclass(frozen=True)
class Input:
    """What the caller did at a node: keys pressed, speech alternatives (text, confidence), or nothing."""

    digits: str = ""
    alternatives: tuple[tuple[str, float], ...] = ()
    source: str = "none"  # dtmf | gather-speech | stream | none
    decided: Match | None = None  # the Media Streams session's decision, when it made one

    @property
    def empty(self) -> bool:
        return not self.digits and not any(text.strip() for text, _ in self.alternatives)


@dataclass
class Turn:
    """One webhook's view of a call: everything the engine reads and writes."""

    db: sqlite_utils.Database
    call: dict[str, Any]
    flow: Flow
    urls: Urls
    enqueue: Callable[[Turn, Node, VoiceResponse], None]
    max_reprompts: int = 2
    speech_input: str = "dtmf"  # stream (Vosk over Media Streams) | twilio (<Gather speech>) | dtmf
    store_transcripts: bool = True
    kick: Callable[[], None] = lambda: None  # ask routing to dispatch now
    wait_hooks: list[Callable[[Turn, Any], None]] = field(default_factory=list)
    response: VoiceResponse = field(default_factory=VoiceResponse)

    @property
    def sid(self) -> str:
        return self.call["sid"]

    def say(self, text: str, parent: Any = None) -> None:
        """Speak ``text`` in the flow's language: pre-rendered audio when it exists, else <Say>."""
        target = self.response if parent is None else parent
        url = self.urls.audio(text, self.flow.language)
        if url:
            target.play(url)
        else:
            target.say(text, language=self.flow.voice)


def begin(turn: Turn) -> VoiceResponse:
    """The TwiML that starts a new call at the flow's first node."""
    if turn.speech_input == "dtmf" and _has_spoken_menus(turn.flow):
        turn.say(turn.flow.messages["speech_unavailable"])
    enter(turn, turn.flow.start)
    return turn.response


def advance(turn: Turn, node_id: str, inp: Input, attempt: int, confirming: str | None = None) -> VoiceResponse:
    """Handle the caller's input at ``node_id`` (attempt 1, 2, …) and render what comes next."""
    node = turn.flow.node(node_id)
    if confirming is not None:
        _confirmation(turn, node, inp, attempt, confirming)
    elif node.type == "menu":
        _menu_input(turn, node, inp, attempt)
    elif node.type == "lookup":
        _lookup_input(turn, node, inp, attempt)
    elif node.type == "survey":
        _survey_input(turn, node, inp, attempt)
    else:
        raise IvrError(f"node {node_id!r} takes no input")
    return turn.response


def enter(turn: Turn, node_id: str, attempt: int = 1) -> None:
    """Render ``node_id`` (and the nodes a prompt chains to) into the turn's response."""
    for _ in range(MAX_CHAINED_NODES):
        node = turn.flow.node(node_id)
        turn.call = calls.record_step(turn.db, turn.sid, node.id, enter=True, event={"attempt": attempt})
        if node.type == "prompt":
            turn.say(turn.flow.text(node.prompt))
            node_id = node.next
            continue
        RENDERERS[node.type](turn, node, attempt)
        return
    raise IvrError(f"flow {turn.flow.language}: more than {MAX_CHAINED_NODES} prompts in a row from {node_id!r}")


def _has_spoken_menus(flow: Flow) -> bool:
    return any(node.type == "menu" for node in flow.nodes.values())


# --- rendering nodes -------------------------------------------------------------------------


def _listen(turn: Turn, node: Node, attempt: int, prompt_text: str, phrases: list[str], **query: Any) -> None:
    """Speak a prompt and collect one key or an utterance, as the flow's speech input mode allows."""
    action = turn.urls.step(node.id, attempt=attempt, **query)
    if turn.speech_input == "stream":
        gather = Gather(input="dtmf", num_digits=1, timeout=BARGE_IN_TIMEOUT_S, action=action)
        turn.say(prompt_text, gather)
        turn.response.append(gather)
        connect = Connect(action=turn.urls.step(node.id, attempt=attempt, via="stream", **query))
        stream = connect.stream(url=turn.urls.media_stream())
        for name, value in (("call_sid", turn.sid), ("node", node.id), ("attempt", attempt), ("confirming", query.get("confirming", ""))):
            stream.parameter(name=name, value=str(value))
        turn.response.append(connect)
        return
    speech: dict[str, Any] = {}
    if turn.speech_input == "twilio":
        speech = {"input": "dtmf speech", "language": turn.flow.voice, "hints": ", ".join(phrases), "speech_timeout": "auto"}
    _gather(turn, action, prompt_text, num_digits=1, timeout=MENU_TIMEOUT_S, **speech)


def _render_menu(turn: Turn, node: Node, attempt: int) -> None:
    phrases = [p for option in node.options for p in option.phrases] + list(turn.flow.agent_phrases)
    _listen(turn, node, attempt, turn.flow.text(node.prompt), phrases)


def _gather(turn: Turn, action: str, text: str, **options: Any) -> None:
    """Speak ``text`` inside a <Gather>; the <Redirect> after it is where Twilio falls through when nothing comes."""
    gather = Gather(action=action, **{"input": "dtmf", **options})
    turn.say(text, gather)
    turn.response.append(gather)
    turn.response.redirect(action)


def _render_lookup(turn: Turn, node: Node, attempt: int) -> None:
    _gather(turn, turn.urls.step(node.id, attempt=attempt), turn.flow.text(node.prompt), finish_on_key="#", timeout=LOOKUP_TIMEOUT_S)


def _render_queue(turn: Turn, node: Node, attempt: int) -> None:
    if node.prompt:
        turn.say(turn.flow.text(node.prompt))
    turn.enqueue(turn, node, turn.response)


def _render_survey(turn: Turn, node: Node, attempt: int) -> None:
    _gather(turn, turn.urls.step(node.id, attempt=attempt), turn.flow.text(node.prompt), num_digits=1, timeout=MENU_TIMEOUT_S)


def _render_hangup(turn: Turn, node: Node, attempt: int) -> None:
    if node.prompt:
        turn.say(turn.flow.text(node.prompt))
    turn.response.hangup()


RENDERERS: dict[str, Callable[[Turn, Node, int], None]] = {
    "menu": _render_menu,
    "lookup": _render_lookup,
    "queue": _render_queue,
    "survey": _render_survey,
    "hangup": _render_hangup,
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
    if turn.store_transcripts:
        record["text"], record["confidence"] = inp.alternatives[0]
    return record


def _menu_input(turn: Turn, node: Node, inp: Input, attempt: int) -> None:
    if inp.digits:
        key = inp.digits[:1]
        option = _option(node, key)
        calls.record_step(turn.db, turn.sid, node.id, enter=False, digits=inp.digits, event={"attempt": attempt})
        if key == AGENT_KEY:
            _to_human(turn, node, "asked", intent=AGENT_INTENT)
        elif option is None:
            _retry(turn, node, attempt, "no_match")
        else:
            _choose(turn, node, option, confidence=1.0)
        return
    if inp.empty:
        calls.record_step(turn.db, turn.sid, node.id, enter=False, event={"attempt": attempt, "result": "no-input"})
        _retry(turn, node, attempt, "no_input")
        return
    if inp.decided is not None:
        found = inp.decided
    elif inp.source == "gather-speech":
        found = match_speech_result(menu_choices(turn.flow, node), *inp.alternatives[0])
    else:
        found = match(menu_choices(turn.flow, node), list(inp.alternatives))
    speech = _speech_record(turn, inp, found)
    transcript = {"transcript": inp.alternatives[0][0]} if turn.store_transcripts else {}
    calls.record_step(turn.db, turn.sid, node.id, enter=False, speech=speech, event={"attempt": attempt}, **transcript)
    if found.decision == "reject":
        _retry(turn, node, attempt, "no_match")
    elif found.key == AGENT_KEY and found.decision == "act":
        _to_human(turn, node, "asked", intent=AGENT_INTENT, confidence=found.score)
    elif found.decision == "act":
        _choose(turn, node, _option(node, found.key), confidence=found.score)
    else:
        label = found.heard if found.key == AGENT_KEY else (_option(node, found.key).phrases or (found.intent,))[0]
        text = turn.flow.text("confirm", choice=label)
        _listen(turn, node, attempt, text, list(turn.flow.yes_phrases + turn.flow.no_phrases), confirming=found.key)


def _confirmation(turn: Turn, node: Node, inp: Input, attempt: int, key: str) -> None:
    """The caller answers "did you say …?": 1/yes acts on ``key``, anything else re-prompts the menu."""
    if inp.digits:
        answer: bool | None = inp.digits[:1] == "1" if inp.digits[:1] in ("1", "2") else None
    elif inp.decided is not None:  # the stream matched yes/no: a yes must be clear, a no is taken as it comes
        strong_yes = inp.decided.intent == "yes" and inp.decided.decision == "act"
        answer = True if strong_yes else False if inp.decided.intent == "no" and inp.decided.decision != "reject" else None
    else:
        answer = confirm_answer(list(inp.alternatives), turn.flow.language) if inp.alternatives else None
    calls.record_step(
        turn.db, turn.sid, node.id, enter=False, digits=inp.digits or None,
        event={"attempt": attempt, "confirming": key, "confirmed": answer},
    )
    if answer and key == AGENT_KEY:
        _to_human(turn, node, "asked", intent=AGENT_INTENT)
    elif answer:
        _choose(turn, node, _option(node, key), confidence=None)
    else:
        _retry(turn, node, attempt, "no_match" if answer is False or not inp.empty else "no_input")


def _option(node: Node, key: str | None) -> Option | None:
    return next((o for o in node.options if o.key == key), None)


def _choose(turn: Turn, node: Node, option: Option, confidence: float | None) -> None:
    """The caller picked ``option``: keep the intent and go on."""
    updates: dict[str, Any] = {"intent": option.intent}
    if confidence is not None:
        updates["confidence"] = confidence
    calls.update_call(turn.db, turn.sid, "intent", {"node": node.id, "intent": option.intent}, **updates)
    enter(turn, option.next)


def _retry(turn: Turn, node: Node, attempt: int, reason: str) -> None:
    """Re-prompt after no input / no match, or hand over to a human once the re-prompts are used up."""
    if attempt > turn.max_reprompts:
        if node.type == "survey":
            turn.say(turn.flow.messages["goodbye"])
            turn.response.hangup()
            return
        _to_human(turn, node, reason)
        return
    turn.say(turn.flow.messages[reason])
    RENDERERS[node.type](turn, node, attempt + 1)
    calls.add_event(turn.db, turn.sid, "reprompt", {"node": node.id, "attempt": attempt + 1, "reason": reason})


def _to_human(turn: Turn, node: Node, reason: str, **updates: Any) -> None:
    """Send the caller to a person, with what they said and did already on the call row."""
    target = node.agent_node or turn.flow.agent_node
    calls.update_call(turn.db, turn.sid, "handoff", {"from": node.id, "reason": reason, "to": target}, **updates)
    turn.say(turn.flow.messages["to_agent"])
    enter(turn, target)


def _lookup_input(turn: Turn, node: Node, inp: Input, attempt: int) -> None:
    digits = "".join(ch for ch in inp.digits if ch.isdigit())[: node.max_digits]
    calls.record_step(turn.db, turn.sid, node.id, enter=False, digits=inp.digits or None, event={"attempt": attempt})
    if digits == AGENT_KEY:
        _to_human(turn, node, "asked", intent=AGENT_INTENT)
        return
    if not digits:
        _retry(turn, node, attempt, "no_input" if not inp.digits else "no_match")
        return
    found = LOOKUPS[node.source](turn, digits)
    calls.add_event(turn.db, turn.sid, "lookup", {"node": node.id, "source": node.source, "key": digits, "found": found is not None})
    if found is None:
        turn.say(turn.flow.text(node.not_found))
        _retry(turn, node, attempt, "no_match")
        return
    turn.say(turn.flow.text(node.found, **found))
    enter(turn, node.next)


def _order_status(turn: Turn, number: str) -> dict[str, Any] | None:
    row = calls.order(turn.db, number)
    if row is None:
        return None
    return {**row, "number_spoken": " ".join(row["number"])}


LOOKUPS: dict[str, Callable[[Turn, str], dict[str, Any] | None]] = {"order_status": _order_status}


def _survey_input(turn: Turn, node: Node, inp: Input, attempt: int) -> None:
    key = inp.digits[:1]
    calls.record_step(turn.db, turn.sid, node.id, enter=False, digits=inp.digits or None, event={"attempt": attempt})
    if key in {"1", "2", "3", "4", "5"}:
        calls.record_survey(turn.db, turn.sid, node.question, int(key))
        turn.say(turn.flow.messages["survey_thanks"])
        turn.response.hangup()
        return
    _retry(turn, node, attempt, "no_input" if not key else "no_match")
