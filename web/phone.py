"""The caller's phone for local mode (``/api/phone``): place a simulated call from the browser, press keys,
say things, hear what the caller hears.

The call runs on the in-process simulator like any ``python -m simulator call``, with an *interactive*
script: at each input point the simulator waits for what the page sends (``Script.interactive``). Said
text is a ``Say`` step, so it is synthesized and streamed over Media Streams where a menu listens, as
the CLI's ``--say`` does. Each browser session controls only the call it placed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request, session
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from simulator.__main__ import describe
from simulator.platform import Keys, Platform, Say, Script, SimCall, script_from_json
from web.api import body
from web.auth import ROLES, allow, guard

log = logging.getLogger(__name__)

bp = Blueprint("phone_api", __name__, url_prefix="/api/phone")
bp.before_request(guard)

SESSION_KEY = "phone_call"


def platform() -> Platform:
    sim = current_app.extensions.get("simulator")
    if sim is None:
        raise NotFound("the caller phone exists only in local mode")
    return sim


def placed_here(sid: str) -> SimCall:
    """The call, if this browser session placed it."""
    if session.get(SESSION_KEY) != sid:
        raise Forbidden("you can control only the call you placed from this page")
    return platform().get(sid)


@bp.post("/calls")
@allow(*ROLES)
def place() -> tuple[Response, int]:
    """Call the center from a number (or 'anonymous'); the caller holds until answered or hung up."""
    number = str(body().get("from") or "").strip()
    if not number:
        raise BadRequest("give the number to call from (or 'anonymous')")
    call = platform().place_call(number, script=Script(interactive=True), wait=False)
    session[SESSION_KEY] = call.sid
    log.info("phone page call %s from %s", call.sid, number)
    return jsonify(call_sid=call.sid), 201


@bp.get("/calls/<sid>")
@allow(*ROLES)
def follow(sid: str) -> Response:
    """What happened on the call since event ``since``: one line per thing heard, pressed, said or done."""
    call = placed_here(sid)
    since = request.args.get("since", "0")
    start = int(since) if since.isdigit() else 0
    events = call.log[start:]
    lines = [{"t": e["t"], "kind": e["kind"], "line": line} for e in events if (line := describe(e))]
    ended = call.done.is_set()
    return jsonify(lines=lines, next=start + len(events), ended=ended, outcome=call.outcome() if ended else None)


@bp.post("/calls/<sid>/input")
@allow(*ROLES)
def give_input(sid: str) -> Response:
    """Keys ({"keys": "1042#"}) or words ({"say": "billing", "lang": "en"}) for the next input point."""
    call = placed_here(sid)
    step = script_from_json({"steps": [body()]}).steps[0]  # the simulator's own checks (SimulatorError: 400)
    if not isinstance(step, Keys | Say):
        raise BadRequest("give keys or words to say")
    call.script.steps.append(step)
    return jsonify(ok=True)


@bp.post("/calls/<sid>/hangup")
@allow(*ROLES)
def hang_up(sid: str) -> Response:
    call = placed_here(sid)
    if not call.done.is_set():
        platform().update_call(sid, status="completed")
    return jsonify(ok=True)
