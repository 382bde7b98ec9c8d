"""Twilio voice webhooks: thin views that check the signature, parse the form, call the engine."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, g, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from ivr import engine, numbers, queueing
from ivr import twilio_form as form
from ivr.engine import Input, Turn
from ivr.exceptions import IvrError
from ivr.flows import Flow
from ivr.signature import check, public_url
from speech.intent import Match
from store import calls
from store.web import get_db

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")


def base_url() -> str:
    """The server's public base URL: PUBLIC_BASE_URL, or (local use) the host the request came to."""
    return current_app.config["PUBLIC_BASE_URL"] or request.host_url


def websocket_url(url: str) -> str:
    """The ws:// (wss://) form of an http:// (https://) URL."""
    return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def verify_twilio_signature() -> None:
    """Refuse (403) any request not signed by Twilio with our auth token; runs before every voice view."""
    base = base_url()
    if request.environ.get("HTTP_UPGRADE", "").lower() == "websocket":  # Twilio signs the wss:// URL
        base = websocket_url(base)
    url = public_url(base, request.full_path)
    params = request.form if request.method == "POST" else {}
    check(current_app.config["TWILIO_AUTH_TOKEN"], url, params, request.headers.get("X-Twilio-Signature"))


bp.before_request(verify_twilio_signature)


class FlaskUrls:
    """engine.Urls for this server: absolute URLs on PUBLIC_BASE_URL."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def _abs(self, endpoint: str, **values: Any) -> str:
        return self.base + url_for(endpoint, **values)

    def step(self, node: str, **query: Any) -> str:
        return self.voice("voice.step", node=node, **query)

    def voice(self, endpoint: str, node: str | None = None, **query: Any) -> str:
        """Absolute URL of a voice endpoint with its query string (what Twilio will sign)."""
        query = {k: v for k, v in query.items() if v not in (None, "")}
        path = self._abs(endpoint, node=node) if node else self._abs(endpoint)
        return path + ("?" + urlencode(query) if query else "")

    def media_stream(self) -> str:
        ws_base = websocket_url(self.base)
        return ws_base + urlsplit(url_for("media.media")).path  # websocket rules build full ws:// URLs

    def queue_wait(self, queue: str) -> str:
        return self._abs("voice.queue_wait", queue=queue)

    def queue_result(self) -> str:
        return self._abs("voice.queue_result")

    def static(self, filename: str) -> str:
        return self._abs("static", filename=filename)

    def audio(self, text: str, language: str) -> str | None:
        finder = current_app.extensions.get("prompt_audio")
        return finder(text, language) if finder else None


def flow_for(language: str | None) -> Flow:
    flows: dict[str, Flow] = current_app.extensions["flows"]
    return flows.get(language or "") or flows[current_app.config["DEFAULT_LANGUAGE"]]


def speech_input(language: str) -> str:
    """How this flow's menus listen: Vosk over Media Streams where a model exists, else keys only."""
    mode = current_app.config["SPEECH_INPUT"]
    if mode in ("twilio", "dtmf"):
        return mode
    return "stream" if language in current_app.extensions["speech_languages"] else "dtmf"


def make_turn(call: dict[str, Any]) -> Turn:
    flow = flow_for(call["language"])
    return Turn(
        db=get_db(),
        call=call,
        flow=flow,
        urls=FlaskUrls(base_url()),
        enqueue=queueing.enqueue,
        max_reprompts=current_app.config["MAX_REPROMPTS"],
        speech_input=speech_input(flow.language),
        store_transcripts=current_app.config["STORE_TRANSCRIPTS"],
        kick=kick_routing,
        wait_hooks=current_app.extensions.get("wait_hooks", []),
    )


def kick_routing() -> None:
    dispatcher = current_app.extensions.get("dispatcher")
    if dispatcher is not None:
        dispatcher.kick()


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def known_call(sid: str) -> dict[str, Any]:
    call = calls.find_call(get_db(), sid)
    if call is None:
        raise IvrError(f"unknown call {sid}; calls start at /voice/incoming")
    return call


