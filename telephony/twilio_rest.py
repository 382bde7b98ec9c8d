"""The Twilio adapter: the port over Twilio's REST API with the ``twilio`` client."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from core.numbers import mask
from telephony.exceptions import CallNotInProgress, TelephonyError, Unreachable
from telephony.port import CallInfo, Participant

log = logging.getLogger(__name__)

NOT_IN_PROGRESS = 21220  # "Call is not in-progress. Cannot redirect."
NOT_FOUND = 20404
CONFERENCE_SID = re.compile(r"CF[0-9a-fA-F]{32}")
T = TypeVar("T")


class TwilioTelephony:
    """Calls on one Twilio account (API key if given), at ``api_base_url`` when set (the simulator's REST face)."""

    def __init__(self, account_sid: str, auth_token: str, *, api_key: str = "", api_secret: str = "",
                 api_base_url: str = "") -> None:
        self.client = Client(api_key or account_sid, api_secret or auth_token, account_sid)
        if api_base_url:
            self.client.api.base_url = api_base_url.rstrip("/")

    def _ask(self, what: str, request: Callable[[], T]) -> T:
        try:
            return request()
        except TwilioRestException as exc:
            if exc.code in (NOT_IN_PROGRESS, NOT_FOUND):
                raise CallNotInProgress(f"{what}: {exc.msg}") from None
            raise TelephonyError(f"{what}: Twilio refused ({exc.status} {exc.code}): {exc.msg}") from None
        except (TwilioException, OSError) as exc:  # connection refused, timeouts, DNS
            raise Unreachable(f"{what}: Twilio could not be reached: {exc}") from None

    def redirect(self, call_sid: str, url: str) -> None:
        self._ask(f"redirect {call_sid}", lambda: self.client.calls(call_sid).update(url=url, method="POST"))

    def place_call(self, to: str, from_: str, *, url: str, status_callback: str, timeout_s: int,
                   machine_detection: str | None = None) -> str:
        options: dict[str, Any] = {"machine_detection": machine_detection} if machine_detection else {}
        call = self._ask(f"call {mask(to)}", lambda: self.client.calls.create(
            to=to, from_=from_, url=url, method="POST", status_callback=status_callback,
            status_callback_event=["completed"], status_callback_method="POST", timeout=timeout_s, **options))
        return call.sid

    def hang_up(self, call_sid: str) -> None:
        self._ask(f"hang up {call_sid}", lambda: self.client.calls(call_sid).update(status="completed"))

    def fetch(self, call_sid: str) -> CallInfo:
        return _info(self._ask(f"fetch {call_sid}", lambda: self.client.calls(call_sid).fetch()))

    def children(self, call_sid: str) -> list[CallInfo]:
        found = self._ask(f"legs of {call_sid}", lambda: self.client.calls.list(parent_call_sid=call_sid))
        return [_info(call) for call in found]

    def calls_to(self, number: str, since: datetime) -> list[CallInfo]:
        found = self._ask(f"calls to {mask(number)}", lambda: self.client.calls.list(to=number, start_time_after=since))
        return [_info(call) for call in found]

    def add_participant(self, conference: str, to: str, from_: str, *, label: str, status_callback: str,
                        room_callback: str, room_events: str, timeout_s: int, muted: bool, coaching: bool,
                        call_sid_to_coach: str | None) -> Participant:
        added = self._ask(f"add {label} to {conference}", lambda: self.client.conferences(conference).participants.create(
            from_=from_, to=to, label=label, status_callback=status_callback, status_callback_method="POST",
            conference_status_callback=room_callback, conference_status_callback_method="POST",
            conference_status_callback_event=room_events.split(),
            status_callback_event=["ringing", "answered", "completed"], timeout=timeout_s, muted=muted,
            coaching=coaching, call_sid_to_coach=call_sid_to_coach, beep="false", start_conference_on_enter=True,
            end_conference_on_exit=False))
        return Participant(added.call_sid, added.conference_sid)

    def update_participant(self, conference: str, participant: str, *, muted: bool | None = None,
                           hold: bool | None = None, hold_url: str | None = None, coaching: bool | None = None,
                           call_sid_to_coach: str | None = None, end_conference_on_exit: bool | None = None) -> None:
        changes = {"muted": muted, "hold": hold, "hold_url": hold_url, "hold_method": "GET" if hold_url else None,
                   "coaching": coaching, "call_sid_to_coach": call_sid_to_coach,
                   "end_conference_on_exit": end_conference_on_exit}
        given = {name: value for name, value in changes.items() if value is not None}
        room = self._room_sid(conference)
        self._ask(f"update {participant} in {conference}",
                  lambda: self.client.conferences(room).participants(participant).update(**given))

    def end_conference(self, conference: str) -> None:
        room = self._room_sid(conference)
        self._ask(f"end {conference}", lambda: self.client.conferences(room).update(status="completed"))

    def remove_participant(self, conference: str, participant: str) -> None:
        room = self._room_sid(conference)
        self._ask(f"remove {participant} from {conference}",
                  lambda: self.client.conferences(room).participants(participant).delete())

    def _room_sid(self, conference: str) -> str:
        """A conference's SID (Twilio's Conference and Participant resources are addressed by it): as given, or the
        live conference with that friendly name (its status callback may not have told us the SID yet)."""
        if CONFERENCE_SID.fullmatch(conference):
            return conference
        found = self._ask(f"find {conference}", lambda: self.client.conferences.list(friendly_name=conference, limit=20))
        live = [room.sid for room in found if room.status != "completed"]
        if not live:
            raise CallNotInProgress(f"no live conference named {conference}")
        return live[0]


def _info(call: Any) -> CallInfo:
    return CallInfo(sid=call.sid, status=call.status, to=call.to or "", from_=call._from or "",
                    parent_sid=call.parent_call_sid, answered_by=call.answered_by,
                    duration_s=int(call.duration) if str(call.duration or "").isdecimal() else None)
