"""Twilio Conference as the simulator runs it: rooms of participants, who hears whom, and the room's reports.

As Twilio documents it: a conference is made by the first ``<Dial><Conference>`` or Participants API request
naming it; it starts when a participant with ``startConferenceOnEnter`` (the default) joins, and ends when one with
``endConferenceOnExit`` leaves (or the last one does). A participant may be muted (nobody hears them), on hold
(they hear hold music and nobody hears them) or coaching one other participant (``callSidToCoach``: only that one
hears them). A participant removed (DELETE), or left in a conference that ended, goes on with the TwiML after the
``<Dial>`` (its action); a participant added over REST has no TwiML: its call ends. The conference's status
callback (the first participant's ``statusCallback``) hears ``conference-start``/``-end``, ``participant-join``/
``-leave``, ``-mute``/``-unmute``, ``-hold``/``-unhold`` and ``participant-modify`` (coaching changed), with
Twilio's parameters.

What a participant says (``Platform.say_in_conference``) is written into the log of each participant who hears it
(``{"kind": "hears", "from": …, "text": …}``), so tests see exactly who heard what.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.exceptions import NoSuchThing, SimulatorError
from wire import wav

if TYPE_CHECKING:
    from simulator.platform import ClientPhone, Platform, SimCall

POLL_S = 0.05  # how often a participant looks at the room (kicked, ended) between REST updates


@dataclass
class Participant:
    call_sid: str
    label: str | None = None
    muted: bool = False
    hold: bool = False
    coaching: bool = False
    coached: str | None = None  # CallSidToCoach
    start_on_enter: bool = True
    end_on_exit: bool = False
    beep: str = "true"  # Twilio's default: the room hears a beep when they join and when they leave
    hold_url: str | None = None  # None: Twilio's default hold music
    hold_method: str = "GET"
    joined: bool = False
    removed: bool = False

    def resource(self, conference: Conference, account_sid: str) -> dict[str, Any]:
        """The REST API's Participant resource."""
        return {"account_sid": account_sid, "call_sid": self.call_sid, "conference_sid": conference.sid,
                "label": self.label, "muted": self.muted, "hold": self.hold, "coaching": self.coaching,
                "call_sid_to_coach": self.coached, "start_conference_on_enter": self.start_on_enter,
                "end_conference_on_exit": self.end_on_exit, "status": "connected" if self.joined else "queued",
                "uri": f"/2010-04-01/Accounts/{account_sid}/Conferences/{conference.sid}/Participants/{self.call_sid}.json"}


@dataclass
class Conference:
    sid: str
    name: str
    status_callback: str | None = None
    events: frozenset[str] = frozenset()
    participants: dict[str, Participant] = field(default_factory=dict)
    status: str = "init"  # init → in-progress → completed
    sequence: int = 0

    def find(self, sid_or_label: str) -> Participant | None:
        found = self.participants.get(sid_or_label)
        return found or next((p for p in self.participants.values() if p.label and p.label == sid_or_label), None)

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.joined and not p.removed]

    def hearers(self, speaker: Participant) -> list[Participant]:
        """Who hears ``speaker``: nobody while the room waits or they are muted or held; only the coached one when
        they coach; everyone else not on hold otherwise."""
        if self.status != "in-progress" or speaker.muted or speaker.hold or not speaker.joined:
            return []
        others = [p for p in self.present() if p is not speaker and not p.hold]
        if speaker.coaching:
            return [p for p in others if p.call_sid == speaker.coached]
        return others


