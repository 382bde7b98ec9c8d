"""Call flows as data: YAML files in ivr/flows/, one per language, loaded and validated at start-up.

A flow has prompts (named texts), messages the engine itself speaks (no input, no match, …) and
nodes. Node types: ``prompt`` (say, then go on), ``menu`` (DTMF keys and spoken phrases per option),
``lookup`` (self-service answer from data), ``queue`` (hand the call to routing), ``survey`` (1–5 after
the call) and ``hangup``. Every reference (node, prompt, queue) is checked by ``validate``.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

from core.constants import AGENT_INTENT, AGENT_KEY
from core.errors import ConfigError
from ivr.exceptions import IvrError

log = logging.getLogger(__name__)

FLOWS_DIR = Path(__file__).parent / "flows"
REQUIRED_PLURALS = ("minutes",)  # counted words the engine speaks
NODE_TYPES = ("prompt", "menu", "lookup", "queue", "survey", "hangup", "hours")
LOOKUP_SOURCES = {"order_status": ("number", "item", "status", "eta", "number_spoken")}
REQUIRED_MESSAGES = (
    "no_input",
    "no_match",
    "to_agent",
    "apology",
    "goodbye",
    "confirm",
    "survey_thanks",
    "wait_position",
    "wait_position_only",
    "queue_unavailable",
    "closed_now",
    "closed_holiday",
    "voicemail_intro",
    "queue_unstaffed",
    "language_choice",
    "voicemail_thanks",
    *(f"callback_{name}" for name in ("offer", "confirm", "enter_number", "bad_number", "enter_time", "bad_time", "booked",
                                      "when_turn", "when_at", "when_open", "limit", "pending", "cancelled", "hello",
                                      "voicemail",
                                      "press_one")),
)


@dataclass(frozen=True)
class Option:
    key: str
    intent: str
    next: str
    phrases: tuple[str, ...] = ()
    offer: str | None = None  # this option alone, as a narrowed re-prompt offers it ("For billing, press 2 or say billing.")


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    prompt: str | None = None
    next: str | None = None
    options: tuple[Option, ...] = ()
    source: str | None = None
    found: str | None = None
    not_found: str | None = None
    queue: str | None = None
    priority: int = 0
    question: str | None = None
    max_digits: int = 12
    agent_node: str | None = None  # where 0 / "agent" goes from here; the flow's agent_node when unset


@dataclass(frozen=True)
class Flow:
    name: str
    language: str
    voice: str
    start: str
    agent_node: str
    survey_node: str | None
    agent_phrases: tuple[str, ...]
    yes_phrases: tuple[str, ...]
    no_phrases: tuple[str, ...]
    prompts: dict[str, str]
    messages: dict[str, str]
    nodes: dict[str, Node] = field(default_factory=dict)
    intent_names: dict[str, str] = field(default_factory=dict)  # intent → its name on the pages, in this language
    plurals: dict[str, dict[str, str]] = field(default_factory=dict)  # counted words: name → {CLDR category: text}

    def counted(self, name: str, count: int) -> str:
        """"{count} minutes" in the form the language uses for ``count`` (its CLDR plural rules, through Babel)."""
        forms = self.plurals[name]
        return (forms.get(Locale.parse(self.language).plural_form(count)) or forms["other"]).format(count=count)

    def intents(self) -> set[str]:
        """Every intent a call in this flow can end up with (its menu options' and the agent's)."""
        return {option.intent for node in self.nodes.values() for option in node.options} | {AGENT_INTENT}

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise IvrError(f"flow {self.name}/{self.language} has no node {node_id!r}") from None

    def text(self, prompt_name: str, **values: Any) -> str:
        """The text of a prompt or message, with ``{placeholders}`` filled in (``{name:(이)라고}``: see Particles)."""
        template = self.prompts.get(prompt_name) or self.messages[prompt_name]
        return PARTICLES.format(template, **values) if values else template

    def all_texts(self) -> list[str]:
        """Every fixed text callers may hear (prompts without placeholders and messages), for pre-rendering."""
        offers = [option.offer for node in self.nodes.values() for option in node.options if option.offer]
        texts = [*self.prompts.values(), *self.messages.values(), *offers]
        return [t for t in texts if not _placeholders(t)]


class Particles(string.Formatter):
    """Korean particles that follow the word put before them: ``{choice:(이)라고}`` is 환불이라고 after a final
    consonant and 오더라고 after a vowel (the "(이)" written in Korean texts, chosen here as a speaker would)."""

    DIGIT_ENDS_IN_CONSONANT = dict(zip("0123456789", (True, True, False, True, False, False, True, True, True, False),
                                       strict=True))  # 영 일 이 삼 사 오 육 칠 팔 구

    def format_field(self, value: Any, format_spec: str) -> str:
        if not format_spec.startswith("(") or ")" not in format_spec:
            return super().format_field(value, format_spec)
        optional, rest = format_spec[1:].split(")", 1)
        word = str(value)
        return word + (optional + rest if ends_in_consonant(word) else rest)


def ends_in_consonant(word: str) -> bool:
    """Does the word's last syllable end in a consonant (a Hangul final, or a digit read in Korean)?"""
    last = word.rstrip()[-1:] or " "
    if "가" <= last <= "힣":
        return (ord(last) - ord("가")) % 28 != 0
    return Particles.DIGIT_ENDS_IN_CONSONANT.get(last, True)


