"""The simulator over HTTP, mounted at /sim in local mode only.

Two faces: the part of Twilio's REST API the server uses (Calls create / update / fetch under
``/sim/twilio/2010-04-01/…``, with HTTP basic auth like Twilio), so the real ``twilio`` client can be
pointed at it; and a control API (``/sim/calls``, ``/sim/clients/…``, ``/sim/customers/…``) that the
``python -m simulator`` CLI, the /phone page and the agents' simulated softphones use.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request

from simulator.exceptions import SimulatorError
from simulator.platform import CustomerPhone, Platform, SimCall, script_from_json

log = logging.getLogger(__name__)

bp = Blueprint("sim", __name__, url_prefix="/sim")

CUSTOMER_BEHAVIOURS = frozenset({"answer", "busy", "no-answer", "voicemail"})


def platform() -> Platform:
    return current_app.extensions["simulator"]


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.form:
        return request.form.to_dict()
    if not isinstance(body, dict):
        raise SimulatorError("expected a JSON object")
    return body


@bp.get("/")
def index() -> Response:
    p = platform()
    return jsonify(platform="simulated Twilio Voice", base_url=p.base_url, calls=len(p.calls),
                   clients=sorted(p.clients), queues={k: len(v) for k, v in p.queues.items()})


@bp.get("/calls")
def list_calls() -> Response:
    """Every call the simulator has seen (inbound and outbound), for tests and the /phone page."""
    with platform().lock:
        found = list(platform().calls.values())
    return jsonify(calls=[{"sid": c.sid, "from": c.from_, "to": c.to, "direction": c.direction, "status": c.status} for c in found])


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
    since = request.args.get("since", "0")
    call = platform().get(sid)
    summary = call.summary()
    summary["events"] = summary["events"][int(since) if since.isdigit() else 0:]
    summary["ended"] = call.done.is_set()
    summary.update(_server_view(sid))
    return jsonify(summary)


def _server_view(sid: str) -> dict[str, Any]:
    """What the server recorded about the call (intent, queue, agent, callback), for the summary."""
    from store import calls
    from store.web import get_db

    if "DATABASE_PATH" not in current_app.config:  # a standalone simulator knows only the calls
        return {}
    row = calls.find_call(get_db(), sid)
    if row is None:
        return {}
    return {k: row[k] for k in ("intent", "queue", "agent_id", "outcome", "callback_id", "path") if row.get(k)}


@bp.post("/calls/<sid>/hangup")
def hang_up(sid: str) -> Response:
    platform().update_call(sid, status="completed")
    return jsonify(ok=True)


@bp.post("/clients/<identity>")
def set_client(identity: str) -> Response:
    body = _json()
    allowed = {"answers": bool, "answer_after_s": float, "talk_s": float, "manual": bool}
    unknown = set(body) - set(allowed)
    if unknown:
        raise SimulatorError(f"unknown softphone settings {sorted(unknown)}; known: {sorted(allowed)}")
    try:
        behaviour = {k: allowed[k](v) for k, v in body.items()}
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
    phone = platform().clients.get(identity)
    if phone is None:
        abort(404, f"no softphone {identity!r} registered")
    actions = {"answer": phone.answer, "reject": phone.reject, "hangup": phone.hang_up}
    if action not in actions:
        abort(404, f"softphones can {', '.join(actions)}")
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


# --- Twilio REST API (the subset the server uses) ---------------------------------------------


def _rest_auth(account_sid: str) -> None:
    """Twilio's REST API takes HTTP basic auth: account SID (or API key) and auth token."""
    auth = request.authorization
    config = current_app.config
    if account_sid != config["TWILIO_ACCOUNT_SID"] or auth is None or auth.password != config["TWILIO_AUTH_TOKEN"]:
        abort(401, "the simulated REST API needs the account SID and auth token")


