"""The telephony port: what the server asks of the voice platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.constants import TERMINAL_STATUSES


@dataclass(frozen=True)
class CallInfo:
    """A call as the platform knows it."""

    sid: str
    status: str  # queued | ringing | in-progress | completed | busy | failed | no-answer | canceled
    to: str = ""
    from_: str = ""
    parent_sid: str | None = None
    answered_by: str | None = None
    duration_s: int | None = None  # once it has ended

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class Participant:
    """A participant the platform is adding to a conference: its call and the conference's SIDs."""

    call_sid: str
    conference_sid: str


class Telephony(Protocol):
    def redirect(self, call_sid: str, url: str) -> None:
        """Move a live call to the TwiML at ``url``; CallNotInProgress when the call is over."""

    def place_call(self, to: str, from_: str, *, url: str, status_callback: str, timeout_s: int,
                   machine_detection: str | None = None) -> str:
        """Dial ``to``; Twilio requests ``url`` when answered and ``status_callback`` when it ends. Returns its SID."""

    def hang_up(self, call_sid: str) -> None:
        """End a live call; CallNotInProgress when it is over already."""

    def fetch(self, call_sid: str) -> CallInfo:
        """The call as the platform knows it; CallNotInProgress when the platform has no such call."""

    def children(self, call_sid: str) -> list[CallInfo]:
        """The legs ``call_sid`` dialled (<Dial><Client> to an agent), newest first."""

    def calls_to(self, number: str, since: datetime) -> list[CallInfo]:
        """Calls placed to ``number`` since ``since`` (the call log), newest first."""

    def add_participant(self, conference: str, to: str, from_: str, *, label: str, status_callback: str,
                        room_callback: str, room_events: str, timeout_s: int, muted: bool, coaching: bool,
                        call_sid_to_coach: str | None) -> Participant:
        """Ring ``to`` into the conference named ``conference`` (made if new, reporting ``room_events`` to
        ``room_callback``); it never ends the room on leaving."""

    def update_participant(self, conference: str, participant: str, *, muted: bool | None = None,
                           hold: bool | None = None, hold_url: str | None = None, coaching: bool | None = None,
                           call_sid_to_coach: str | None = None, end_conference_on_exit: bool | None = None) -> None:
        """Change a participant (by call SID or label; None: unchanged): mute, hold with music, coach, whether their
        leaving ends the room. CallNotInProgress when it is gone."""

    def end_conference(self, conference: str) -> None:
        """End the conference: everyone in it leaves; CallNotInProgress when it is over already."""

    def remove_participant(self, conference: str, participant: str) -> None:
        """Take a participant out of the conference; CallNotInProgress when it is gone already."""
