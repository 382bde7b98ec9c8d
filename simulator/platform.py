"""A local stand-in for Twilio Voice: it places calls against a server and runs the TwiML it gets.

Faithful to Twilio's documented behaviour where the project relies on it: every request is signed
(X-Twilio-Signature), Gather collects keys by ``numDigits`` / ``finishOnKey`` and falls through to
the next verb when nothing comes, Enqueue loops on ``waitUrl`` until the call is redirected (REST
update: the action is told ``redirected`` at once), leaves (<Leave>) or hangs up, and reports
``queue-full``, ``error`` (the waitUrl failed) and ``system-error`` to its action; Dial rings a
<Client> or <Number>, reports ``DialCallStatus`` to its action (also when the caller hung up while it
rang) and the leg's ``ringing``/``answered``/``completed`` to its status callback; answering machine
detection answers ``human``, ``machine_start`` (``machine_end_beep`` with DetectMessageEnd), ``fax``
or ``unknown``; Connect/Stream speaks the Media Streams protocol over a WebSocket; status callbacks
report how calls end. Time can be compressed (``time_scale``) so tests run fast.

It reaches the server only over HTTP and WebSocket and uses nothing of the server's code: only the
shared wire formats (``wire``).

People on the simulated phones are scripted: a caller's ``Script`` says what they press and say and
how long they hold; agents' softphones (``ClientPhone``) and customers' phones (``CustomerPhone``)
say whether they answer and for how long they talk.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import requests

from simulator.conference import Conference, Conferences, Participant
from simulator.exceptions import NoSuchThing, SimulatorError, WebhookFailed
from simulator.media import (
    FAST_BATCH_FRAMES,
    FAST_BATCH_PAUSE_S,
    FRAME_S,
    SERVER_CLOSE_WAIT_S,
    ForkedStream,
    quiet_line,
)
from simulator.twiml import Verb, parse
from simulator.voices import LINE_DBFS, caller_audio
from wire.mulaw import FRAME_MS, frames
from wire.signature import sign

log = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5
MAX_RECORDING_BYTES = 60 * 8000  # a minute of 8 kHz μ-law
MAX_REDIRECTS = 200
REQUEST_TIMEOUT_S = 30  # the simulator's own requests (hold music, the control API)
# Twilio's webhook connection defaults ("Webhooks: Connection Overrides"): connect timeout 5 s, read timeout 15 s,
# one retry when the connection could not be made (policy "ct"); a TwiML request that still fails ends the call
# with this sentence (error 11200, no fallback URL configured); a failed status callback is dropped.
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, CONNECT_RETRIES = 5.0, 15.0, 1
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
INTERACTIVE_READ_S = 10.0  # wall seconds an interactive caller gets, on top of an input's timeout, to read the prompt
TWILIO_QUEUE_SIZE = 100  # Twilio's default MaxQueueSize
# What the Dial action hears when the caller hung up while the dialled party rang. Twilio documents that the
# action is requested when the Dial ends; we could not confirm whether DialCallStatus then says no-answer or
# canceled, so the default is the one that looks most like the agent's fault, and tests try both.
DIAL_STATUS_WHEN_CALLER_LEAVES = "no-answer"
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CLIENT = "client:"  # how a To names an agent's softphone (<Dial><Client>, or a REST call to it)
REACTION_FRAMES = 15  # a caller who waits for the prompt's end starts speaking 300 ms after it
REDIRECT_AFTER_CLOSE_S = 2.0  # fast mode: how long the server may take from closing a stream to redirecting the call
DECISION_TAIL_FRAMES = 50  # fast mode: a second of quiet after the caller's words (the server's end of speech) is sent…
UTTERANCE_DECISION_WAIT_S = 5.0  # …then the call waits up to this long (wall) for the server's decision on them
BRIDGE_POLL_S = 0.05  # how often a bridged call looks whether someone hung up or the agent's leg moved


def new_sid(prefix: str = "CA") -> str:
    return prefix + secrets.token_hex(16)


# --- the people on the phones ------------------------------------------------------------------


@dataclass
class Keys:
    """Keys the caller presses (typed ahead: each Gather takes what it accepts)."""

    digits: str


@dataclass
class Say:
    """Words the caller speaks at the next point where speech can be heard."""

    text: str
    lang: str = "en"
    snr_db: float | None = None
    audio: bytes | None = None  # a recording (8 kHz μ-law) instead of synthesized words; ``text`` names it
    barge_in_s: float | None = None  # speaks this long after the prompt starts, over it (None: after it ends)
    if_asked: str | None = None  # said only at a prompt with these words in it (a caller who answers what is asked)

    def line_audio(self) -> bytes:
        """What the line carries while they say it: the recording, else the words synthesized over a quiet line."""
        if self.audio is not None:
            return self.audio
        return caller_audio(self.text, self.lang, snr_db=self.snr_db, line_dbfs=LINE_DBFS)


@dataclass
class Utterance:
    """What the caller says into the call's streams: 20 ms frames from media frame ``first`` on."""

    first: int
    audio: list[bytes]
    text: str
    begun: bool = False  # its first frame went out (it is noted on the call then)
    awaited: bool = False  # fast mode: the server was given the time to decide on it

    @property
    def end(self) -> int:
        return self.first + len(self.audio)


@dataclass
class Silence:
    """The caller says and presses nothing at the next input point."""


@dataclass
class Script:
    """What a caller does: inputs in order, then patience in the queue (wall seconds, None = until answered)."""

    steps: list[Keys | Say | Silence] = field(default_factory=list)
    hold_s: float | None = None
    talk_s: float | None = None  # wall seconds they talk once bridged before hanging up (None: the agent ends it)
    interactive: bool = False  # a person at the /phone page: each input point waits for what they send (steps.append)
    ring_patience_s: float | None = None  # wall seconds they let an agent's phone ring before hanging up

    def __post_init__(self) -> None:
        self.steps = deque(self.steps)  # type: ignore[assignment]


@dataclass
class ClientPhone:
    """An agent's softphone (<Dial><Client>): answers after a delay (or never), talks, hangs up.

    ``manual`` phones wait for ``answer()`` / ``reject()`` (the agent page in local mode).
    """

    identity: str
    answers: bool = True
    answer_after_s: float = 1.0
    talk_s: float = 3.0
    manual: bool = False
    rings: int = 0
    _decision: threading.Event = field(default_factory=threading.Event, repr=False)
    _answered: bool = False
    _hangup: threading.Event = field(default_factory=threading.Event, repr=False)
    ringing_call: str | None = None

    def answer(self) -> None:
        self._answered = True
        self._decision.set()

    def reject(self) -> None:
        self._answered = False
        self._decision.set()

    def hang_up(self) -> None:
        self._hangup.set()


@dataclass
class CustomerPhone:
    """A customer's phone for outbound calls: answer | busy | no-answer | voicemail."""

    behaviour: str = "answer"
    script: Script = field(default_factory=Script)


# --- calls ---------------------------------------------------------------------------------------


