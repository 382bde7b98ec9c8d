"""The simulated Twilio over HTTP: its own Flask app, reaching the server only over HTTP and WebSocket.

Two faces: the part of Twilio's REST API the server uses (Calls create / update / fetch / list under
``…/twilio/2010-04-01/…``, HTTP basic auth and Twilio's error bodies), so the real ``twilio`` client can
be pointed at it; and a control API (``/calls``, ``/clients/…``, ``/customers/…``, ``/queues/…``) for the
``python -m simulator`` CLI, tests, the caller phone page and the agents' simulated softphones.
``python -m simulator serve`` runs it on its own port; a local-mode server mounts it at /sim.
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from simulator.exceptions import NoSuchThing, SimulatorError
from simulator.platform import CustomerPhone, Platform, SimCall, script_from_json, step_from_json
from simulator.transcript import lines

log = logging.getLogger(__name__)

CUSTOMER_BEHAVIOURS = frozenset({"answer", "busy", "no-answer", "voicemail", "fax", "unknown"})
QUEUE_FAILURES = frozenset({"", "queue-full", "system-error"})
SOFTPHONE_SETTINGS = {"answers": bool, "answer_after_s": float, "talk_s": float, "manual": bool}


def platform() -> Platform:
    return current_app.extensions["simulator"]


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SimulatorError("expected a JSON object")
    return body


REST_PREFIX = "/twilio/"  # Twilio's REST face: HTTP basic auth, form bodies, as Twilio's


def _blueprint(prefix: str, control_token: str | None) -> Blueprint:
    bp = Blueprint("sim", __name__, url_prefix=prefix or None)

    @bp.before_request
    def control_api_guard() -> tuple[Response, int] | None:
        """With a control token (a local-mode server's simulator): the control API answers only requests that
        carry it (``Authorization: Bearer …``) and take JSON, so a page on another origin can neither read it nor
        place calls with an auto-submitted form."""
        if control_token is None or request.path.removeprefix(prefix).startswith(REST_PREFIX):
            return None
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), control_token.encode()):
            return jsonify(error="the simulator's control API needs its token (Authorization: Bearer …)"), 401
        if request.method == "POST" and request.content_type and not request.is_json:
            return jsonify(error="the simulator's control API takes JSON bodies only"), 415
        return None

    @bp.get("/")
    def index() -> Response:
        p = platform()
        return jsonify(platform="simulated Twilio Voice", base_url=p.base_url, calls=len(p.calls),
                       clients=sorted(p.clients), queues={k: len(v) for k, v in p.queues.items()})

    @bp.get("/calls")
    def list_calls() -> Response:
        """Every call the simulator has seen (inbound and outbound), for tests and the phone page."""
        with platform().lock:
            found = list(platform().calls.values())
        return jsonify(calls=[{"sid": c.sid, "from": c.from_, "to": c.to, "direction": c.direction, "status": c.status,
                               "answered_by": c.answered_by, "machine_detection": c.machine_detection} for c in found])

    @bp.post("/calls")
    def place_call() -> tuple[Response, int]:
        body = _json()
        from_ = str(body.get("from", "")).strip()
        if not from_:
            raise SimulatorError("'from' is required (the caller's number, or 'anonymous')")
        call = platform().place_call(from_, str(body.get("to") or "+15550001000"), script_from_json(body), wait=False)
        return jsonify(call_sid=call.sid), 201

    @bp.get("/calls/<sid>")
    def call_state(sid: str) -> Response:
        """The call as the caller lived it, from event ``since`` on: events and transcript lines."""
        since = request.args.get("since", "0")
        start = int(since) if since.isdecimal() else 0
        call = platform().get(sid)
        summary = call.summary()
        events = summary["events"][start:]
        summary.update(events=events, lines=lines(events), next=start + len(events), ended=call.done.is_set())
        return jsonify(summary)

    @bp.post("/calls/<sid>/steps")
    def add_step(sid: str) -> Response:
        """What the person at the phone does next: keys or words (an interactive call waits for them)."""
        platform().get(sid).script.steps.append(step_from_json(_json()))
        return jsonify(ok=True)

    @bp.post("/calls/<sid>/hangup")
    def hang_up(sid: str) -> Response:
        """The caller hangs up (nothing to do when the call is over already)."""
        call = platform().get(sid)
        if not call.done.is_set():
            platform().update_call(sid, status="completed")
        return jsonify(ok=True)

    @bp.post("/calls/<sid>/speak")
    def speak(sid: str) -> Response:
        """The person on a call in a conference says something: {"text": …}; who heard it (each call's log has it)."""
        text = str(_json().get("text", "")).strip()
        if not text:
            raise SimulatorError("'text' is what they say")
        return jsonify(heard_by=platform().say_in_conference(sid, text))

    @bp.get("/conferences/<name>")
    def conference_state(name: str) -> Response:
        """A conference and its participants (those in it now, and those ringing)."""
        room = platform().conferences.get(name)
        if room is None:
            abort(404, f"no conference {name!r}")
        p = platform()
        return jsonify(sid=room.sid, name=room.name, status=room.status,
                       participants=[{**part.resource(room, p.account_sid), "in": part.joined, "to": p.calls[sid].to}
                                     for sid, part in room.participants.items() if not part.removed])

    @bp.post("/calls/<sid>/replay")
    def replay(sid: str) -> Response:
        """Send a request of the call again, signed as it was: {"matching": "/voice/step/"} picks the last one whose
        URL contains that (default: the last request)."""
        status, text = platform().replay(sid, str(_json().get("matching", "")))
        return jsonify(status=status, body=text)

    @bp.post("/clients/<identity>")
    def set_client(identity: str) -> Response:
        body = _json()
        unknown = set(body) - set(SOFTPHONE_SETTINGS)
        if unknown:
            raise SimulatorError(f"unknown softphone settings {sorted(unknown)}; known: {sorted(SOFTPHONE_SETTINGS)}")
        try:
            behaviour = {k: SOFTPHONE_SETTINGS[k](v) for k, v in body.items()}
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"bad softphone setting: {exc}") from None
        phone = platform().client(identity, **behaviour)
        return jsonify(identity=phone.identity, ringing_call=phone.ringing_call, rings=phone.rings)

    @bp.get("/clients/<identity>")
    def get_client(identity: str) -> Response:
        phone = platform().clients.get(identity)
        if phone is None:
            abort(404, f"no softphone {identity!r} registered")
        return jsonify(identity=identity, ringing_call=phone.ringing_call, rings=phone.rings, manual=phone.manual)

    @bp.post("/clients/<identity>/<action>")
    def client_action(identity: str, action: str) -> Response:
        phone = platform().client(identity)
        actions = {"answer": phone.answer, "reject": phone.reject, "hangup": phone.hang_up}
        if action not in actions:
            abort(404, f"softphones can {', '.join(actions)}")
        if action in ("answer", "reject") and phone.ringing_call is None:
            abort(409, "nothing is ringing")
        actions[action]()
        return jsonify(ok=True)

    @bp.post("/customers/<path:number>")
    def set_customer(number: str) -> Response:
        body = _json()
        behaviour = str(body.get("behaviour", "answer"))
        if behaviour not in CUSTOMER_BEHAVIOURS:
            raise SimulatorError(f"behaviour must be one of {sorted(CUSTOMER_BEHAVIOURS)}")
        platform().customers[number] = CustomerPhone(behaviour=behaviour, script=script_from_json(body))
        return jsonify(number=number, behaviour=behaviour)

    @bp.post("/queues/<name>")
    def set_queue(name: str) -> Response:
        """A queue's limits: ``max_size`` (Twilio's default 100; 0: full), ``fails`` ("system-error": Twilio fails)."""
        body = _json()
        failure = str(body.get("fails", ""))
        if failure not in QUEUE_FAILURES:
            raise SimulatorError(f"fails is one of {sorted(QUEUE_FAILURES)}")
        try:
            size = int(body.get("max_size", 100))
        except (TypeError, ValueError):
            raise SimulatorError("max_size is a whole number") from None
        platform().queue_limits[name] = (size, failure or None)
        return jsonify(queue=name, max_size=size, fails=failure or None)

    @bp.post("/twilio-api")
    def set_rest_api() -> Response:
        """How the REST API misbehaves: ``hang_s`` > 0 holds each calls.create that long, then fails it with a 503
        and places nothing (Twilio slow and failing); 0 is normal again. ``down``: every request is answered 503
        (Twilio unavailable) until it is false again."""
        body = _json()
        try:
            hang_s = float(body.get("hang_s", 0))
        except (TypeError, ValueError):
            raise SimulatorError("hang_s is a number of seconds") from None
        platform().rest_hang_s = max(0.0, hang_s)
        platform().rest_down = body.get("down") is True
        return jsonify(hang_s=platform().rest_hang_s, down=platform().rest_down)

    # --- Twilio REST API (the subset the server uses) ----------------------------------------

    def _rest_auth(account_sid: str) -> None:
        """Twilio's REST API takes HTTP basic auth: account SID (or API key) and auth token."""
        auth = request.authorization
        p = platform()
        if account_sid != p.account_sid or auth is None or auth.password != p.auth_token:
            raise TwilioError(401, 20003, "Authenticate")
        if p.rest_down:
            raise TwilioError(503, 20503, "Service Unavailable")

    def _resource(call: SimCall) -> dict[str, Any]:
        p = platform()
        return {"sid": call.sid, "account_sid": p.account_sid, "to": call.to, "from": call.from_, "status": call.status,
                "direction": call.direction, "parent_call_sid": call.parent_sid, "answered_by": call.answered_by,
                "duration": call.duration(),
                "api_version": "2010-04-01", "uri": f"/2010-04-01/Accounts/{p.account_sid}/Calls/{call.sid}.json"}

    def _rest_call(sid: str) -> SimCall:
        with platform().lock:
            call = platform().calls.get(sid)
        if call is None:
            raise TwilioError(404, 20404, f"The requested resource /Calls/{sid}.json was not found")
        return call

    @bp.post("/twilio/2010-04-01/Accounts/<account_sid>/Calls.json")
    def rest_create(account_sid: str) -> tuple[Response, int]:
        _rest_auth(account_sid)
        if platform().rest_hang_s:
            time.sleep(platform().rest_hang_s)
            raise TwilioError(503, 20503, "Service unavailable")
        form = request.form
        if not form.get("To") or not form.get("From"):
            raise TwilioError(400, 21201, "To and From are required")
        detection = form.get("MachineDetection") or None
        if detection not in (None, "Enable", "DetectMessageEnd"):
            raise TwilioError(400, 21626, f"MachineDetection must be Enable or DetectMessageEnd, got {detection!r}")
        call = platform().create_call(
            form["To"], form["From"], url=form.get("Url"), twiml=form.get("Twiml"), method=form.get("Method", "POST"),
            status_callback=form.get("StatusCallback"), status_events=tuple(form.getlist("StatusCallbackEvent")) or ("completed",),
            machine_detection=detection, timeout_s=float(form.get("Timeout", 30)),
        )
        return jsonify(_resource(call)), 201

    @bp.get("/twilio/2010-04-01/Accounts/<account_sid>/Calls.json")
    def rest_list(account_sid: str) -> Response:
        """The call log, filtered like Twilio's by To, ParentCallSid and StartTime> (used to reconcile after a crash)."""
        _rest_auth(account_sid)
        to, parent = request.args.get("To"), request.args.get("ParentCallSid")
        after = request.args.get("StartTime>")
        since = datetime.fromisoformat(after.replace("Z", "+00:00")).timestamp() if after else 0.0
        with platform().lock:
            found = [c for c in platform().calls.values()
                     if (not to or c.to == to) and (not parent or c.parent_sid == parent) and c.created_at >= since]
        found.sort(key=lambda c: -c.created_at)
        uri = f"/2010-04-01/Accounts/{account_sid}/Calls.json"
        return jsonify(calls=[_resource(c) for c in found], page=0, page_size=len(found) or 50, start=0,
                       end=max(0, len(found) - 1), uri=uri, first_page_uri=uri, next_page_uri=None, previous_page_uri=None)

    @bp.route("/twilio/2010-04-01/Accounts/<account_sid>/Calls/<sid>.json", methods=["GET", "POST"])
    def rest_call(account_sid: str, sid: str) -> Response:
        _rest_auth(account_sid)
        call = _rest_call(sid)
        if request.method == "POST":
            if call.ended is not None:
                raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
            form = request.form
            call = platform().update_call(sid, url=form.get("Url"), method=form.get("Method", "POST"),
                                          twiml=form.get("Twiml"), status=form.get("Status"))
        return jsonify(_resource(call))

    def _room_or_404(conference_sid: str) -> Any:
        room = platform().conferences.by_sid(conference_sid)
        if room is None:
            raise TwilioError(404, 20404, f"The requested resource /Conferences/{conference_sid}.json was not found")
        return room

    @bp.get("/twilio/2010-04-01/Accounts/<account_sid>/Conferences.json")
    def rest_conferences(account_sid: str) -> tuple[Response, int]:
        """The Conferences list, filtered by FriendlyName and Status as Twilio's is."""
        _rest_auth(account_sid)
        p = platform()
        name, status = request.args.get("FriendlyName"), request.args.get("Status")
        rooms = p.conferences.named(name) if name else list(reversed(p.conferences.rooms.values()))
        return jsonify(conferences=[_conference(room, p.account_sid) for room in rooms
                                    if status is None or room.status == status], page=0, page_size=50), 200

    @bp.route("/twilio/2010-04-01/Accounts/<account_sid>/Conferences/<conference>.json", methods=["GET", "POST"])
    def rest_conference(account_sid: str, conference: str) -> tuple[Response, int]:
        """A conference: fetch it, or end it (``Status=completed``: everyone in it leaves)."""
        _rest_auth(account_sid)
        room = _room_or_404(conference)
        if request.method == "POST":
            if request.form.get("Status") != "completed":
                raise TwilioError(400, 21220, "Status can only be completed")
            platform().conferences.end(room, None)
        return jsonify(_conference(room, platform().account_sid)), 200

    @bp.route("/twilio/2010-04-01/Accounts/<account_sid>/Conferences/<conference>/Participants.json", methods=["GET", "POST"])
    def rest_participants(account_sid: str, conference: str) -> tuple[Response, int]:
        """Participants API: list a conference's participants, or add one (a call placed to ``To``; the conference
        named here is made if it does not exist yet)."""
        _rest_auth(account_sid)
        p = platform()
        if request.method == "GET":
            room = _room_or_404(conference)
            return jsonify(participants=[part.resource(room, p.account_sid) for part in room.participants.values()
                                         if part.joined], page=0, page_size=50), 200
        form = request.form
        if not form.get("To") or not form.get("From"):
            raise TwilioError(400, 21201, "To and From are required")
        room, part = p.add_participant(
            conference, form["To"], form["From"], status_callback=form.get("StatusCallback"),
            status_events=tuple(form.getlist("StatusCallbackEvent")) or ("completed",),
            timeout_s=float(form.get("Timeout", 30)), label=form.get("Label") or None,
            room_callback=form.get("ConferenceStatusCallback"),
            room_events=" ".join(form.getlist("ConferenceStatusCallbackEvent")), **_participant_settings(form))
        return jsonify(part.resource(room, p.account_sid)), 201

    @bp.route("/twilio/2010-04-01/Accounts/<account_sid>/Conferences/<conference>/Participants/<who>.json",
              methods=["GET", "POST", "DELETE"])
    def rest_participant(account_sid: str, conference: str, who: str) -> tuple[Response, int]:
        """One participant (by call SID or label): fetch, update (mute, hold, coach), or remove."""
        _rest_auth(account_sid)
        p = platform()
        try:
            if request.method == "DELETE":
                p.remove_participant(conference, who)
                return Response(status=204), 204
            if request.method == "POST":
                room, part = p.update_participant(conference, who, **_participant_settings(request.form))
            else:
                room, part = p.participant(conference, who)
        except NoSuchThing:
            raise TwilioError(404, 20404, f"The requested resource /Participants/{who}.json was not found") from None
        return jsonify(part.resource(room, p.account_sid)), 200

    return bp


def _conference(room: Any, account_sid: str) -> dict[str, str]:
    """A Conference resource as Twilio's REST API shows it."""
    return {"sid": room.sid, "friendly_name": room.name, "status": room.status, "account_sid": account_sid}


PARTICIPANT_FLAGS = {"Muted": "muted", "Hold": "hold", "Coaching": "coaching", "StartConferenceOnEnter": "start_on_enter",
                     "EndConferenceOnExit": "end_on_exit"}


def _participant_settings(form: Any) -> dict[str, Any]:
    """A participant's settings from a Participants API form (Twilio's "true"/"false" flags; CallSidToCoach)."""
    settings: dict[str, Any] = {name: form[key].lower() == "true" for key, name in PARTICIPANT_FLAGS.items() if key in form}
    if form.get("Beep"):
        settings["beep"] = form["Beep"]
    if form.get("HoldUrl"):
        settings["hold_url"], settings["hold_method"] = form["HoldUrl"], form.get("HoldMethod", "GET").upper()
    if form.get("CallSidToCoach"):
        settings["coached"] = form["CallSidToCoach"]
        settings.setdefault("coaching", True)
    return settings


class TwilioError(Exception):
    """A REST API error, answered with Twilio's error body (code, message, more_info, status)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def standalone_app(server_url: str, auth_token: str, account_sid: str, *, prefix: str = "/sim",
                   default_phone: dict[str, float] | None = None, control_token: str | None = None) -> Flask:
    """The simulated Twilio calling back the server at ``server_url`` (which then runs with TWILIO_API_BASE_URL
    pointed at <this>/twilio). ``default_phone``: how a softphone nobody registered behaves (None: it never rings)."""
    app = Flask("simulator")
    app.extensions["simulator"] = Platform(server_url, auth_token, account_sid, default_phone=default_phone)
    app.register_blueprint(_blueprint(prefix, control_token))

    @app.errorhandler(TwilioError)
    def rest_refused(error: TwilioError) -> tuple[Response, int]:
        return jsonify(code=error.code, message=str(error), more_info=f"https://www.twilio.com/docs/errors/{error.code}",
                       status=error.status), error.status

    @app.errorhandler(SimulatorError)
    def refused(error: SimulatorError) -> tuple[Response, int]:
        return jsonify(error=str(error)), error.status_code

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        return jsonify(error=error.description), error.code or 500

    return app
