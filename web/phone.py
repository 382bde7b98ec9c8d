"""The caller's phone for local mode (``/api/phone``): place a simulated call from the browser, press keys,
say things, hear what the caller hears.

The call runs on the simulator like any ``python -m simulator call``, with a person at each input point
(the simulator waits for what the page sends); this is a signed-in front of its control API. Said text
is synthesized and streamed over Media Streams where a menu listens. Each browser session controls only
the call it placed.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request, session
from werkzeug.exceptions import BadRequest, Forbidden

from core.numbers import mask
from web.api import body
from web.auth import ROLES, allow, guard
from web.softphone import devices

log = logging.getLogger(__name__)

bp = Blueprint("phone_api", __name__, url_prefix="/api/phone")
bp.before_request(guard)

SESSION_KEY = "phone_call"


def placed_here(sid: str) -> str:
    """The call's sid, if this browser session placed it."""
    if session.get(SESSION_KEY) != sid:
        raise Forbidden("you can control only the call you placed from this page")
    return sid


@bp.post("/calls")
@allow(*ROLES)
def place() -> tuple[Response, int]:
    """Call the center from a number (or 'anonymous'); the caller holds until answered or hung up."""
    number = str(body().get("from") or "").strip()
    if not number:
        raise BadRequest("give the number to call from (or 'anonymous')")
    sid = devices().place_call(number)
    session[SESSION_KEY] = sid
    log.info("phone page call %s from %s", sid, mask(number))
    return jsonify(call_sid=sid), 201


@bp.get("/calls/<sid>")
@allow(*ROLES)
def follow(sid: str) -> Response:
    """What happened on the call since event ``since``: one line per thing heard, pressed, said or done."""
    since = request.args.get("since", "0")
    state = devices().follow(placed_here(sid), int(since) if since.isdecimal() else 0)
    return jsonify(lines=state["lines"], next=state["next"], ended=state["ended"], outcome=state["outcome"])


@bp.post("/calls/<sid>/input")
@allow(*ROLES)
def give_input(sid: str) -> Response:
    """Keys ({"keys": "1042#"}) or words ({"say": "billing", "lang": "en"}) for the next input point."""
    step = body()
    if not ({"keys", "say"} & set(step)):
        raise BadRequest("give keys or words to say")
    devices().give_input(placed_here(sid), step)
    return jsonify(ok=True)


@bp.post("/calls/<sid>/hangup")
@allow(*ROLES)
def hang_up(sid: str) -> Response:
    devices().hang_up(placed_here(sid))
    return jsonify(ok=True)
