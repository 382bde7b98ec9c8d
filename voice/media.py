"""``WS /voice/media``: one menu turn of one call's Twilio Media Stream, recognized with Vosk.

Twilio opens it for a menu's ``<Start><Stream>``, before the prompt plays (barge-in); the ``start`` message's
customParameters name the call, node, attempt, (for "did you say …?") the option being confirmed, and how long
the prompt plays (no-input counts from its end). The session decodes the caller's audio off the request thread,
and when the turn is over (intent, silence, error) the result is kept on the call, the socket is closed and the
live call is redirected over REST to the turn's ``via=stream`` step, which reads the result
(``views.stream_input``). A stream Twilio stopped (a key answered the turn, the caller hung up) redirects nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from core.clock import iso
from core.model import turn_key
from core.stream_tokens import StreamRefused
from ivr.engine import PROMPT_MS
from services.bootstrap import Services
from services.slots import NoSlot
from speech import models
from speech.exceptions import SpeechError
from speech.stream import NOINPUT_MS, Listen, MediaStreamSession, StreamStart, TurnResult
from store import calls
from telephony.exceptions import CallNotInProgress, TelephonyError
from voice.signature import verify
from web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__, url_prefix="/voice")
bp.before_request(verify)
sock = Sock()

RECEIVE_TIMEOUT_S = 1.0
DECIDING_RECEIVE_S = 0.05  # once listening: how soon a decision made between two messages is acted on
MAX_STREAM_S = 60.0  # wall-clock limit of one turn's socket, whatever the peer does
DECODE_GRACE_S = 20.0  # after the socket closed, how long the recognizer may take to finish what it received
MAX_PROMPT_MS = 40_000  # a prompt parameter beyond this is not believed
START_WAIT_S = 5.0  # Twilio sends "connected" and "start" at once: a socket silent this long is not Twilio's
MEDIA, TRY_AGAIN_LATER = "media", 1013  # the slot key of every Media Stream; WebSocket close code


def listen_for(svc: Services, db: Any, refused: list[str]) -> Any:
    """The turn's Listen, from the start message: the call's language, the menu's (or yes/no) choices; a start
    without this call's and turn's unused token is refused (``refused`` says why) and touches no call."""

    def listen(start: StreamStart) -> Listen:
        params = start.custom_parameters
        call = calls.load(db, start.call_sid)
        if call is None or params.get("call_sid", start.call_sid) != start.call_sid:
            raise SpeechError(f"stream for unknown call {start.call_sid!r}")
        try:
            token = svc.env.tokens.check(start.call_sid, turn_of(params), params, svc.clock())
            with svc.store.unit(db):
                if not calls.use_stream_token(db, token, iso(svc.clock())):
                    raise StreamRefused(f"stream start for {start.call_sid} with a token used before")
        except StreamRefused as exc:
            log.warning("refused: %s (stream %s)", exc, start.stream_sid)
            refused.append(str(exc))
            raise SpeechError(str(exc)) from None
        language = svc.flows.language_for(call["language"])
        choices = svc.flows.choices(language, params.get("node", ""), params.get("confirming") or None)
        return Listen(model=models.get_model(language, svc.config), lang=language, choices=choices,
                      noinput_ms=NOINPUT_MS + prompt_ms(params))

    return listen


def turn_of(params: dict[str, str]) -> str:
    """The menu turn a stream's parameters name (node, attempt, option being confirmed)."""
    return turn_key(params.get("node", ""), attempt_of(params), params.get("confirming") or None)


def attempt_of(params: dict[str, str]) -> int:
    return int(params["attempt"]) if str(params.get("attempt", "")).isdecimal() else 1


def prompt_ms(params: dict[str, str]) -> int:
    """How long the turn's prompt plays (a stream parameter), within reason."""
    value = params.get(PROMPT_MS, "")
    return min(int(value), MAX_PROMPT_MS) if value.isdecimal() else 0


@sock.route("/media", bp=bp)
def media(ws: Any) -> None:
    """One turn of one call's Media Stream."""
    in_a_slot(ws, "media stream", serve_turn)


def in_a_slot(ws: Any, what: str, serve: Callable[[Services, Any], None]) -> None:
    """Serve a Media Stream in one of the process's live-connection slots (refused at once when they are taken)."""
    svc = services()
    try:
        svc.slots.take(MEDIA, shared=True)
    except NoSlot as exc:
        log.warning("%s refused: %s", what, exc)
        ws.close(reason=TRY_AGAIN_LATER, message=str(exc)[:120])
        return
    try:
        serve(svc, ws)
    finally:
        svc.slots.give_back(MEDIA)


def serve_turn(svc: Services, ws: Any) -> None:
    db = svc.store.connect()  # the socket outlives ordinary request scoping
    refused: list[str] = []
    session = MediaStreamSession(listen_for(svc, db, refused))
    hung_up = False  # the peer closed the socket: the call went on without us
    opened = time.monotonic()
    deadline = opened + MAX_STREAM_S
    try:
        while not session.decided and time.monotonic() < deadline:
            if session.start is None and time.monotonic() - opened > START_WAIT_S:
                log.warning("media stream sent no start within %s s: closed", START_WAIT_S)
                break
            try:
                message = ws.receive(timeout=DECIDING_RECEIVE_S if session.start else RECEIVE_TIMEOUT_S)
            except ConnectionClosed:
                hung_up = True
                break
            if message is not None:
                session.receive(message)
        if session.start is None:  # nothing to decode: no waiting for the recognizer
            result = session.close("the socket sent no start")
        else:  # the peer may have sent everything (and "stop") faster than real time: let decoding catch up
            result = session.wait(DECODE_GRACE_S) or session.close("the stream ended before a decision")
        if not refused and keep(svc, db, session, result) and not (hung_up or result.stopped):
            ws.close()  # we have heard this turn: the rest of its audio is not ours
            move_on(svc, session.start.custom_parameters, session.start.call_sid)
    finally:
        if not session.done:
            session.close("socket handler finished")
        db.conn.close()


def keep(svc: Services, db: Any, session: MediaStreamSession, result: TurnResult | None) -> bool:
    """Keep the turn's result on the call for its ``via=stream`` step to pick up (one transaction); False if there
    was no turn (no start, no such call)."""
    if session.start is None or result is None:
        log.warning("media stream closed without a start message: %s", result.error if result else "no result")
        return False
    params = session.start.custom_parameters
    heard = result.as_dict()
    heard["alternatives"] = [{"text": text, "confidence": conf} for text, conf in result.alternatives]
    if not svc.env.rules.store_transcripts:  # STORE_TRANSCRIPTS=false: keep the decision, not the words
        heard.update(alternatives=[], transcript="")
    if result.kind == "error":
        log.info("media stream of %s ended with an error: %s", session.start.call_sid, result.error)
    with svc.store.unit(db):
        call = calls.load(db, session.start.call_sid)
        if call is None:
            return False
        call.log("heard", {"turn": turn_of(params), **heard})
        calls.save(db, call)
    return True


def move_on(svc: Services, params: dict[str, str], call_sid: str) -> None:
    """Redirect the live call to the turn's step, which acts on what was heard (the prompt, if still playing,
    stops)."""
    url = svc.env.urls.step(params.get("node", ""), attempt_of(params), via="stream", confirming=params.get("confirming") or None)
    try:
        svc.telephony.redirect(call_sid, url)
    except CallNotInProgress:
        log.info("call %s ended before its turn's decision could be acted on", call_sid)
    except TelephonyError as exc:  # the <Pause>/<Redirect> after the prompt still reaches the step, later
        log.warning("could not redirect call %s to its decision: %s", call_sid, exc)
