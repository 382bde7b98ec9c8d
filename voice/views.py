"""The call's webhooks: incoming, flow steps, the queue, ringing an agent, status callbacks.

Each is: verify the signature (``signature.verify``, before every view), parse the form, load what the
transition needs, ask the core, and apply its changes in one write transaction (``Store.run``: read and decided
outside the write lock, decided again under it if the call changed meanwhile), answer with TwiML. Webhooks that
only read (the wait music, ringing an agent) write nothing at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import sqlite_utils
from flask import Blueprint, Response, abort, jsonify, request

from callbacks import service as callbacks
from core import callback, queue
from core import calls as lifecycle
from core.constants import DIAL_STATUSES, QUEUE_RESULTS
from core.errors import BadRequest
from core.language import for_call as choose_language
from core.model import Call, Input, Match, turn_key
from core.numbers import callable_number, normalize
from core.ops import NewCaller
from core.queue import Wait
from core.turn import Turn
from routing import service as routing
from services.bootstrap import Services
from store import calls, transfers
from store import routing as routing_store
from store.exceptions import StoreUnavailable
from voice import form
from voice.journaled import arrived, call_as_kept, keep, kept_report, replay_id, waiting_in_journal
from voice.signature import verify
from web.context import services

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(verify)
bp.register_error_handler(StoreUnavailable, kept_report)

MAX_ID = 80


XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def twiml(turn: Turn) -> Response:
    """The turn's TwiML: the ``VoiceResponse`` tree serialized by ElementTree, as ``str(response)`` does it, but
    straight to text (the library's own path encodes to UTF-8 bytes through a codec writer and decodes them back)."""
    return Response(XML_DECLARATION + ElementTree.tostring(turn.response.xml(), encoding="unicode"), mimetype="text/xml")


def make_turn(svc: Services, call: Call, db: sqlite_utils.Database, now: datetime | None = None) -> Turn:
    """A turn of ``call``, with self-service lookups answered from ``db``."""

    def lookup(source: str, key: str) -> dict[str, Any] | None:
        if source == "queue":  # (read only when a caller is about to join a queue)
            return routing.queue_staffing(db, key)
        return calls.order(db, key) if source == "order_status" else None

    return Turn(call, svc.env, now or arrived(svc), lookup=lookup)


def load_call(db: sqlite_utils.Database, sid: str) -> Call | None:
    """The call as stored, or as the journal left it while its reports wait there."""
    return call_as_kept(services(), sid) or calls.load(db, sid)


def known_call(db: sqlite_utils.Database, sid: str) -> Call:
    call = load_call(db, sid)
    if call is None:
        raise BadRequest(f"unknown call {sid}; calls start at /voice/incoming")
    return call


def respond(svc: Services, decide: Callable[[sqlite_utils.Database], Turn], *, sid: str | None = None,
            answer: Callable[[Turn], Response] = twiml) -> Response:
    """Run the webhook's transition (applied in one write transaction, or none when it only reads) and answer.

    When the database cannot be written (or this call's earlier reports wait in the journal), the answer is the
    one decided on a snapshot, and the request is kept in the journal, to be applied later (``voice.journaled``)."""
    sid = sid or form.call_sid(form.params())
    if waiting_in_journal(svc, sid):
        turn = svc.store.decided(decide)
        if turn.writes:
            keep(svc, sid, turn)
        return answer(turn)
    try:
        turn = svc.store.run(decide, journal_id=replay_id())
    except StoreUnavailable as exc:
        if replay_id() is not None or not isinstance(exc.turn, Turn):
            raise
        log.warning("%s for call %s: %s; answered, and kept in the journal", request.path, sid, exc)
        keep(svc, sid, exc.turn)
        return answer(exc.turn)
    if replay_id() is None:
        svc.run(turn.commands)
    return answer(turn)


def no_content(turn: Turn) -> Response:
    """Reports (status callbacks) are answered with nothing."""
    return Response(status=204)


def caller_number(db: sqlite_utils.Database, call: Call, region: str) -> str | None:
    """The caller's number if we may call it back (valid, a landline or mobile), else None."""
    caller = calls.get_caller(db, call["caller_id"])
    number = caller["number"] if caller else None
    return number if number and callable_number(number, region) else None


def callback_allowed(svc: Services, db: sqlite_utils.Database, call: Call) -> bool:
    number = caller_number(db, call, svc.env.rules.default_region)
    return callback.may_offer(svc.env.rules, number, len(callbacks.pending_for(db, number)))


def waiting(db: sqlite_utils.Database, sid: str, now: datetime) -> Wait | None:
    estimate = routing.estimate(db, sid, now)
    return None if estimate is None else Wait(estimate.position, estimate.wait_s)


def agent_arg(name: str = "agent") -> str:
    """The agent (or supervisor) a webhook's query string names (``?agent=…``)."""
    agent = request.args.get(name, "")
    if not agent or len(agent) > MAX_ID:
        raise BadRequest(f"{name} is required in the query string")
    return agent


def offer_args() -> tuple[str, str]:
    item, agent = request.args.get("item", ""), request.args.get("agent", "")
    if not item or not agent or len(item) > MAX_ID or len(agent) > MAX_ID:
        raise BadRequest("item and agent are required in the query string")
    return item, agent


@bp.post("/incoming")
def incoming() -> Response:
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    number = normalize(params.get("From"), svc.env.rules.default_region)

    def decide(db: sqlite_utils.Database) -> Turn:
        now = arrived(svc)
        call, caller = load_call(db, sid), None
        if call is None:
            caller = calls.find_caller(db, number)
            rules = svc.env.rules
            language = choose_language(caller["language"] if caller else None,
                                       normalize(params.get("To"), rules.default_region), number,
                                       rules.number_languages, svc.flows.flows)
            call = lifecycle.new(
                sid, now, caller_id=caller["id"] if caller else None, from_number=form.text(params, "From")[:64],
                to_number=form.text(params, "To")[:64], direction=form.text(params, "Direction")[:32] or "inbound",
                status=form.text(params, "CallStatus")[:32] or "ringing", language=language,
                flow=svc.flows.name(svc.flows.language_for(language)))
        else:
            log.info("incoming webhook for %s repeated; starting its flow again", sid)
        pending = callbacks.pending_for(db, number)
        turn = make_turn(svc, call, db, now)
        if call.new and caller is None and number:  # a withheld number is nobody: no caller row for it
            turn.do(NewCaller(number))
        lifecycle.incoming(turn, pending[0] if pending else None)
        return turn

    return respond(svc, decide)


@bp.post("/step/<node>")
def step(node: str) -> Response:
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    attempt = form.whole(request.args, "attempt", 1, low=1, high=20)
    confirming = request.args.get("confirming") or None
    if confirming is not None and len(confirming) > 4:
        raise BadRequest("confirming names one menu key")
    via_stream = request.args.get("via") == "stream"
    inp = None if via_stream else gathered(params)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        lifecycle.step(turn, node, inp or stream_input(db, sid, turn_key(node, attempt, confirming)), attempt, confirming)
        return turn

    return respond(svc, decide)


def gathered(params: Mapping[str, str]) -> Input:
    """What a <Gather> collected: keys, or Twilio's own speech result."""
    speech = form.text(params, "SpeechResult")
    alternatives = ((speech, form.fraction(params, "Confidence")),) if speech else ()
    return Input(digits=form.digits(params), alternatives=alternatives, source="gather-speech" if speech else "dtmf")


def stream_input(db: sqlite_utils.Database, sid: str, key: str) -> Input:
    """What the Media Streams socket heard in this turn (nothing, if the socket found nothing)."""
    heard = calls.stream_result(db, sid, key)
    if heard is None:
        return Input()
    alternatives = tuple((a["text"], float(a.get("confidence") or 0.0)) for a in heard.get("alternatives", ()))
    decided = None
    if heard.get("decision"):  # the socket already decided, with the recognizer's own evidence
        decided = Match(heard["decision"], heard.get("key"), heard.get("intent"), float(heard.get("confidence") or 0.0),
                        heard.get("transcript", ""), dict(heard.get("scores") or {}))
    return Input(digits=heard.get("digits", ""), alternatives=alternatives, source="stream", decided=decided)


@bp.post("/queue/wait")
def queue_wait() -> Response:
    """The <Enqueue> waitUrl, requested again after each pass of the wait music."""
    svc = services()
    sid = form.call_sid(form.params())
    queue_time = form.whole(form.params(), "QueueTime", 0)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        queue.wait_music(turn, waiting(db, sid, turn.now), queue_time, callback_allowed(svc, db, turn.call))
        return turn

    return respond(svc, decide)


@bp.post("/queue/hold")
def queue_hold() -> Response:
    """Waiting outside Twilio's queue (it was full or failed): the wait music, looped."""
    svc = services()
    sid = form.call_sid(form.params())
    held = form.whole(request.args, "held", 0)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        if turn.call.ended:
            turn.response.hangup()
        else:
            queue.hold(turn, turn.call["queue"], waiting(db, sid, turn.now), held, callback_allowed(svc, db, turn.call))
        return turn

    return respond(svc, decide)


@bp.post("/queue/result")
def queue_result() -> Response:
    """<Enqueue>'s action: the caller left Twilio's queue (hung up, was moved on by us, or was never let in)."""
    svc = services()
    sid = form.call_sid(form.params())
    result = form.choice(form.params(), "QueueResult", QUEUE_RESULTS)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        queue.left_queue(turn, result, routing_store.item(db, sid), callback_allowed(svc, db, turn.call))
        return turn

    return respond(svc, decide)


@bp.post("/connect")
def connect() -> Response:
    """Where the REST redirect sends the caller once routing reserved an agent: ring the agent."""
    svc = services()
    sid = form.call_sid(form.params())
    item_id, agent = offer_args()

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        queue.connect(turn, routing_store.item(db, item_id), agent)
        return turn

    return respond(svc, decide)


@bp.post("/connect/result")
def connect_result() -> Response:
    """The <Dial> to the agent ended: talked, not answered, or the caller hung up while it rang."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    item_id, agent = offer_args()
    dial_status = form.choice(params, "DialCallStatus", DIAL_STATUSES)
    call_status = form.optional(params, "CallStatus", form.CALL_STATUSES)
    leg = form.optional_sid(params, "DialCallSid")

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        transfer = transfers.latest(db, sid)
        sender = routing_store.agent(db, transfer["from_agent"]) if transfer else None
        queue.dial_ended(turn, routing_store.item(db, item_id), routing_store.agent(db, agent), agent, dial_status,
                         call_status, leg, transfer, sender)
        return turn

    return respond(svc, decide)


@bp.post("/connect/agent")
def agent_leg() -> Response:
    """Status callbacks of the agent's leg (<Client statusCallback>): ringing, answered, completed."""
    svc, params = services(), form.params()
    leg = form.call_sid(params)
    item_id, agent = offer_args()
    status = form.call_status(params)
    parent = form.call_sid(params, "ParentCallSid")
    if load_call(svc.store.db(), parent) is None:
        log.info("agent leg of %s, which has no row: ignored", parent)
        return Response(status=204)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, parent), db)
        queue.agent_leg(turn, routing_store.item(db, item_id), routing_store.agent(db, agent), agent, status, leg,
                        transfers.open_for(db, parent))
        return turn

    return respond(svc, decide, sid=parent, answer=no_content)


