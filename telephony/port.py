"""The telephony port: what the server asks of the voice platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CallInfo:
    """A call as the platform knows it."""

    sid: str
    status: str  # queued | ringing | in-progress | completed | busy | failed | no-answer | canceled
    to: str = ""
    from_: str = ""
    parent_sid: str | None = None
    answered_by: str | None = None


class Telephony(Protocol):
    def redirect(self, call_sid: str, url: str) -> None:
        """Move a live call to the TwiML at ``url``; CallNotInProgress when the call is over."""

    def place_call(self, to: str, from_: str, *, url: str, status_callback: str, timeout_s: int,
                   machine_detection: str | None = None) -> str:
        """Dial ``to``; Twilio requests ``url`` when answered and ``status_callback`` when it ends. Returns its SID."""

    def hang_up(self, call_sid: str) -> None:
        """End a live call; CallNotInProgress when it is over already."""

    def fetch(self, call_sid: str) -> CallInfo: ...

    def calls_to(self, number: str, since: datetime) -> list[CallInfo]:
        """Calls placed to ``number`` since ``since`` (the call log), newest first."""