class Conferences:
    """The account's conferences by name (the SID also finds one)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.rooms: dict[str, Conference] = {}
        self.lock = threading.RLock()

    def by_sid(self, sid: str) -> Conference | None:
        """A conference by its SID, as Twilio's Conference and Participant resources are addressed (only a Participants
        create names a conference by its friendly name)."""
        with self.lock:
            return self.rooms.get(sid)

    def named(self, name: str) -> list[Conference]:
        """The Conferences list filtered by FriendlyName, newest first."""
        with self.lock:
            return [c for c in reversed(self.rooms.values()) if c.name == name]

    def get(self, name_or_sid: str) -> Conference | None:
        with self.lock:
            live = [c for c in self.rooms.values() if c.status != "completed"]
            return next((c for c in live if name_or_sid in (c.name, c.sid)), None) or next(
                (c for c in self.rooms.values() if c.sid == name_or_sid), None)

    def open(self, name: str, status_callback: str | None, events: str) -> Conference:
        """The live conference called ``name``, made now if there is none. Its status callback is the first one
        given (by a participant's ``<Conference statusCallback>`` or a Participants API ``ConferenceStatusCallback``)."""
        with self.lock:
            room = self.get(name)
            if room is None or room.status == "completed":
                room = Conference("CF" + secrets.token_hex(16), name)
                self.rooms[room.sid] = room
            if status_callback and not room.status_callback:
                room.status_callback = status_callback
                room.events = frozenset(e.removeprefix("participant-").removeprefix("conference-") for e in events.split())
            return room

    def of_call(self, call_sid: str) -> tuple[Conference, Participant]:
        with self.lock:
            for room in self.rooms.values():
                participant = room.participants.get(call_sid)
                if room.status != "completed" and participant is not None and participant.joined:
                    return room, participant
        raise NoSuchThing(f"call {call_sid} is in no conference")

    # --- the room's life -------------------------------------------------------------------------------

    def join(self, room: Conference, call: SimCall, participant: Participant) -> None:
        with self.lock:
            room.participants[call.sid] = participant
            participant.joined = True
            starts = room.status == "init" and participant.start_on_enter
            if starts:
                room.status = "in-progress"
        call.note("conference-join", conference=room.name, muted=participant.muted, coaching=participant.coaching)
        self._beep(room, participant, "onEnter")
        self.report(room, "participant-join", participant)
        if starts:
            self.report(room, "conference-start")

    def leave(self, room: Conference, call: SimCall, participant: Participant, why: str) -> None:
        """``call`` is out of the room (it hung up, was removed or moved on); the room ends if they end it."""
        with self.lock:
            if not participant.joined:
                return
            participant.joined = False
            ends = room.status != "completed" and (participant.end_on_exit or not room.present())
        call.note("conference-leave", conference=room.name, why=why)
        self._beep(room, participant, "onExit")
        self.report(room, "participant-leave", participant)
        if ends:
            self.end(room, call.sid)

    def end(self, room: Conference, ended_by: str | None) -> None:
        """The room ends: by a participant with endConferenceOnExit leaving (``ended_by``), or over REST (None)."""
        with self.lock:
            if room.status == "completed":
                return
            room.status = "completed"
        why = "participant-with-end-conference-on-exit-left" if ended_by else "conference-ended-via-api"
        self.report(room, "conference-end", extra={"CallSidEndingConference": ended_by or "", "ReasonConferenceEnded": why})

    def update(self, room: Conference, participant: Participant, changes: dict[str, Any]) -> None:
        """A REST update of a participant: mute, hold, coaching, end on exit; each change reported."""
        before = (participant.muted, participant.hold, participant.coaching, participant.coached)
        for name, value in changes.items():
            setattr(participant, name, value)
        if participant.coaching and not participant.coached:
            raise SimulatorError("Coaching needs CallSidToCoach")
        if not participant.coaching:
            participant.coached = None
        if before[0] != participant.muted:
            self.report(room, "participant-mute" if participant.muted else "participant-unmute", participant)
        if before[1] != participant.hold:
            if participant.hold:
                self._hold_music(participant)
            self.report(room, "participant-hold" if participant.hold else "participant-unhold", participant)
        if before[2:] != (participant.coaching, participant.coached):
            self.report(room, "participant-modify", participant)

    def _beep(self, room: Conference, participant: Participant, moment: str) -> None:
        """Everyone else in the room hears the beep of someone entering or leaving, unless their ``beep`` says not
        to (``true``, ``false``, ``onEnter`` or ``onExit``, as Twilio takes it)."""
        if participant.beep not in ("true", moment):
            return
        for other in room.present():
            call = self.platform.calls.get(other.call_sid)
            if other is not participant and call is not None:
                call.note("beep", who=participant.label or participant.call_sid, on=moment)

    def _hold_music(self, participant: Participant) -> None:
        """A participant put on hold hears the HoldUrl's audio, fetched with HoldMethod (Twilio's own music without
        one): what came back is noted on their call (a URL that fails is an error there, as Twilio's debugger says)."""
        call = self.platform.calls.get(participant.call_sid)
        if call is None:
            return
        if participant.hold_url is None:
            call.note("hold-music", url="twilio-default")
            return
        try:
            answer = self.platform._send(self.platform.url(participant.hold_url), {}, participant.hold_method)
        except Exception as exc:  # the held caller hears silence
            call.note("error", text=f"hold music {participant.hold_url}: {exc}")
            return
        kind = answer.headers.get("Content-Type", "")
        call.note("hold-music", url=participant.hold_url, status=answer.status_code, content_type=kind,
                  seconds=_wav_seconds(answer.content) if kind.startswith("audio/") else None)
        if answer.status_code >= 400 or not kind.startswith(("audio/", "text/xml", "application/xml")):
            call.note("error", text=f"hold music {participant.hold_url}: {answer.status_code} {kind}")

    def stay(self, room: Conference, call: SimCall, participant: Participant, phone: ClientPhone | None) -> str:
        """Be in the room until it ends, the participant is removed or hangs up (their talk time, or the agent's
        button): why they left. A REST update of the call (redirect, hang up) raises as anywhere in the simulator."""
        p = self.platform
        while True:
            if room.status == "completed":
                return "conference-ended"
            if participant.removed:
                return "removed"
            if phone is not None and phone._hangup.is_set():
                return "hung-up"
            if call.talk_until is not None and time.monotonic() >= call.talk_until:
                return "hung-up"
            p._wait_real(call, POLL_S)

    # --- reports -----------------------------------------------------------------------------------------

    def report(self, room: Conference, event: str, participant: Participant | None = None,
               extra: dict[str, str] | None = None) -> None:
        """The conference's status callback, as Twilio sends it (signed; a failed one is dropped)."""
        if not room.status_callback or event.split("-", 1)[1] not in room.events:
            return
        with self.lock:
            room.sequence += 1
            sequence = room.sequence
        params = {"AccountSid": self.platform.account_sid, "ConferenceSid": room.sid, "FriendlyName": room.name,
                  "StatusCallbackEvent": event, "SequenceNumber": str(sequence),
                  "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), **(extra or {})}
        if participant is not None:
            params.update(CallSid=participant.call_sid, Muted=_flag(participant.muted), Hold=_flag(participant.hold),
                          Coaching=_flag(participant.coaching), EndConferenceOnExit=_flag(participant.end_on_exit),
                          StartConferenceOnEnter=_flag(participant.start_on_enter))
            if participant.label:
                params["ParticipantLabel"] = participant.label
            if participant.coached:
                params["CallSidToCoach"] = participant.coached
        try:
            response = self.platform._send(self.platform.url(room.status_callback), params, "POST")
            if response.status_code >= 400:
                log_error(self.platform, room, f"{event} answered {response.status_code}: {response.text[:200]}")
        except Exception as exc:  # a conference report that fails is dropped, as Twilio drops it
            log_error(self.platform, room, f"{event} failed: {exc}")


def _wav_seconds(data: bytes) -> float | None:
    """The length of a WAV file's audio, or None when it is not a WAV file."""
    try:
        return wav.length_ms(data) / 1000
    except wav.NotWav:
        return None


def _flag(value: bool) -> str:
    return "true" if value else "false"


def log_error(platform: Platform, room: Conference, text: str) -> None:
    """A failed conference report is noted on every call in the room."""
    for participant in list(room.participants.values()):
        call = platform.calls.get(participant.call_sid)
        if call is not None:
            call.note("error", text=f"conference status callback: {text}")