def _resource(call: SimCall) -> dict[str, Any]:
    p = platform()
    return {"sid": call.sid, "account_sid": p.account_sid, "to": call.to, "from": call.from_, "status": call.status,
            "direction": call.direction, "parent_call_sid": call.parent_sid, "answered_by": call.answered_by,
            "api_version": "2010-04-01", "uri": f"/2010-04-01/Accounts/{p.account_sid}/Calls/{call.sid}.json"}


@bp.post("/twilio/2010-04-01/Accounts/<account_sid>/Calls.json")
def rest_create(account_sid: str) -> tuple[Response, int]:
    _rest_auth(account_sid)
    form = request.form
    if not form.get("To") or not form.get("From"):
        raise SimulatorError("To and From are required")
    events = tuple(form.getlist("StatusCallbackEvent")) or ("completed",)
    call = platform().create_call(
        form["To"], form["From"], url=form.get("Url"), twiml=form.get("Twiml"), method=form.get("Method", "POST"),
        status_callback=form.get("StatusCallback"), status_events=events,
        machine_detection=bool(form.get("MachineDetection")), timeout_s=float(form.get("Timeout", 30)),
    )
    return jsonify(_resource(call)), 201


@bp.get("/twilio/2010-04-01/Accounts/<account_sid>/Calls.json")
def rest_list(account_sid: str) -> Response:
    """The call log, filtered like Twilio's by To and StartTime> (used to reconcile after a crash)."""
    _rest_auth(account_sid)
    to = request.args.get("To")
    after = request.args.get("StartTime>")
    since = datetime.fromisoformat(after.replace("Z", "+00:00")).timestamp() if after else 0.0
    with platform().lock:
        found = [c for c in platform().calls.values() if (not to or c.to == to) and c.created_at >= since]
    uri = f"/2010-04-01/Accounts/{account_sid}/Calls.json"
    return jsonify(calls=[_resource(c) for c in found], page=0, page_size=len(found) or 50, start=0, end=max(0, len(found) - 1),
                   uri=uri, first_page_uri=uri, next_page_uri=None, previous_page_uri=None)


@bp.route("/twilio/2010-04-01/Accounts/<account_sid>/Calls/<sid>.json", methods=["GET", "POST"])
def rest_call(account_sid: str, sid: str) -> Response:
    _rest_auth(account_sid)
    if request.method == "POST":
        form = request.form
        call = platform().update_call(sid, url=form.get("Url"), method=form.get("Method", "POST"),
                                      twiml=form.get("Twiml"), status=form.get("Status"))
    else:
        call = platform().get(sid)
    return jsonify(_resource(call))


DEMO_PHONE = {"answer_after_s": 3.0, "talk_s": 20.0}  # agents without the agent page open still answer


def init_app(app: Any, base_url: str, agent_ids: list[str]) -> Platform:
    """Mount the simulator on a local-mode app; its calls come back to ``base_url``; each agent gets a softphone."""
    sim = Platform(base_url, app.config["TWILIO_AUTH_TOKEN"], app.config["TWILIO_ACCOUNT_SID"])
    for agent_id in agent_ids:
        sim.client(agent_id, **DEMO_PHONE)
    app.extensions["simulator"] = sim
    app.register_blueprint(bp)
    return sim


def standalone_app(server_url: str, auth_token: str, account_sid: str) -> Flask:
    """The simulator as its own process (``python -m simulator serve``): Twilio's REST face and the control API,
    calling back to the server at ``server_url`` (which then runs with TWILIO_API_BASE_URL pointed here)."""
    app = Flask("simulator")
    app.config.update(TWILIO_ACCOUNT_SID=account_sid, TWILIO_AUTH_TOKEN=auth_token)
    app.extensions["simulator"] = Platform(server_url, auth_token, account_sid)
    app.register_blueprint(bp)

    @app.errorhandler(SimulatorError)
    def refused(error: SimulatorError) -> tuple[Response, int]:
        return jsonify(error=str(error)), error.status_code

    return app
