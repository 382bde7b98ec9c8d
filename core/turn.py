"""A turn: one transition of one call, and everything it may read and decide.

A view builds a ``Turn`` from the call it loaded and the center's ``Env`` (built once at start-up),
calls a transition, then applies ``turn.call``'s changes and ``turn.ops`` in one write transaction,
runs ``turn.commands`` after the commit and answers with ``turn.response``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from twilio.twiml.voice_response import VoiceResponse

from core.model import Call, Choice, Input
from core.ops import Command, Operation
from core.policy import CallbackPolicy
from core.stream_tokens import StreamTokens
from core.urls import Urls

log = logging.getLogger(__name__)

Lookup = Callable[[str, str], "dict[str, Any] | None"]  # (source, key) → record, for self-service answers


class Flows(Protocol):
    """The flow engine (``ivr.engine``): call flows as data, rendered into a turn."""

    def language_for(self, language: str | None) -> str:
        """The flow language a call in ``language`` gets (the default flow when there is none)."""

    def name(self, language: str) -> str: ...

    def text(self, language: str, name: str, **values: Any) -> str:
        """A prompt or message of the language's flow, placeholders filled in."""

    def voice(self, language: str) -> str:
        """The <Say> voice language of the flow (en-US, ru-RU, …); empty where Twilio has no voice for it."""

    def counted(self, language: str, name: str, count: int) -> str:
        """"5 минут": a counted word of the language's flow in the plural form for ``count``."""

    def holiday_name(self, day: date, language: str) -> str:
        """A holiday's name as callers in ``language`` hear it (HOLIDAYS_FILE)."""

    def begin(self, turn: Turn) -> None:
        """Render the flow's first node (a new call)."""

    def advance(self, turn: Turn, node: str, inp: Input, attempt: int, confirming: str | None) -> None:
        """Handle the caller's input at ``node`` and render what comes next."""

    def survey(self, turn: Turn) -> bool:
        """Enter the flow's survey node; False when the flow has none."""

    def choices(self, language: str, node: str, confirming: str | None) -> list[Choice]:
        """What a caller may say at a node (a Media Streams turn listens for these)."""


@dataclass(frozen=True)
class Rules:
    """The center's settings the transitions follow (from settings.py, resolved once)."""

    max_reprompts: int = 2
    ring_timeout_s: int = 15
    store_transcripts: bool = True
    speech_input: str = "vosk"  # vosk | twilio | dtmf
    speech_languages: frozenset[str] = frozenset()  # languages a Vosk model can recognize here
    default_region: str = "US"
    callback_offer_after_s: float = 60.0
    callback: CallbackPolicy | None = None
    number_languages: Mapping[str, str] = field(default_factory=dict)  # our dialed numbers → their language

    def listens_by(self, language: str) -> str:
        """How menus in ``language`` listen: stream (Vosk over Media Streams), twilio (<Gather speech>) or dtmf."""
        if self.speech_input in ("twilio", "dtmf"):
            return self.speech_input
        return "stream" if language in self.speech_languages else "dtmf"


@dataclass(frozen=True)
class Env:
    """What every turn of this center shares: rules, URLs, the flow engine and the prompt audio lookup."""

    rules: Rules
    urls: Urls
    flows: Flows
    audio: Callable[[str, str], str | None] = lambda text, language: None  # rendered prompt URL, or None → <Say>
    spoken_ms: Callable[[str, str], int] = lambda text, language: said_ms(text)  # how long a prompt plays
    tokens: StreamTokens = field(default_factory=lambda: StreamTokens(secrets.token_bytes(32)))  # per stream turn


SAY_WORDS_PER_S = 2.5  # how fast a <Say> (or a prompt not rendered yet) is spoken, for timing only


def said_ms(text: str) -> int:
    """How long ``text`` takes to say, estimated from its words."""
    return round(len(text.split()) / SAY_WORDS_PER_S * 1000)


def no_lookup(source: str, key: str) -> None:
    return None


@dataclass
class Turn:
    call: Call
    env: Env
    now: datetime
    lookup: Lookup = no_lookup
    response: VoiceResponse = field(default_factory=VoiceResponse)
    ops: list[Operation] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    @property
    def sid(self) -> str:
        return self.call.sid

    @property
    def language(self) -> str:
        return self.env.flows.language_for(self.call["language"])

    @property
    def rules(self) -> Rules:
        return self.env.rules

    @property
    def urls(self) -> Urls:
        return self.env.urls

    def text(self, name: str, **values: Any) -> str:
        return self.env.flows.text(self.language, name, **values)

    def say(self, text: str, parent: Any = None, language: str | None = None) -> int:
        """Speak ``text`` in the call's language (or ``language``): our rendering of it, else <Say> in a language
        Twilio has a voice for (the flow's ``voice``), else nothing. How long it plays, in ms."""
        target = self.response if parent is None else parent
        language = language or self.language
        url = self.env.audio(text, language)
        if url:
            target.play(url)
            return self.env.spoken_ms(text, language)
        voice = self.env.flows.voice(language)
        if not voice:  # (a <Say> Twilio cannot voice would be read in another language's voice, or refused)
            log.error("no rendering of a %s prompt and no Twilio voice for it: not said: %r", language, text[:60])
            return 0
        target.say(text, language=voice)
        return said_ms(text)

    @property
    def writes(self) -> bool:
        """Does applying this turn change the store (operations, or a new or changed call)?"""
        return bool(self.ops or self.call.changed or self.call.events or self.call.new)

    def do(self, op: Operation) -> None:
        self.ops.append(op)

    def then(self, command: Command) -> None:
        if command not in self.commands:
            self.commands.append(command)

    def hang_up(self, message: str | None = None) -> None:
        if message:
            self.say(self.text(message))
        self.response.hangup()