@dataclass
class SimCall:
    sid: str
    from_: str
    to: str
    direction: str
    script: Script
    status: str = "queued"
    log: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    created_at: float = field(default_factory=time.time)
    answered: float | None = None
    ended: float | None = None
    queue: str | None = None
    agent: str | None = None
    redirect_to: tuple[str, str] | None = None
    hangup_requested: bool = False
    wake: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    status_callback: str | None = None
    status_events: tuple[str, ...] = ("completed",)
    answered_by: str | None = None
    parent_sid: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    sequence: int = 0
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)  # (url, params, method) sent
    holding_since: float | None = None  # waiting outside a queue (Twilio refused it): the caller's patience runs
    machine_detection: str | None = None  # what calls.create asked for (Enable | DetectMessageEnd)
    phone: ClientPhone | None = None  # an agent's or supervisor's softphone on this call (its hang-up button)
    talk_until: float | None = None  # when the person on this call hangs up (monotonic; None: not on their own)
    frame: int = 0  # the call's media clock: 20 ms frames of audio time since it was answered
    utterances: list[Utterance] = field(default_factory=list)  # the caller's words said into streams
    streams: dict[str, ForkedStream] = field(default_factory=dict)  # <Start><Stream>s open, by name

    def note(self, kind: str, **data: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 3), "kind": kind, **data}
        self.log.append(entry)
        log.debug("%s %s %s", self.sid, kind, data)

    def audio_at(self, frame: int) -> tuple[bytes, bool]:
        """What the caller's line carries at media frame ``frame``: their words, else a quiet line (and whether they
        speak)."""
        for utterance in self.utterances:
            if utterance.first <= frame < utterance.end:
                return utterance.audio[frame - utterance.first], True
        return quiet_line(frame), False

    def heard(self) -> list[str]:
        return [e["text"] for e in self.log if e["kind"] in ("say", "play")]

    def summary(self) -> dict[str, Any]:
        """The CLI's --json object."""
        return {
            "call_sid": self.sid,
            "from": self.from_,
            "to": self.to,
            "direction": self.direction,
            "status": self.status,
            "outcome": self.outcome(),
            "heard": self.heard(),
            "pressed": [e["digits"] for e in self.log if e["kind"] == "press"],
            "said": [e["text"] for e in self.log if e["kind"] == "speak"],
            "intent": next((e.get("intent") for e in reversed(self.log) if e.get("intent")), None),
            "queue": self.queue,
            "agent": self.agent,
            "callback": next((e.get("callback") for e in self.log if e.get("callback")), None),
            "duration_s": round((self.ended or time.monotonic()) - self.started, 3),
            "events": self.log,
        }

    def duration(self) -> str | None:
        """Twilio's Duration of an ended call: whole seconds since it was answered (None while it lasts)."""
        if self.ended is None:
            return None
        return str(int(self.ended - self.answered)) if self.answered else "0"

    def outcome(self) -> str:
        kinds = [e["kind"] for e in self.log]
        if "bridged" in kinds:
            return "agent"
        if self.queue and self.status in ("completed", "canceled"):
            return "abandoned" if "caller-hangup" in kinds else "left-queue"
        if "hangup" in kinds:
            return "server-hangup"
        if "caller-hangup" in kinds:
            return "caller-hangup"
        return self.status


class Hangup(Exception):
    """The call is over (either side hung up)."""


class Redirected(Exception):
    """A REST update gave the call new TwiML: stop this document, fetch that one."""


class MovedOn(Redirected):
    """A REST redirect of a caller who was talking to an agent: the agent's leg was disconnected after ``duration``."""

    def __init__(self, duration: int) -> None:
        super().__init__(duration)
        self.duration = duration


class CallerLeftDial(Exception):
    """The caller hung up during a <Dial> (while it rang, or while bridged)."""

    def __init__(self, status: str, duration: int = 0) -> None:
        super().__init__(status)
        self.status, self.duration = status, duration


def answered_by(behaviour: str, detection: str) -> str:
    """Answering machine detection's AnsweredBy for a customer's phone (Enable decides at once; DetectMessageEnd
    waits for a machine's greeting to end)."""
    if behaviour == "voicemail":
        return "machine_end_beep" if detection == "DetectMessageEnd" else "machine_start"
    return {"fax": "fax", "unknown": "unknown"}.get(behaviour, "human")


# --- the platform ------------------------------------------------------------------------------