@bp.post("/status")
def status() -> Response:
    """Status callbacks: each (call, status) is applied once (Twilio retries them)."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)
    call_status = form.call_status(params)
    duration = form.whole(params, "CallDuration", 0) or None
    db = svc.store.db()
    if waiting_in_journal(svc, sid) and call_as_kept(svc, sid) is None:  # a call we know nothing of yet
        keep(svc, sid)
        return Response(status=204)
    if calls.status_seen(db, sid, call_status):
        return Response(status=204)
    if load_call(db, sid) is None:
        with svc.store.unit() as unit:
            if unit.first_replay(replay_id()):
                unit.carry_out([lifecycle.record_status(sid, call_status, duration)], arrived(svc))
        return Response(status=204)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        if not calls.status_seen(db, sid, call_status):  # (seen again when it is decided again under the lock)
            lifecycle.status(turn, call_status, duration, routing_store.item(db, sid), routing_store.agent_on_call(db, sid),
                             transfers.open_for(db, sid))
        return turn

    return respond(svc, decide, answer=no_content)


RECORD = ("sid", "status", "direction", "language", "path", "intent", "queue", "agent_id", "outcome", "callback_id",
          "wait_s", "talk_s", "started_at", "ended_at")


@bp.get("/calls/<sid>/record")
def record(sid: str) -> Response:
    """What the server recorded about a call, for the simulator's `--json` summary (signed like every voice request)."""
    call = calls.get_call(services().store.db(), form.call_sid({"CallSid": sid}))
    if call is None:
        abort(404, f"no call {sid}")
    return jsonify({k: call[k] for k in RECORD})
