"""Parsing TwiML documents into verbs the simulator executes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from simulator.exceptions import SimulatorError

VERBS = frozenset(
    {"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Enqueue", "Leave", "Dial", "Connect", "Start", "Stop"}
)


@dataclass
class Verb:
    name: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Verb] = field(default_factory=list)

    def attr(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    def number(self, name: str, default: float) -> float:
        raw = self.attrs.get(name)
        try:
            return float(raw) if raw not in (None, "") else default
        except ValueError:
            return default


def _verb(element: ET.Element) -> Verb:
    return Verb(
        name=element.tag,
        attrs=dict(element.attrib),
        text=(element.text or "").strip(),
        children=[_verb(child) for child in element],
    )


def parse(document: str) -> list[Verb]:
    """The verbs of a <Response>; raises SimulatorError for anything Twilio would reject."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise SimulatorError(f"TwiML is not well-formed XML: {exc}") from None
    if root.tag != "Response":
        raise SimulatorError(f"TwiML root must be <Response>, got <{root.tag}>")
    verbs = [_verb(child) for child in root]
    unknown = [v.name for v in verbs if v.name not in VERBS]
    if unknown:
        raise SimulatorError(f"TwiML has verbs the simulator does not know: {unknown}")
    return verbs