class Platform:
    """Simulated Twilio: calls, queues, client softphones and customer phones, against one server."""

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        account_sid: str = "AC" + "0" * 32,
        *,
        time_scale: float = 0.0,
        queue_poll_s: float = 0.5,
        caller_number: str = "+15550100000",
        default_phone: dict[str, Any] | None = None,
        dial_status_when_caller_leaves: str = DIAL_STATUS_WHEN_CALLER_LEAVES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.time_scale = time_scale
        self.queue_poll_s = queue_poll_s
        self.our_number = caller_number
        self.calls: dict[str, SimCall] = {}
        self.queues: dict[str, list[str]] = {}
        self.clients: dict[str, ClientPhone] = {}
        self.customers: dict[str, CustomerPhone] = {}
        self.queue_limits: dict[str, tuple[int, str | None]] = {}  # queue → (max size, "system-error" or None)
        self.default_phone = default_phone  # how an identity nobody registered answers (None: it is not registered)
        self.dial_status_when_caller_leaves = dial_status_when_caller_leaves
        self.rest_hang_s = 0.0  # calls.create held this long, then failed (the control API's /twilio-api)
        self.rest_down = False  # every REST request answered 503 (the control API's /twilio-api)
        self.lock = threading.RLock()
        self.http = requests.Session()
        self.listeners: list[Callable[[SimCall, dict[str, Any]], None]] = []
        self.conferences = Conferences(self)

    # public API ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def place_call(self, from_: str, to: str = "+15550001000", script: Script | None = None, *, wait: bool = True, timeout: float = 120) -> SimCall:
        """An inbound call from ``from_``: Twilio requests /voice/incoming and runs what it returns."""
        call = SimCall(sid=new_sid(), from_=from_, to=to, direction="inbound", script=script or Script())
        call.status_callback = self.url("/voice/status")
        call.status_events = ("initiated", "ringing", "answered", "completed")
        self._start(call, lambda: self._run_inbound(call))
        if wait:
            self.wait(call, timeout)
        return call

    def create_call(self, to: str, from_: str, *, url: str | None = None, twiml: str | None = None, method: str = "POST",
                    status_callback: str | None = None, status_events: tuple[str, ...] = ("completed",),
                    machine_detection: str | None = None, timeout_s: float = 30) -> SimCall:
        """An outbound call (REST ``calls.create``): rings the customer's phone, then runs Url/Twiml."""
        if not url and not twiml:
            raise SimulatorError("calls.create needs Url or Twiml")
        if to.startswith(CLIENT):  # an agent's softphone (click-to-call): it rings like a <Dial><Client>
            call = SimCall(sid=new_sid(), from_=from_, to=to, direction="outbound-api", script=Script())
            call.status_callback, call.status_events = status_callback, status_events
            self._start(call, lambda: self._run_client_call(call, to[len(CLIENT):], url, twiml, method, timeout_s))
            return call
        phone = self.customers.get(to, CustomerPhone())
        call = SimCall(sid=new_sid(), from_=from_, to=to, direction="outbound-api", script=phone.script,
                       machine_detection=machine_detection)
        call.status_callback = status_callback
        call.status_events = status_events
        self._start(call, lambda: self._run_outbound(call, phone, url, twiml, method, machine_detection, timeout_s))
        return call

    def update_call(self, sid: str, *, url: str | None = None, method: str = "POST", twiml: str | None = None, status: str | None = None) -> SimCall:
        """REST ``calls(sid).update``: redirect a live call to new TwiML, or end it."""
        call = self.get(sid)
        if call.ended is not None:
            raise SimulatorError(f"call {sid} is not in progress")
        if status in ("completed", "canceled"):
            call.hangup_requested = True
        elif url or twiml:
            call.redirect_to = (url or "", method) if url else ("twiml:" + (twiml or ""), "POST")
        else:
            raise SimulatorError("update needs Url, Twiml or Status")
        call.wake.set()
        return call

    def replay(self, sid: str, matching: str = "") -> tuple[int, str]:
        """Send the call's last webhook request whose URL contains ``matching`` again, exactly as signed before
        (a request Twilio retried, or an attacker replayed)."""
        call = self.get(sid)
        sent = [r for r in call.requests if matching in r[0]]
        if not sent:
            raise SimulatorError(f"call {sid} sent no request to a URL with {matching!r}")
        url, params, method = sent[-1]
        response = self._send(url, params, method)
        return response.status_code, response.text

    def get(self, sid: str) -> SimCall:
        with self.lock:
            if sid not in self.calls:
                raise NoSuchThing(f"no call {sid}")
            return self.calls[sid]

    # conferences (the Participants API) ----------------------------------------------------

    def add_participant(self, conference: str, to: str, from_: str, *, status_callback: str | None = None,
                        status_events: tuple[str, ...] = ("completed",), timeout_s: float = 30,
                        room_callback: str | None = None, room_events: str = "",
                        **settings: Any) -> tuple[Conference, Participant]:
        """Participants API create: call ``to`` and, once answered, put them in ``conference`` (made if new) with
        ``settings`` (label, muted, hold, coaching, coached, start_on_enter, end_on_exit)."""
        room = self.conferences.open(conference, self.url(room_callback) if room_callback else None, room_events)
        call = SimCall(sid=new_sid(), from_=from_, to=to, direction="outbound-api", script=Script())
        call.status_callback, call.status_events = status_callback, status_events
        participant = Participant(call.sid, **settings)
        if participant.coaching and not participant.coached:
            raise SimulatorError("Coaching needs CallSidToCoach")
        with self.conferences.lock:
            room.participants[call.sid] = participant
        self._start(call, lambda: self._run_participant(call, room, participant, timeout_s))
        return room, participant

    def update_participant(self, conference_sid: str, sid_or_label: str, **changes: Any) -> tuple[Conference, Participant]:
        room, participant = self.participant(conference_sid, sid_or_label)
        self.conferences.update(room, participant, changes)
        return room, participant

    def remove_participant(self, conference_sid: str, sid_or_label: str) -> None:
        """Participants API delete: the participant leaves (a call still ringing is canceled)."""
        room, participant = self.participant(conference_sid, sid_or_label)
        participant.removed = True
        call = self.calls.get(participant.call_sid)
        if call is not None and not participant.joined and call.ended is None:
            call.hangup_requested = True
            call.wake.set()
            if call.phone is None and call.to.startswith(CLIENT):
                phone = self.clients.get(call.to[len(CLIENT):])
                if phone is not None and phone.ringing_call == call.sid:
                    phone.reject()

    def participant(self, conference_sid: str, sid_or_label: str) -> tuple[Conference, Participant]:
        room = self.conferences.by_sid(conference_sid)
        found = room.find(sid_or_label) if room is not None and room.status != "completed" else None
        if room is None or found is None or found.removed:
            raise NoSuchThing(f"no participant {sid_or_label} in conference {conference_sid}")
        return room, found

    def say_in_conference(self, call_sid: str, text: str) -> list[str]:
        """The person on ``call_sid`` says ``text`` in their conference: the calls that hear it (each notes it)."""
        room, speaker = self.conferences.of_call(call_sid)
        speaker_call = self.get(call_sid)
        speaker_call.note("speak", text=text, where="conference")
        who = speaker.label or speaker_call.agent or speaker_call.from_
        hearers = room.hearers(speaker)
        for hearer in hearers:
            self.get(hearer.call_sid).note("hears", text=text, speaker=who)
        return [h.call_sid for h in hearers]

    def client(self, identity: str, **behaviour: Any) -> ClientPhone:
        """Register (or change) the softphone of a <Client> identity."""
        with self.lock:
            phone = self.clients.get(identity) or ClientPhone(identity, **(self.default_phone or {}))
            for name, value in behaviour.items():
                setattr(phone, name, value)
            self.clients[identity] = phone
            return phone

    def wait(self, call: SimCall, timeout: float = 120) -> SimCall:
        if not call.done.wait(timeout):
            raise SimulatorError(f"call {call.sid} still running after {timeout} s")
        return call

    # running calls ------------------------------------------------------------------------

    def _start(self, call: SimCall, body: Callable[[], None]) -> None:
        with self.lock:
            self.calls[call.sid] = call

        def run() -> None:
            try:
                body()
            except Exception as exc:  # the call is over either way; keep why
                log.exception("simulated call %s failed", call.sid)
                call.note("error", text=str(exc))
            finally:
                self._end(call)

        call.thread = threading.Thread(target=run, name=f"sim-{call.sid[:10]}", daemon=True)
        call.thread.start()

    def _run_inbound(self, call: SimCall) -> None:
        self._status(call, "ringing", send="ringing")
        call.answered = time.monotonic()
        self._status(call, "in-progress", send="answered")
        self._run_document(call, self.url("/voice/incoming"), "POST")

    def _run_outbound(self, call: SimCall, phone: CustomerPhone, url: str | None, twiml: str | None, method: str,
                      machine_detection: str | None, timeout_s: float) -> None:
        self._status(call, "initiated", send="initiated")
        self._status(call, "ringing", send="ringing")
        if phone.behaviour in ("busy", "no-answer"):
            if phone.behaviour == "no-answer":
                self._wait_real(call, timeout_s)
            call.note("customer", text=phone.behaviour)
            self._status(call, phone.behaviour)
            return
        call.answered = time.monotonic()
        if machine_detection:
            call.answered_by = answered_by(phone.behaviour, machine_detection)
        self._status(call, "in-progress", send="answered")
        self._run_answered(call, url, twiml, method)

    def _run_client_call(self, call: SimCall, identity: str, url: str | None, twiml: str | None, method: str,
                         timeout_s: float) -> None:
        """A REST call to an agent's softphone: it rings until answered (as the phone is set to) or ``timeout_s``."""
        self._status(call, "initiated", send="initiated")
        self._status(call, "ringing", send="ringing")
        phone = self._phone(identity)
        call.note("ringing", client=identity)
        if not self._rings_until_answered(call, phone, timeout_s):
            call.note("no-answer", client=identity)
            self._status(call, "no-answer")
            return
        call.agent = identity
        call.answered = time.monotonic()
        self._status(call, "in-progress", send="answered")
        self._run_answered(call, url, twiml, method)

    def _run_answered(self, call: SimCall, url: str | None, twiml: str | None, method: str) -> None:
        """An answered outbound call runs its Twiml, or the TwiML its Url returns."""
        if twiml:
            self._execute(call, parse(twiml), self.url(url or "/"))
        else:
            self._run_document(call, self.url(url or ""), method)

    def _end(self, call: SimCall) -> None:
        self._stop_streams(call)
        with self.lock:
            for members in self.queues.values():
                if call.sid in members:
                    members.remove(call.sid)
        if call.ended is None:
            call.ended = time.monotonic()
        if call.status not in FINAL_STATUSES:
            call.status = "completed"
        if call.status_callback and ("completed" in call.status_events or call.status != "completed"):
            self._post_status(call, call.status)
        call.done.set()
        for listener in self.listeners:
            listener(call, {"kind": "ended"})

    def _status(self, call: SimCall, status: str, send: str | None = None) -> None:
        call.status = status
        if send and call.status_callback and send in call.status_events:
            self._post_status(call, status)

    def _post_status(self, call: SimCall, status: str) -> None:
        duration = int((call.ended or time.monotonic()) - call.answered) if call.answered else 0
        call.sequence += 1
        params = {"CallStatus": status, "CallDuration": str(duration), "SequenceNumber": str(call.sequence),
                  "CallbackSource": "call-progress-events", "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())}
        try:
            self.request(call, call.status_callback or "", params)
        except SimulatorError as exc:
            call.note("error", text=f"status callback failed: {exc}")

    # HTTP -----------------------------------------------------------------------------------

    def params(self, call: SimCall, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The parameters Twilio sends with every request about a call."""
        base = {
            "CallSid": call.sid,
            "AccountSid": self.account_sid,
            "From": call.from_,
            "To": call.to,
            "CallStatus": call.status,
            "Direction": call.direction,
            "ApiVersion": "2010-04-01",
        }
        if call.parent_sid:
            base["ParentCallSid"] = call.parent_sid
        if call.answered_by:  # answering machine detection result (MachineDetection=Enable)
            base["AnsweredBy"] = call.answered_by
        return {**base, **(extra or {})}

    def request(self, call: SimCall, url: str, extra: dict[str, str] | None = None, method: str = "POST") -> requests.Response:
        """A signed webhook request, exactly as Twilio signs it (URL + sorted POST params), sent as Twilio sends it."""
        params = self.params(call, extra)
        call.requests.append((url, params, method))
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                response = self._send(url, params, method, (CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
                break
            except requests.ConnectionError as exc:  # refused or connect timeout: Twilio tries once more
                if attempt == CONNECT_RETRIES:
                    call.note("http-error", url=url, status=None, text=f"connection failed: {exc}"[:300])
                    raise WebhookFailed(f"{method} {url}: connection failed") from None
            except requests.Timeout:  # connected, no answer within the read timeout: no retry
                call.note("http-error", url=url, status=None, text=f"no response within {READ_TIMEOUT_S:.0f} s")
                raise WebhookFailed(f"{method} {url}: no response within {READ_TIMEOUT_S:.0f} s") from None
        if response.status_code >= 400:
            call.note("http-error", url=url, status=response.status_code, text=response.text[:300])
            raise WebhookFailed(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        return response

    def _send(self, url: str, params: dict[str, str], method: str,
              timeout: float | tuple[float, float] = REQUEST_TIMEOUT_S) -> requests.Response:
        if method.upper() == "GET":
            full = url + ("&" if "?" in url else "?") + urlencode(params)
            return self.http.get(full, headers={"X-Twilio-Signature": sign(self.auth_token, full, {})}, timeout=timeout)
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, params)}
        return self.http.post(url, data=params, headers=headers, timeout=timeout)

    def _fetch(self, call: SimCall, url: str, method: str, extra: dict[str, str] | None = None) -> list[Verb]:
        started = time.monotonic()
        response = self.request(call, url, extra, method)
        call.note("fetch", url=url.replace(self.base_url, ""), ms=round((time.monotonic() - started) * 1000))
        if not response.text.strip():
            return []
        return parse(response.text)

    def _run_document(self, call: SimCall, url: str, method: str, extra: dict[str, str] | None = None) -> None:
        """Fetch TwiML from ``url`` and run it, following Redirects and REST updates."""
        for _ in range(MAX_REDIRECTS):
            try:
                self._hold_patience(call)
                verbs = parse(url[len("twiml:"):]) if url.startswith("twiml:") else self._fetch(call, url, method, extra)
                nxt = self._execute(call, verbs, url)
            except Redirected:
                nxt = self._take_redirect(call)
            except Hangup:
                return
            except WebhookFailed as exc:  # no TwiML to run: Twilio apologizes and hangs up
                call.note("say", text=APPLICATION_ERROR, language="en-US")
                call.note("error", text=str(exc))
                return
            if nxt is None:
                call.note("end-of-twiml")
                return
            url, method, extra = nxt
        raise SimulatorError(f"more than {MAX_REDIRECTS} redirects on {call.sid}")

    def _hold_patience(self, call: SimCall) -> None:
        """Holding outside a queue: each document is a pass of hold music; the caller hangs up after ``hold_s``."""
        if call.holding_since is None:
            return
        if call.script.hold_s is not None and time.monotonic() - call.holding_since >= call.script.hold_s:
            call.note("caller-hangup", where="hold")
            raise Hangup()
        self._sleep(call, 0, floor=self.queue_poll_s)

    def _take_redirect(self, call: SimCall) -> tuple[str, str, dict[str, str] | None]:
        url, method = call.redirect_to or ("", "POST")
        call.redirect_to = None
        call.holding_since = None
        call.wake.clear()
        call.note("redirected", url=url.replace(self.base_url, ""), at_ms=call.frame * FRAME_MS)
        return url, method, None

    def _check(self, call: SimCall) -> None:
        """Between verbs: a REST update or a hang-up interrupts the current document."""
        if call.hangup_requested:
            call.note("hangup", by="rest")
            raise Hangup()
        if call.redirect_to:
            raise Redirected()

    def _sleep(self, call: SimCall, seconds: float, floor: float = 0.0) -> None:
        """Let ``seconds`` of audio time pass (scaled by time_scale), waking early for a REST update; open
        <Start> streams carry that audio meanwhile."""
        if call.streams and seconds > 0:
            self._stream_media(call, round(seconds / FRAME_S))
            return
        call.frame += round(seconds / FRAME_S)
        self._wait_real(call, max(seconds * self.time_scale, floor))

    def _stream_media(self, call: SimCall, count: int) -> None:
        """``count`` frames of the call's audio through its open streams: paced in real time (scaled), or in fast
        mode in batches that let the server keep up; a REST update interrupts it (Redirected)."""
        began = time.monotonic()
        for index in range(1, count + 1):
            self._check(call)
            for utterance in call.utterances:
                if not utterance.begun and call.frame >= utterance.first:
                    utterance.begun = True
                    call.note("speak", text=utterance.text, heard_by="stream", at_ms=call.frame * FRAME_MS)
            payload, speaking = call.audio_at(call.frame)
            for stream in call.streams.values():
                stream.send(call.frame, payload, speaking)
            call.frame += 1
            if self.time_scale:
                self._wait_real(call, began + index * FRAME_S * self.time_scale - time.monotonic())
                continue
            said = next((u for u in call.utterances if not u.awaited and call.frame >= u.end + DECISION_TAIL_FRAMES), None)
            if said is not None:  # the caller stopped speaking: as in real time, the call goes on once the server decided
                said.awaited = True
                self._await_decision(call, UTTERANCE_DECISION_WAIT_S)
            elif index % FAST_BATCH_FRAMES == 0:
                for stream in call.streams.values():
                    stream.poll()
                self._wait_real(call, FAST_BATCH_PAUSE_S)

    def _let_streams_decide(self, call: SimCall) -> None:
        """Fast mode, leaving a document with a stream open: first give the server the time to decode what it was
        sent faster than real time, and to act on it."""
        if not self.time_scale and call.streams:
            self._await_decision(call, SERVER_CLOSE_WAIT_S)

    def _await_decision(self, call: SimCall, seconds: float) -> None:
        """Fast mode: wait up to ``seconds`` for the server to close the call's streams (it decided), then for the
        REST redirect that acts on its decision (Redirected); back when neither came."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(stream.poll() for stream in call.streams.values()):
            self._wait_real(call, FAST_BATCH_PAUSE_S * 5)
        if not any(stream.poll() for stream in call.streams.values()):
            self._wait_real(call, REDIRECT_AFTER_CLOSE_S)

    def _speak_into_streams(self, call: SimCall, step: Say, at_frame: int) -> None:
        """The caller says ``step`` from media frame ``at_frame`` on, into whatever streams are open then."""
        call.script.steps.popleft()
        call.utterances.append(Utterance(at_frame, frames(step.line_audio()), step.text))

    def _stop_streams(self, call: SimCall, name: str | None = None) -> None:
        """Stop the stream ``name`` (None: all of them); what the caller was saying into it ends with it."""
        for stream_name in [n for n in call.streams if name in (None, n)]:
            stream = call.streams.pop(stream_name)
            stream.stop()
            if stream.lost_frames:
                call.note("stream-audio-lost", name=stream_name, ms=stream.lost_frames * FRAME_MS)
            call.note("stream-stopped", name=stream_name)
        if not call.streams:
            for utterance in call.utterances:
                if not utterance.begun:  # the call moved on before they began: they did not say it
                    call.note("not-said", text=utterance.text)
            call.utterances.clear()

    def await_input(self, call: SimCall, timeout_s: float) -> None:
        """An interactive caller has ``timeout_s`` + ``INTERACTIVE_READ_S`` wall seconds to press or say something."""
        if not call.script.interactive:
            return
        deadline = time.monotonic() + timeout_s + INTERACTIVE_READ_S
        while not call.script.steps and time.monotonic() < deadline:
            self._wait_real(call, 0.1)

    def _wait_real(self, call: SimCall, seconds: float) -> bool:
        """Wait wall-clock seconds (people and networks: rings, talk, patience); wakes for a REST update."""
        if seconds > 0 and call.wake.wait(seconds):
            self._check(call)
        return True

    # executing verbs ------------------------------------------------------------------------

    def _execute(self, call: SimCall, verbs: list[Verb], doc_url: str) -> tuple[str, str, dict[str, str] | None] | None:
        """Run verbs in order; returns the next document to fetch, or None when the call is done."""
        for index, verb in enumerate(verbs):
            self._check(call)
            handler = getattr(self, f"_verb_{verb.name.lower()}")
            nxt = handler(call, verb, doc_url, verbs[index + 1:])
            if nxt is not None:
                return nxt
        return None

    def _verb_say(self, call: SimCall, verb: Verb, *_: Any) -> None:
        seconds = len(verb.text.split()) / WORDS_PER_SECOND
        call.note("say", text=verb.text, language=verb.attr("language", "en-US"), seconds=round(seconds, 2),
                  at_ms=call.frame * FRAME_MS)
        self._sleep(call, seconds)

    def _verb_play(self, call: SimCall, verb: Verb, *_: Any) -> None:
        url = verb.text
        response = self.http.get(self.url(url), timeout=REQUEST_TIMEOUT_S)
        if response.status_code != 200:
            call.note("error", text=f"<Play> {url} answered {response.status_code}")
            return
        seconds = max(0.0, (len(response.content) - 44) / 8000)
        # The server's own prompts name their words (X-Prompt-Text): what a person would hear in the audio.
        words = unquote(response.headers.get("X-Prompt-Text", "")) or f"[audio {url.rsplit('/', 1)[-1]}]"
        call.note("play", text=words, url=url, seconds=round(seconds, 2), at_ms=call.frame * FRAME_MS)
        self._sleep(call, seconds)

    def _verb_pause(self, call: SimCall, verb: Verb, *_: Any) -> None:
        self._sleep(call, verb.number("length", 1))

    def _verb_hangup(self, call: SimCall, *_: Any) -> None:
        call.note("hangup", by="server")
        raise Hangup()

    def _verb_reject(self, call: SimCall, verb: Verb, *_: Any) -> None:
        call.note("hangup", by="server", reason=verb.attr("reason", "rejected"))
        call.status = "busy" if verb.attr("reason") == "busy" else "canceled"
        raise Hangup()

    def _verb_redirect(self, call: SimCall, verb: Verb, doc_url: str, _rest: list[Verb]) -> tuple[str, str, None]:
        self._let_streams_decide(call)
        target = self.url(verb.text)
        if target == doc_url:  # a document that asks for itself again (hold music): each pass takes time
            self._sleep(call, 0, floor=self.queue_poll_s)
        return target, verb.attr("method", "POST"), None

    def _verb_gather(self, call: SimCall, verb: Verb, doc_url: str, _rest: list[Verb]) -> tuple[str, str, dict[str, str]] | None:
        inputs = set(verb.attr("input", "dtmf").split())
        first = call.script.steps[0] if call.script.steps else None
        if call.streams and isinstance(first, Say) and first.barge_in_s is not None:  # over the prompt
            self._speak_into_streams(call, first, call.frame + round(first.barge_in_s / FRAME_S))
        heard_from = len(call.log)
        for child in verb.children:  # nested Say/Play/Pause are heard; a key pressed stops them (barge-in)
            self._check(call)
            getattr(self, f"_verb_{child.name.lower()}")(call, child, doc_url, [])
            if call.script.steps and isinstance(call.script.steps[0], Keys) and "dtmf" in inputs:
                break  # a key typed ahead cuts the rest of the prompt short (barge-in)
        self.await_input(call, verb.number("timeout", 5))
        self._skip_unasked(call, " ".join(e["text"] for e in call.log[heard_from:] if e["kind"] in ("say", "play")))
        action = self.url(verb.attr("action") or doc_url)
        method = verb.attr("method", "POST")
        step = call.script.steps[0] if call.script.steps else None
        if isinstance(step, Keys) and "dtmf" in inputs:
            digits = self._take_keys(call, int(verb.number("numDigits", 0)), verb.attr("finishOnKey", "#"))
            call.note("press", digits=digits)
            return action, method, {"Digits": digits}
        if isinstance(step, Say) and "speech" in inputs:
            call.script.steps.popleft()
            call.note("speak", text=step.text, heard_by="twilio-asr")
            # Twilio's own recogniser stands here: the simulator passes the words on as heard.
            return action, method, {"SpeechResult": step.text, "Confidence": "0.9"}
        if isinstance(step, Say) and call.streams:  # the caller answers the prompt; the stream carries it
            self._speak_into_streams(call, step, call.frame + REACTION_FRAMES)
        elif isinstance(step, Say):
            call.script.steps.popleft()
            call.note("speak", text=step.text, heard_by=None)
        elif isinstance(step, Silence):
            call.script.steps.popleft()
        if not call.streams:
            call.note("no-input", timeout=verb.number("timeout", 5))
        self._sleep(call, verb.number("timeout", 5))
        if verb.attr("actionOnEmptyResult") == "true":
            return action, method, {}
        return None  # fall through to the next verb

    def _skip_unasked(self, call: SimCall, prompt: str) -> None:
        """Answers the prompt did not ask for are not given (the caller moves on to their next step)."""
        while call.script.steps:
            step = call.script.steps[0]
            asked = getattr(step, "if_asked", None)
            if asked is None or asked in prompt:
                return
            call.script.steps.popleft()
            call.note("not-asked", text=step.text)

    def _take_keys(self, call: SimCall, num_digits: int, finish_on_key: str) -> str:
        """Consume typed-ahead keys the way <Gather> does: up to numDigits, or up to finishOnKey."""
        step = call.script.steps[0]
        taken = ""
        rest = step.digits
        while rest:
            key, rest = rest[0], rest[1:]
            if finish_on_key and key == finish_on_key and not num_digits:
                break
            taken += key
            if num_digits and len(taken) >= num_digits:
                break
        if rest:
            step.digits = rest
        else:
            call.script.steps.popleft()
        return taken

    def _verb_enqueue(self, call: SimCall, verb: Verb, doc_url: str, _rest: list[Verb]) -> tuple[str, str, dict[str, str]] | None:
        name = verb.text
        action = verb.attr("action")
        max_size, failure = self.queue_limits.get(name, (TWILIO_QUEUE_SIZE, None))
        with self.lock:
            refused = failure or ("queue-full" if len(self.queues.get(name, [])) >= max_size else None)
            if not refused:
                self.queues.setdefault(name, []).append(call.sid)
        if refused:  # never enqueued: the action is requested at once, without QueueSid or QueueTime
            call.note("queue-refused", queue=name, result=refused)
            call.queue, call.holding_since = name, time.monotonic()
            return (self.url(action), verb.attr("method", "POST"), {"QueueResult": refused}) if action else None
        call.queue = name
        call.note("enqueue", queue=name)
        joined, joined_frame = time.monotonic(), call.frame
        wait_url = verb.attr("waitUrl")
        result = "hangup"
        try:
            while True:
                self._check(call)
                if call.script.hold_s is not None and time.monotonic() - joined >= call.script.hold_s:
                    call.note("caller-hangup", where="queue")
                    raise Hangup()
                if wait_url:
                    try:
                        verbs = self._fetch(call, self.url(wait_url), verb.attr("waitUrlMethod", "POST"),
                                            self._queue_params(call, name, joined_frame))
                        left = self._run_wait_music(call, verbs, wait_url)
                    except SimulatorError as exc:  # the waitUrl answered an HTTP error or bad TwiML
                        call.note("error", text=f"waitUrl failed: {exc}")
                        result = "error"
                        break
                    if left:
                        result = "leave"
                        break
                self._sleep(call, 0, floor=self.queue_poll_s)
        except Redirected:
            call.note("dequeued", queue=name, how="redirect")
            self._leave_queue(call, name)
            if action:  # Twilio tells the action right away; the call goes on with the redirect's TwiML
                self._send_queue_result(call, action, name, joined_frame, "redirected")
            raise
        except Hangup:
            self._leave_queue(call, name)
            if action:
                call.status = "completed"
                self._send_queue_result(call, action, name, joined_frame, "hangup")
            raise
        self._leave_queue(call, name)
        if action:
            return self.url(action), verb.attr("method", "POST"), {**self._queue_params(call, name, joined_frame), "QueueResult": result}
        return None

    def _leave_queue(self, call: SimCall, name: str) -> None:
        with self.lock:
            if call.sid in self.queues.get(name, []):
                self.queues[name].remove(call.sid)

    def _send_queue_result(self, call: SimCall, action: str, name: str, joined_frame: int, result: str) -> None:
        """A QueueResult the call does not wait for (its TwiML is not run: the call hung up or moved on)."""
        try:
            self.request(call, self.url(action), {**self._queue_params(call, name, joined_frame), "QueueResult": result})
        except SimulatorError as exc:
            call.note("error", text=str(exc))

    def _queue_params(self, call: SimCall, name: str, joined_frame: int) -> dict[str, str]:
        """Twilio's queue parameters. QueueTime is the call's own time in the queue: the wait music it heard (each pass
        of the waitUrl spends its audio's length, compressed or not), so announcements keyed to it come as often as on
        a real call."""
        with self.lock:
            members = self.queues.get(name, [])
            position = members.index(call.sid) + 1 if call.sid in members else 0
            size = len(members)
        return {"QueueSid": "QU" + name.encode().hex()[:32].ljust(32, "0"), "QueuePosition": str(position),
                "CurrentQueueSize": str(size), "QueueTime": str((call.frame - joined_frame) * FRAME_MS // 1000), "AvgQueueTime": "0", "MaxQueueSize": "100"}

    def _run_wait_music(self, call: SimCall, verbs: list[Verb], wait_url: str) -> bool:
        """Run one pass of waitUrl TwiML (Say, Play, Pause, Gather, Redirect, Leave); True when it says Leave."""
        for index, verb in enumerate(verbs):
            self._check(call)
            if verb.name == "Leave":
                call.note("leave-queue")
                return True
            if verb.name not in ("Say", "Play", "Pause", "Gather", "Redirect", "Hangup"):
                raise SimulatorError(f"<{verb.name}> is not allowed in an Enqueue waitUrl document")
            if verb.name == "Redirect":
                return self._run_wait_music(call, self._fetch(call, self.url(verb.text), verb.attr("method", "POST")), verb.text)
            nxt = getattr(self, f"_verb_{verb.name.lower()}")(call, verb, self.url(wait_url), verbs[index + 1:])
            if nxt is not None:  # a Gather in the wait music got input: its action runs within the queue
                url, method, extra = nxt
                return self._run_wait_music(call, self._fetch(call, url, method, extra), url)
        return False

    def _verb_leave(self, call: SimCall, *_: Any) -> None:
        raise SimulatorError("<Leave> outside a queue")

    def _verb_dial(self, call: SimCall, verb: Verb, doc_url: str, _rest: list[Verb]) -> tuple[str, str, dict[str, str]] | None:
        timeout = verb.number("timeout", 30)
        nouns = verb.children or [Verb("Number", {}, verb.text)]
        status, duration, child_sid = "no-answer", 0, new_sid()
        action = verb.attr("action")
        try:
            for noun in nouns:
                if noun.name == "Client":
                    status, duration = self._ring_client(call, noun, timeout, child_sid)
                elif noun.name == "Number":
                    status, duration = self._ring_number(call, noun, child_sid, verb.attr("callerId"))
                elif noun.name == "Conference":
                    return self._dial_conference(call, verb, noun)
                else:
                    raise SimulatorError(f"<Dial><{noun.name}> is not simulated")
                if status == "completed":
                    break
        except MovedOn as moved:  # Twilio requests the action of a Dial whose caller was redirected, ignoring its TwiML
            if action:
                self._send_dial_result(call, action, verb, "completed", child_sid, moved.duration)
            raise
        except CallerLeftDial as left:  # the caller hung up: Twilio still requests the action, and ignores its TwiML
            call.status = "completed"
            call.note("dial-result", status=left.status, duration=left.duration)
            if action:
                self._send_dial_result(call, action, verb, left.status, child_sid, left.duration)
            raise Hangup() from None
        call.note("dial-result", status=status, duration=duration)
        if action:
            return self.url(action), verb.attr("method", "POST"), self._dial_params(status, child_sid, duration)
        return None

    @staticmethod
    def _dial_params(status: str, child_sid: str, duration: int) -> dict[str, str]:
        return {"DialCallStatus": status, "DialCallSid": child_sid, "DialCallDuration": str(duration),
                "DialBridged": str(status == "completed").lower()}

    def _send_dial_result(self, call: SimCall, action: str, verb: Verb, status: str, child_sid: str, duration: int) -> None:
        try:
            self.request(call, self.url(action), self._dial_params(status, child_sid, duration), verb.attr("method", "POST"))
        except SimulatorError as exc:
            call.note("error", text=f"Dial action failed: {exc}")

    def _child_status(self, call: SimCall, noun: Verb, child_sid: str, status: str, to: str, duration: int = 0) -> None:
        """The dialled leg moves on: its record (what the REST API lists as the call's children) and its status
        callbacks (<Client statusCallback=…>), as Twilio sends them."""
        child = self._leg(call, child_sid, to)
        child.status = status
        if status == "in-progress":
            child.answered = time.monotonic()
        elif status in FINAL_STATUSES:
            child.ended = time.monotonic()
            child.done.set()
        url = noun.attr("statusCallback")
        events = noun.attr("statusCallbackEvent", "completed").split()
        event = {"ringing": "ringing", "in-progress": "answered"}.get(status, "completed")
        if not url or event not in events:
            return
        try:
            self.request(child, self.url(url), {"CallDuration": str(duration), "DialCallStatus": status})
        except SimulatorError as exc:
            call.note("error", text=f"child status callback failed: {exc}")

    def _leg(self, call: SimCall, child_sid: str, to: str) -> SimCall:
        """The child call of a <Dial> noun, kept like any call (Twilio lists it with ParentCallSid)."""
        with self.lock:
            child = self.calls.get(child_sid)
            if child is None:
                child = SimCall(sid=child_sid, from_=call.from_, to=to, direction="outbound-dial", script=Script(),
                                parent_sid=call.sid)
                self.calls[child_sid] = child
            return child

    def _ring_client(self, call: SimCall, noun: Verb, timeout: float, child_sid: str) -> tuple[str, int]:
        """Ring an agent's softphone for up to ``timeout`` wall seconds; bridge if it answers. A caller with
        ``ring_patience_s`` hangs up after that long (the leg is canceled; the Dial action still comes)."""
        identity = noun.text
        phone = self._phone(identity)
        call.note("ringing", client=identity)
        patience = call.script.ring_patience_s
        waited = min(timeout, patience) if patience is not None else timeout
        answered = self._rings_until_answered(
            call, phone, waited, reported=lambda: self._child_status(call, noun, child_sid, "ringing", CLIENT + identity))
        if not answered and patience is not None and patience < timeout:
            call.note("caller-hangup", where="ringing", client=identity)
            self._child_status(call, noun, child_sid, "canceled", CLIENT + identity)
            raise CallerLeftDial(self.dial_status_when_caller_leaves)
        if not answered:
            call.note("no-answer", client=identity)
            self._child_status(call, noun, child_sid, "no-answer", CLIENT + identity)
            return "no-answer", 0
        call.agent = identity
        call.note("bridged", client=identity)
        self._child_status(call, noun, child_sid, "in-progress", CLIENT + identity)
        started = time.monotonic()
        child = self._leg(call, child_sid, CLIENT + identity)
        if call.script.talk_s is not None:
            call.talk_until = started + call.script.talk_s
        child.phone, child.agent = phone, identity
        child.talk_until = None if phone.manual else started + phone.talk_s
        try:
            ended_by = self._bridged(call, child)
        except Redirected:  # the caller was moved on (REST): the agent's leg is disconnected, the action still told
            duration = max(1, int(round(time.monotonic() - started)))
            self._child_status(call, noun, child_sid, "completed", CLIENT + identity, duration)
            call.note("dial-result", status="completed", duration=duration, how="caller redirected")
            raise MovedOn(duration) from None
        duration = max(1, int(round(time.monotonic() - started)))
        if ended_by == "moved":  # the agent's leg was redirected (REST): it runs its new TwiML, the Dial is over
            call.note("bridge-left", client=identity, how="agent leg redirected", seconds=duration)
            self._run_moved_leg(child, noun)
            return "completed", duration
        self._child_status(call, noun, child_sid, "completed", CLIENT + identity, duration)
        if ended_by == "caller":
            call.note("caller-hangup", where="bridged", seconds=duration)
            raise CallerLeftDial("completed", duration)
        call.note("agent-hangup", client=identity, seconds=duration)
        return "completed", duration

    def _bridged(self, call: SimCall, child: SimCall) -> str:
        """Caller and agent talk until one hangs up ("caller" | "agent", by their talk time, the agent's button or a
        REST hang-up) or the agent's leg is redirected ("moved"). A REST redirect of the caller raises Redirected."""
        phone = child.phone
        while True:
            if child.redirect_to:
                return "moved"
            now = time.monotonic()
            if child.hangup_requested or (phone is not None and phone._hangup.is_set()) or (
                    child.talk_until is not None and now >= child.talk_until):
                return "agent"
            if call.hangup_requested or (call.talk_until is not None and now >= call.talk_until):
                return "caller"
            if call.wake.wait(BRIDGE_POLL_S) and call.redirect_to:
                raise Redirected()

    def _run_moved_leg(self, child: SimCall, noun: Verb) -> None:
        """The agent's leg, redirected out of a Dial, becomes a call of its own running the new TwiML; its status
        callback (the noun's) still reports how it ends, with ParentCallSid."""
        child.status_callback = self.url(noun.attr("statusCallback")) if noun.attr("statusCallback") else None
        child.status_events = tuple(noun.attr("statusCallbackEvent", "completed").split())
        child.done.clear()
        url, method, _ = self._take_redirect(child)
        self._start(child, lambda: self._run_document(child, url, method))

    def _dial_conference(self, call: SimCall, verb: Verb, noun: Verb) -> tuple[str, str, dict[str, str]] | None:
        """<Dial><Conference>: in the room until it ends or they are removed (then the action, or the next verb),
        or until they hang up (the action is still told)."""
        room = self.conferences.open(noun.text, self.url(noun.attr("statusCallback")) if noun.attr("statusCallback") else None,
                                     noun.attr("statusCallbackEvent", ""))
        participant = Participant(call.sid, muted=noun.attr("muted") == "true",
                                  start_on_enter=noun.attr("startConferenceOnEnter", "true") != "false",
                                  end_on_exit=noun.attr("endConferenceOnExit") == "true",
                                  coaching=noun.attr("coach") == "true" or bool(noun.attr("callSidToCoach")),
                                  coached=noun.attr("callSidToCoach") or None, beep=noun.attr("beep", "true"))
        self.conferences.join(room, call, participant)
        started = time.monotonic()
        action = verb.attr("action")
        try:
            why = self.conferences.stay(room, call, participant, call.phone)
        except (Redirected, Hangup):
            self.conferences.leave(room, call, participant, "moved on" if call.redirect_to else "hung up (REST)")
            raise
        duration = max(1, int(round(time.monotonic() - started)))
        self.conferences.leave(room, call, participant, why)
        if why == "hung-up":
            call.note("agent-hangup" if call.phone else "caller-hangup", where="conference", seconds=duration)
            call.status = "completed"
            if action:
                self._send_dial_result(call, action, verb, "completed", "", duration)
            raise Hangup()
        call.note("dial-result", status="completed", duration=duration, how=why)
        return (self.url(action), verb.attr("method", "POST"), self._dial_params("completed", "", duration)) if action else None

    def _run_participant(self, call: SimCall, room: Conference, participant: Participant, timeout_s: float) -> None:
        """A participant added over REST: their phone rings; once answered they are in the room until they leave."""
        self._status(call, "initiated", send="initiated")
        self._status(call, "ringing", send="ringing")
        if call.to.startswith(CLIENT):
            identity = call.to[len(CLIENT):]
            phone = self._phone(identity)
            call.note("ringing", client=identity)
            if not self._rings_until_answered(call, phone, timeout_s) or participant.removed:
                call.note("no-answer", client=identity)
                self._status(call, "canceled" if participant.removed else "no-answer")
                return
            call.agent, call.phone = identity, phone
            call.talk_until = None if phone is None or phone.manual else time.monotonic() + phone.talk_s
        else:
            customer = self.customers.get(call.to, CustomerPhone())
            if customer.behaviour in ("busy", "no-answer"):
                call.note("customer", text=customer.behaviour)
                self._status(call, customer.behaviour)
                return
            call.script = customer.script
            call.talk_until = time.monotonic() + customer.script.talk_s if customer.script.talk_s else None
        call.answered = time.monotonic()
        self._status(call, "in-progress", send="answered")
        self.conferences.join(room, call, participant)
        try:
            why = self.conferences.stay(room, call, participant, call.phone)
        except Redirected:
            self.conferences.leave(room, call, participant, "moved on")
            url, method, _ = self._take_redirect(call)
            self._run_document(call, url, method)
            return
        except Hangup:
            self.conferences.leave(room, call, participant, "hung up (REST)")
            return
        self.conferences.leave(room, call, participant, why)

    def _phone(self, identity: str) -> ClientPhone | None:
        """The softphone of ``identity`` (made as the default phone when unregistered, if there is one)."""
        with self.lock:
            return self.clients.get(identity) or (self.client(identity) if self.default_phone is not None else None)

    def _rings_until_answered(self, call: SimCall, phone: ClientPhone | None, seconds: float,
                              reported: Callable[[], None] | None = None) -> bool:
        """Ring ``phone`` for ``call`` up to ``seconds``: True if it answered. ``reported``: the "ringing" report,
        sent once the phone shows the call (an agent who sees it can answer)."""
        if phone is not None:
            phone.rings += 1
            phone._decision.clear()
            phone._hangup.clear()
            phone.ringing_call = call.sid
        if reported is not None:
            reported()
        try:
            if phone is not None and phone.manual:
                return phone._decision.wait(seconds) and phone._answered
            if phone is not None and phone.answers and phone.answer_after_s < seconds:
                self._wait_real(call, phone.answer_after_s)
                return True
            self._wait_real(call, seconds)
            return False
        finally:
            if phone is not None:
                phone.ringing_call = None

    def _ring_number(self, call: SimCall, noun: Verb, child_sid: str, caller_id: str) -> tuple[str, int]:
        phone = self.customers.get(noun.text, CustomerPhone())
        call.note("ringing", number=noun.text, caller_id=caller_id or call.from_)  # (what the customer's phone shows)
        if phone.behaviour in ("busy", "no-answer"):
            return phone.behaviour, 0
        call.note("bridged", number=noun.text)
        talk = phone.script.talk_s or 1.0
        self._wait_real(call, talk)
        return "completed", int(talk)

    def _verb_connect(self, call: SimCall, verb: Verb, doc_url: str, _rest: list[Verb]) -> tuple[str, str, dict[str, str]] | None:
        from simulator.media import stream_call

        for noun in verb.children:
            if noun.name != "Stream":
                raise SimulatorError(f"<Connect><{noun.name}> is not simulated")
            stream_call(self, call, noun)
        action = verb.attr("action")
        return (self.url(action), verb.attr("method", "POST"), {}) if action else None

    def _verb_start(self, call: SimCall, verb: Verb, *_: Any) -> None:
        """<Start><Stream>: the call's audio goes to the socket from now on, while the TwiML goes on."""
        for noun in verb.children:
            if noun.name != "Stream":
                call.note("start", text=f"<Start><{noun.name}> is not simulated")
                continue
            try:
                stream = ForkedStream(self, call, noun, call.frame)
            except SimulatorError as exc:  # as on Twilio, a stream that fails does not stop the call
                call.note("stream-error", text=str(exc))
                continue
            call.streams[stream.name] = stream
            call.note("stream-started", name=stream.name, at_ms=call.frame * FRAME_MS,
                      url=stream.url.replace(self.base_url.replace("http", "ws", 1), ""))

    def _verb_stop(self, call: SimCall, verb: Verb, *_: Any) -> None:
        for noun in verb.children:
            if noun.name == "Stream":
                self._stop_streams(call, noun.attr("name") or None)


def step_from_json(raw: Any) -> Keys | Say | Silence:
    """One step: {"keys": "1#"}, {"say": "…", "lang": "ko", "snr_db": 15, "barge_in_s": 0.5 (over the prompt),
    "if_asked": "말씀하셨나요" (only at a prompt saying this)}, {"audio": base64 8 kHz μ-law, "name": …, "barge_in_s",
    "if_asked"} or {"silence": true}."""
    if not isinstance(raw, dict):
        raise SimulatorError(f"a step must be an object, got {raw!r}")
    if "keys" in raw:
        keys = str(raw["keys"])
        if not keys or any(ch not in "0123456789*#" for ch in keys):
            raise SimulatorError(f"keys may be 0-9, * and #, got {keys!r}")
        return Keys(keys)
    if "say" in raw:
        snr, barge_in, asked = raw.get("snr_db"), raw.get("barge_in_s"), raw.get("if_asked")
        try:
            return Say(str(raw["say"]), str(raw.get("lang", "en")), float(snr) if snr is not None else None,
                       barge_in_s=float(barge_in) if barge_in is not None else None,
                       if_asked=str(asked) if asked else None)
        except (TypeError, ValueError):
            raise SimulatorError("snr_db is a number of decibels, barge_in_s a number of seconds") from None
    if "audio" in raw:
        try:
            audio = base64.b64decode(str(raw["audio"]), validate=True)
        except binascii.Error:
            raise SimulatorError("audio is base64 of 8 kHz μ-law") from None
        if not audio or len(audio) > MAX_RECORDING_BYTES:
            raise SimulatorError(f"a recording is 20 ms to {MAX_RECORDING_BYTES // 8000} s of 8 kHz μ-law")
        barge_in, asked = raw.get("barge_in_s"), raw.get("if_asked")
        return Say(str(raw.get("name") or "a recording"), audio=audio,
                   barge_in_s=float(barge_in) if isinstance(barge_in, int | float) else None,
                   if_asked=str(asked) if asked else None)
    if raw.get("silence"):
        return Silence()
    raise SimulatorError(f"a step needs 'keys', 'say', 'audio' or 'silence', got {raw!r}")


def script_from_json(body: dict[str, Any]) -> Script:
    """A Script from its JSON form: {"steps": [{"keys": "1#"}, …], "hold_s": 30, "talk_s": 5, "ring_patience_s": 2,
    "interactive": false}."""
    raw_steps = body.get("steps", [])
    if not isinstance(raw_steps, list):
        raise SimulatorError("'steps' must be a list")
    steps = [step_from_json(raw) for raw in raw_steps]

    def seconds(name: str) -> float | None:
        value = body.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SimulatorError(f"{name} must be a number of seconds") from None

    return Script(steps, hold_s=seconds("hold_s"), talk_s=seconds("talk_s"), ring_patience_s=seconds("ring_patience_s"),
                  interactive=bool(body.get("interactive")))