@bp.post("/incoming")
def incoming() -> Response:
    sid = form.call_sid(request.form)
    db = get_db()
    number = numbers.normalize(request.form.get("From"), current_app.config["DEFAULT_REGION"])
    caller = calls.caller_for_number(db, number)
    flow = flow_for(caller["language"])
    call, created = calls.start_call(
        db,
        sid,
        caller_id=caller["id"],
        from_number=form.text(request.form, "From")[:64],
        to_number=form.text(request.form, "To")[:64],
        direction=form.text(request.form, "Direction")[:32] or "inbound",
        status=form.text(request.form, "CallStatus")[:32] or "ringing",
        language=flow.language,
        flow=flow.name,
    )
    g.call_sid = sid
    if not created:
        log.info("incoming webhook for %s repeated; starting its flow again", sid)
    hooks = current_app.extensions.get("incoming_hooks", [])
    turn = make_turn(call)
    for hook in hooks:  # e.g. "you have a pending callback" before the flow starts
        if hook(turn):
            return twiml(turn.response)
    return twiml(engine.begin(turn))


@bp.post("/step/<node>")
def step(node: str) -> Response:
    sid = form.call_sid(request.form)
    call = known_call(sid)
    attempt = form.whole(request.args, "attempt", 1, low=1, high=20)
    confirming = request.args.get("confirming") or None
    if request.args.get("via") == "stream":
        inp = stream_input(sid, calls.turn_key(node, attempt, confirming))
    else:
        speech = form.text(request.form, "SpeechResult")
        alternatives = ((speech, form.fraction(request.form, "Confidence")),) if speech else ()
        inp = Input(digits=form.digits(request.form), alternatives=alternatives, source="gather-speech" if speech else "dtmf")
    return twiml(engine.advance(make_turn(call), node, inp, attempt, confirming))


def stream_input(sid: str, turn_key: str) -> Input:
    """What the Media Streams socket heard in this turn (nothing, if the socket found nothing)."""
    heard = calls.stream_result(get_db(), sid, turn_key)
    if heard is None:
        return Input()
    alternatives = tuple((a["text"], float(a.get("confidence") or 0.0)) for a in heard.get("alternatives", ()))
    decided = None
    if heard.get("decision"):  # the socket already decided, with the recognizer's own evidence
        decided = Match(heard["decision"], heard.get("key"), heard.get("intent"), float(heard.get("confidence") or 0.0),
                        heard.get("transcript", ""))
    return Input(digits=heard.get("digits", ""), alternatives=alternatives, source="stream", decided=decided)


@bp.post("/queue/wait")
def queue_wait() -> Response:
    sid = form.call_sid(request.form)
    call = known_call(sid)
    queue = request.args.get("queue", "")
    return twiml(queueing.wait(make_turn(call), queue, request.form))


@bp.post("/queue/result")
def queue_result() -> Response:
    sid = form.call_sid(request.form)
    call = known_call(sid)
    result = form.text(request.form, "QueueResult")
    return twiml(queueing.left_queue(make_turn(call), result))


@bp.post("/connect")
def connect() -> Response:
    """Where a REST update sends the caller once routing reserved an agent: ring the agent."""
    sid = form.call_sid(request.form)
    item, agent = _offer_args()
    return twiml(queueing.connect_twiml(make_turn(known_call(sid)), item, agent, current_app.config["RING_TIMEOUT_S"]))


@bp.post("/connect/result")
def connect_result() -> Response:
    """The <Dial> to the agent ended: completed, no-answer, busy, failed or canceled."""
    sid = form.call_sid(request.form)
    item, agent = _offer_args()
    dial_status = form.choice(request.form, "DialCallStatus", DIAL_STATUSES)
    return twiml(queueing.connect_result(make_turn(known_call(sid)), item, agent, dial_status))


@bp.post("/connect/agent")
def agent_leg() -> Response:
    """Status callbacks of the agent's leg (<Client statusCallback>): answered, completed."""
    form.call_sid(request.form)
    item, agent = _offer_args()
    parent = form.call_sid(request.form, "ParentCallSid") if request.form.get("ParentCallSid") else None
    queueing.agent_leg(get_db(), item, agent, form.call_status(request.form), parent)
    kick_routing()
    return Response(status=204)


DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})


def _offer_args() -> tuple[str, str]:
    item, agent = request.args.get("item", ""), request.args.get("agent", "")
    if not item or not agent or len(item) > 80 or len(agent) > 80:
        raise IvrError("item and agent are required in the query string")
    return item, agent


@bp.post("/status")
def status() -> Response:
    sid = form.call_sid(request.form)
    call_status = form.call_status(request.form)
    duration = form.whole(request.form, "CallDuration", 0)
    applied = calls.apply_status(get_db(), sid, call_status, duration or None)
    if applied:
        for hook in current_app.extensions.get("status_hooks", []):
            hook(get_db(), sid, call_status)
    return Response(status=204)
