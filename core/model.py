"""What the lifecycle works on: the call record with its tracked changes, the caller's input, menu choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.constants import TERMINAL_STATUSES

JSON_COLUMNS = ("path", "digits", "speech")  # lists on the call row, stored as JSON


class Call:
    """One row of ``calls`` and what a transition changed on it: columns set and events to log.

    The store loads it (``store.calls``) and saves ``changed`` and ``events`` in the webhook's one
    transaction; nothing here touches the database.
    """

    __slots__ = ("_row", "changed", "events", "new")

    def __init__(self, row: dict[str, Any], *, new: bool = False) -> None:
        self._row = row
        self.changed: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.new = new

    def __getitem__(self, column: str) -> Any:
        return self._row[column]

    def get(self, column: str, default: Any = None) -> Any:
        return self._row.get(column, default)

    @property
    def sid(self) -> str:
        return self._row["sid"]

    @property
    def ended(self) -> bool:
        """Twilio reported the call over (a late or replayed request must change nothing)."""
        return bool(self._row.get("ended_at")) or self._row.get("status") in TERMINAL_STATUSES

    def set(self, **columns: Any) -> None:
        for name, value in columns.items():
            if self._row.get(name) != value or name not in self._row:
                self._row[name] = value
                self.changed[name] = value

    def fill(self, **columns: Any) -> None:
        """Set only the columns that are still empty (a first answer time, a first outcome)."""
        self.set(**{name: value for name, value in columns.items() if self._row.get(name) in (None, "")})

    def append(self, column: str, value: Any) -> None:
        self.set(**{column: [*self._row.get(column, []), value]})

    def log(self, kind: str, data: dict[str, Any] | None = None) -> None:
        self.events.append((kind, data or {}))

    def stored(self, version: int) -> None:
        """The store saved the call: it now is ``version`` of its row (a later save expects that one)."""
        self._row["version"] = version

    def snapshot(self) -> dict[str, Any]:
        return dict(self._row)


@dataclass(frozen=True)
class Choice:
    """One menu option: the key (DTMF digit) it answers to, its intent name and the phrases that say it."""

    key: str
    intent: str
    phrases: list[str]


Decision = Literal["act", "confirm", "reject"]


@dataclass(frozen=True)
class Match:
    """The decision on an utterance: act on / confirm / reject the best choice, with its score and the words heard."""

    decision: Decision
    key: str | None
    intent: str | None
    score: float
    heard: str
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Input:
    """What the caller did at a node: keys pressed, speech alternatives (text, confidence), or nothing."""

    digits: str = ""
    alternatives: tuple[tuple[str, float], ...] = ()
    source: str = "none"  # dtmf | gather-speech | stream | none
    decided: Match | None = None  # the Media Streams session's decision, when it made one

    @property
    def empty(self) -> bool:
        """Nothing came: no key, no words, and no voice the stream decided on (a voice without words is not nothing)."""
        return not self.digits and self.decided is None and not any(text.strip() for text, _ in self.alternatives)


def turn_key(node: str, attempt: int, confirming: str | None = None) -> str:
    """Which turn a Media Streams result belongs to: ``node:attempt[:confirming]``."""
    return f"{node}:{attempt}" + (f":{confirming}" if confirming else "")