PARTICLES = Particles()


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _option(data: dict[str, Any], where: str) -> Option:
    try:
        return Option(
            key=str(data["key"]),
            intent=str(data["intent"]),
            next=str(data["next"]),
            phrases=tuple(str(p) for p in data.get("phrases", ())),
            offer=str(data["offer"]) if data.get("offer") else None,
        )
    except KeyError as exc:
        raise IvrError(f"{where}: option needs {exc.args[0]!r}") from None


def _node(node_id: str, data: dict[str, Any], where: str) -> Node:
    if not isinstance(data, dict) or data.get("type") not in NODE_TYPES:
        raise IvrError(f"{where}: node {node_id!r} needs a type, one of {', '.join(NODE_TYPES)}")
    known = set(Node.__dataclass_fields__) - {"id", "options"} | {"options"}
    unknown = set(data) - known
    if unknown:
        raise IvrError(f"{where}: node {node_id!r} has unknown fields {sorted(unknown)}")
    options = tuple(_option(o, f"{where}: node {node_id!r}") for o in data.get("options", ()))
    return Node(id=node_id, **{**{k: v for k, v in data.items() if k != "options"}, "options": options})


def parse(data: dict[str, Any], where: str) -> Flow:
    """Build a Flow from its YAML data; raises IvrError naming the file and the fault."""
    try:
        nodes = {str(k): _node(str(k), v, where) for k, v in data["nodes"].items()}
        return Flow(
            name=str(data["flow"]),
            language=str(data["language"]),
            voice=str(data["voice"] or ""),
            start=str(data["start"]),
            agent_node=str(data["agent_node"]),
            survey_node=data.get("survey_node"),
            agent_phrases=tuple(data.get("agent_phrases", ())),
            yes_phrases=tuple(data.get("yes_phrases", ())),
            no_phrases=tuple(data.get("no_phrases", ())),
            prompts={str(k): str(v) for k, v in data.get("prompts", {}).items()},
            messages={str(k): str(v) for k, v in data.get("messages", {}).items()},
            nodes=nodes,
            intent_names={str(k): str(v) for k, v in data.get("intent_names", {}).items()},
            plurals={str(k): {str(c): str(t) for c, t in v.items()} for k, v in data.get("plurals", {}).items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise IvrError(f"{where}: missing or malformed {exc}") from None


def validate(flow: Flow, queues: set[str] | None = None) -> list[str]:
    """Every fault of the flow as a message; an empty list means it is sound."""
    where = f"flow {flow.name}/{flow.language}"
    faults = [f"{where}: message {m!r} is missing" for m in REQUIRED_MESSAGES if m not in flow.messages]
    faults += [f"{where}: intent {i!r} has no name in intent_names" for i in sorted(flow.intents() - set(flow.intent_names))]
    categories = Locale.parse(flow.language).plural_form.tags | {"other"}
    for word in REQUIRED_PLURALS:
        forms = flow.plurals.get(word, {})
        if set(forms) != categories:
            faults.append(f"{where}: plurals.{word} needs exactly the forms {sorted(categories)} (Babel's {flow.language})")

    def need_node(ref: str | None, what: str) -> None:
        if not ref or ref not in flow.nodes:
            faults.append(f"{where}: {what} refers to missing node {ref!r}")

    def need_prompt(ref: str | None, what: str) -> None:
        if not ref or ref not in flow.prompts:
            faults.append(f"{where}: {what} refers to missing prompt {ref!r}")

    need_node(flow.start, "start")
    need_node(flow.agent_node, "agent_node")
    if flow.survey_node is not None:
        need_node(flow.survey_node, "survey_node")
    if flow.agent_node in flow.nodes and flow.nodes[flow.agent_node].type != "queue":
        faults.append(f"{where}: agent_node {flow.agent_node!r} must be a queue node")
    for node in flow.nodes.values():
        what = f"node {node.id!r}"
        if node.type in ("prompt", "menu", "lookup", "survey", "hours"):
            need_prompt(node.prompt, what)
        elif node.prompt:
            need_prompt(node.prompt, what)
        if node.type in ("prompt", "lookup", "hours"):
            need_node(node.next, what)
        if node.agent_node is not None:
            need_node(node.agent_node, f"{what} agent_node")
        if node.type == "menu":
            if not node.options:
                faults.append(f"{where}: {what} has no options")
            keys = [o.key for o in node.options]
            if len(set(keys)) != len(keys) or AGENT_KEY in keys:
                faults.append(f"{where}: {what} has repeated keys or uses {AGENT_KEY!r} (kept for the agent)")
            for option in node.options:
                need_node(option.next, f"{what} option {option.key}")
        if node.type == "lookup":
            need_prompt(node.found, what)
            need_prompt(node.not_found, what)
            fields = LOOKUP_SOURCES.get(node.source or "")
            if fields is None:
                faults.append(f"{where}: {what} has unknown source {node.source!r}")
            elif node.found in flow.prompts and not _placeholders(flow.prompts[node.found]) <= set(fields):
                faults.append(f"{where}: {what} prompt {node.found!r} uses fields not in {fields}")
        if node.type in ("queue", "hours"):
            if not node.queue:
                faults.append(f"{where}: {what} names no queue")
            elif queues is not None and node.queue not in queues:
                faults.append(f"{where}: {what} refers to missing queue {node.queue!r}")
        if node.type == "survey" and not node.question:
            faults.append(f"{where}: {what} names no question")
    return faults


def load_holidays(path: str | Path, languages: set[str]) -> dict[date, dict[str, str]]:
    """HOLIDAYS_FILE: a YAML list of {date: YYYY-MM-DD, names: {language: name}}, every flow's language named."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"HOLIDAYS_FILE {path}: {exc}") from None
    holidays: dict[date, dict[str, str]] = {}
    for entry in data if isinstance(data, list) else [None]:
        if not isinstance(entry, dict) or not isinstance(entry.get("names"), dict):
            raise ConfigError(f"HOLIDAYS_FILE {path}: each holiday is {{date: YYYY-MM-DD, names: {{language: name}}}}")
        try:
            day = entry["date"] if isinstance(entry["date"], date) else date.fromisoformat(str(entry["date"]))
        except (KeyError, ValueError):
            raise ConfigError(f"HOLIDAYS_FILE {path}: {entry.get('date')!r} is not a date (YYYY-MM-DD)") from None
        missing = languages - set(entry["names"])
        if missing:
            raise ConfigError(f"HOLIDAYS_FILE {path}: {day} has no name in {', '.join(sorted(missing))}")
        holidays[day] = {str(k): str(v) for k, v in entry["names"].items()}
    return holidays


def load_all(folder: Path = FLOWS_DIR) -> dict[str, Flow]:
    """Every flow in ``folder`` by language; raises IvrError listing all faults found."""
    flows: dict[str, Flow] = {}
    faults: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            flow = parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        except (IvrError, yaml.YAMLError) as exc:
            faults.append(str(exc))
            continue
        faults.extend(validate(flow))
        flows[flow.language] = flow
    every_intent = set().union(*(flow.intents() for flow in flows.values()))
    for flow in flows.values():  # an agent reads any call's intent in the page's language
        unnamed = every_intent - flow.intents() - set(flow.intent_names)
        faults += [f"flow {flow.name}/{flow.language}: intent {i!r} of another flow has no name" for i in sorted(unnamed)]
    if faults:
        raise IvrError("invalid call flows:\n  " + "\n  ".join(faults))
    if not flows:
        raise IvrError(f"no call flows in {folder}")
    return flows
