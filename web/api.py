"""JSON API of the agent and supervisor pages (signed in; roles agent and supervisor; CSRF on writes)."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_file
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotFound

from core import calls as lifecycle
from core.clock import iso, parse_time
from core.conference import MONITOR_MODES
from core.constants import LANGUAGES
from core.numbers import callable_number, required
from core.transfer import MAX_NOTE_CHARS, TRANSFER_MODES
from routing import desk, reports, service, staffing
from services import monitor, outbound, transfer
from store import calls, privacy, transfers, voicemails
from store import desk as store_desk
from store import routing as store_routing
from store.db import transaction
from web import softphone
from web.auth import ROLES, allow, current_user, guard
from web.context import services

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 200

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(guard)


def body() -> dict[str, Any]:
    """The request's JSON object (or form fields)."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


def call_context(db: Any, sid: str) -> dict[str, Any]:
    """Everything the agent sees before saying hello: caller, this call's IVR journey, wait, routing reason, history."""
    call = calls.get_call(db, sid)
    if call is None:
        abort(404, f"no call {sid}")
    caller = calls.get_caller(db, call["caller_id"]) or {}
    started = parse_time(call["queued_at"] or call["started_at"])
    waited = call["wait_s"] if call["wait_s"] is not None else (datetime.now(UTC) - started).total_seconds() if started else None
    keep = ("sid", "direction", "language", "path", "digits", "speech", "intent", "confidence", "transcript", "queue",
            "agent_id", "routing_reason", "started_at", "queued_at", "connected_at", "outcome", "callback_id", "parent_sid",
            "notes", "disposition")
    return {
        "caller": {k: caller.get(k) for k in ("id", "name", "number", "language", "notes")},
        "call": {**{k: call.get(k) for k in keep}, "wait_s": waited},
        "history": calls.caller_history(db, call["caller_id"], before_sid=sid) if call["caller_id"] else [],
        "open_orders": calls.open_orders(db, call["caller_id"]) if call["caller_id"] else [],
        "callback_for": _original_call(db, call),
        "transfer": _sent_by(db, latest) if (latest := transfers.latest(db, sid)) else None,
    }


def _sent_by(db: Any, transfer: dict[str, Any]) -> dict[str, Any]:
    """The call's last transfer for the screen pop, with the sender's name."""
    sender = store_routing.agent(db, transfer["from_agent"])
    return {**_transfer_json(transfer), "from_name": sender["name"] if sender else transfer["from_agent"]}


def _original_call(db: Any, call: dict[str, Any]) -> dict[str, Any] | None:
    """For a callback call: the call on which the caller asked for it ("callback for the call at 10:42")."""
    if not call["callback_id"] or not call["parent_sid"]:
        return None
    original = calls.get_call(db, call["parent_sid"])
    return {"sid": original["sid"], "started_at": original["started_at"], "intent": original["intent"]} if original else None


@bp.get("/calls/<sid>/context")
@allow(*ROLES)
def context(sid: str) -> Response:
    """The screen pop. Agents see calls offered to them or handled by them; supervisors see every call."""
    db, user = services().store.db(), current_user()
    if user["role"] == "agent" and not store_desk.agent_may_see_call(db, user["id"], sid):
        raise Forbidden("this call was neither offered to you nor handled by you")
    return jsonify(call_context(db, sid))


@bp.post("/calls/<sid>/wrapup")
@allow("agent")
def wrapup(sid: str) -> Response:
    """Notes and disposition of a call the agent handled."""
    data, user, store = body(), current_user(), services().store
    with store.unit() as unit:
        call = calls.load(unit.db, sid)
        if call is None or call["agent_id"] != user["id"]:
            raise Forbidden("you can write notes only on calls you handled")
        lifecycle.wrapup(call, data.get("notes"), data.get("disposition") or None)
        calls.save(unit.db, call)
    return jsonify(ok=True)


@bp.post("/calls/outbound")
@allow("agent")
def call_out() -> Response:
    """Click-to-call: the agent's phone rings, and once they answer the customer is dialled with our caller ID.
    ``{"to": "+E164"}``, and optionally the ``queue`` the call counts in (its wrap-up); the agent must be available."""
    data, svc = body(), services()
    raw = data.get("to")
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("give the number to call as to, in E.164 form, e.g. +12025550123")
    number = callable_number(required(raw, svc.env.rules.default_region), svc.env.rules.default_region)
    if number is None:
        raise BadRequest(f"{raw[:40]!r} is not a number we call (only landlines and mobiles)")
    queue = data.get("queue") or None
    if queue is not None and (not isinstance(queue, str) or len(queue) > MAX_REASON_CHARS):
        raise BadRequest("queue is the name of a queue")
    sid = outbound.place(svc, current_user()["id"], number, queue)
    return jsonify(call_sid=sid, to=number), 201


@bp.post("/calls/<sid>/transfer")
@allow("agent")
def transfer_call(sid: str) -> Response:
    """Hand the call you are talking on to a queue or a colleague: ``{"to_queue": name}`` or ``{"to_agent": id}``,
    ``"mode": "cold" | "warm"``, and a ``note`` for whoever takes it."""
    data = body()
    to_queue, to_agent, mode, note = data.get("to_queue"), data.get("to_agent"), data.get("mode", "cold"), data.get("note") or ""
    if (to_queue is None) == (to_agent is None) or not isinstance(to_queue or to_agent, str) or len(to_queue or to_agent) > MAX_REASON_CHARS:
        raise BadRequest("give either to_queue (a queue's name) or to_agent (a colleague's id)")
    if mode not in TRANSFER_MODES:
        raise BadRequest(f"mode must be one of {', '.join(TRANSFER_MODES)}")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise BadRequest(f"note is text of at most {MAX_NOTE_CHARS} characters")
    row = transfer.start(services(), current_user()["id"], sid, to_queue=to_queue, to_agent=to_agent, mode=mode,
                         note=note.strip())
    return jsonify(_transfer_json(row))


@bp.post("/calls/<sid>/transfer/<action>")
@allow("agent")
def end_transfer(sid: str, action: str) -> Response:
    """Complete the warm transfer (the caller to the colleague; you leave), or cancel it (back to the caller)."""
    steps = {"complete": transfer.complete, "cancel": transfer.cancel}
    if action not in steps:
        raise NotFound("a warm transfer can be completed or canceled")
    return jsonify(_transfer_json(steps[action](services(), current_user()["id"], sid)))


def _transfer_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("id", "call_sid", "mode", "from_agent", "to_agent", "to_queue", "note", "state")}


@bp.get("/colleagues")
@allow("agent")
def colleagues() -> Response:
    """Whom a call can be transferred to: the other agents (with their state) and the queues."""
    db, me = services().store.db(), current_user()["id"]
    agents = [{"id": a["id"], "name": a["name"], "presence": a["presence"]}
              for a in store_routing.agents(db) if a["id"] != me and a["role"] == "agent"]
    return jsonify(agents=agents, queues=[q["name"] for q in store_routing.queues(db)])


@bp.post("/calls/<sid>/monitor")
@allow("supervisor")
def monitor_call(sid: str) -> Response:
    """Listen to (muted), whisper to (only the agent hears), barge into (everyone hears) or leave a live call:
    ``{"mode": "listen" | "whisper" | "barge" | "leave"}``. The supervisor's phone rings into the call."""
    mode = body().get("mode")
    if mode not in MONITOR_MODES:
        raise BadRequest(f"mode must be one of {', '.join(MONITOR_MODES)}")
    return jsonify(call_sid=sid, **monitor.monitor(services(), current_user()["id"], sid, mode))


@bp.post("/presence")
@allow("agent")
def own_presence() -> Response:
    """The agent sets themself available, on a break or offline."""
    return _set_presence(current_user()["id"], body())


@bp.post("/me/language")
@allow(*ROLES)
def page_language() -> Response:
    """The language the signed-in person reads the pages in, kept on their account."""
    language = body().get("language")
    if language not in LANGUAGES:
        raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}")
    store_desk.set_ui_language(services().store.db(), current_user()["id"], language)
    return jsonify(language=language)


@bp.post("/agents/<agent_id>/presence")
@allow("supervisor")
def force_presence(agent_id: str) -> Response:
    """A supervisor forces an agent's state, also when reserved or on a call (audited as a "forced" event)."""
    return _set_presence(agent_id, body(), forced_by=current_user()["id"])


def _set_presence(agent_id: str, data: dict[str, Any], forced_by: str | None = None) -> Response:
    presence = data.get("presence")
    if presence not in desk.PRESENCES:
        raise BadRequest(f"presence must be one of {', '.join(desk.PRESENCES)}")
    svc = services()
    reason = data.get("reason") or None
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
        raise BadRequest(f"reason is a text of at most {MAX_REASON_CHARS} characters")
    service.set_presence(svc.store.db(), agent_id, presence, svc.clock(), reason=reason, forced_by=forced_by)
    svc.ticker.kick()
    return jsonify(agent=agent_id, presence=presence)


@bp.post("/agents/<agent_id>/skills")
@allow("supervisor")
def skills(agent_id: str) -> Response:
    """Replace an agent's skills: {"skills": {"billing": 4, ...}}."""
    levels = body().get("skills")
    if not isinstance(levels, dict):
        raise BadRequest('expected {"skills": {"skill": level, ...}}')
    svc = services()
    changed = desk.set_skills(svc.store.db(), agent_id, levels, svc.clock())
    svc.ticker.kick()
    return jsonify(agent=agent_id, skills=changed)


@bp.get("/callers/<path:number>/export")
@allow("supervisor")
def export_caller(number: str) -> Response:
    """Everything held on one caller, as JSON (data protection: the caller's right of access)."""
    found = privacy.export(services().store.db(), caller_number(number))
    if found is None:
        abort(404, "no caller with that number")
    log.info("supervisor %s exported the data of a caller", current_user()["id"])
    return jsonify(found)


@bp.post("/callers/<path:number>/forget")
@allow("supervisor")
def forget_caller(number: str) -> Response:
    """Erase what is personal about one caller ({"confirm": true}); audited, the figures stay."""
    if body().get("confirm") is not True:
        raise BadRequest('forgetting a caller cannot be undone: send {"confirm": true}')
    svc = services()
    done = privacy.forget(svc.store.db(), caller_number(number), iso(svc.clock()), current_user()["id"])
    if done is None:
        abort(404, "no caller with that number")
    return jsonify(forgotten=True, **done)


@bp.get("/voicemails")
@allow(*ROLES)
def voicemail_list() -> Response:
    """Callers' messages: the open ones (to call back), then the latest done."""
    return jsonify(voicemails=voicemails.listed(services().store.db()))


@bp.get("/voicemails/<int:voicemail_id>/audio")
@allow(*ROLES)
def voicemail_audio(voicemail_id: int) -> Response:
    """The message as the caller left it (WAV, 8 kHz), from our own disk."""
    row = voicemails.get(services().store.db(), voicemail_id)
    folder = Path(services().config["VOICEMAIL_DIR"]).resolve()
    path = Path(row["path"]).resolve() if row else None
    if path is None or folder not in path.parents or not path.is_file():
        abort(404, "no such message")
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@bp.post("/voicemails/<int:voicemail_id>/done")
@allow(*ROLES)
def voicemail_done(voicemail_id: int) -> Response:
    """The caller has been called back: the message leaves the open list."""
    svc = services()
    db = svc.store.db()
    if voicemails.get(db, voicemail_id) is None:
        abort(404, "no such message")
    with transaction(db):
        changed = voicemails.mark_done(db, voicemail_id, current_user()["id"], iso(svc.clock()))
    if not changed:
        raise Conflict("this message is already done")
    log.info("%s marked voicemail %s done", current_user()["id"], voicemail_id)
    return jsonify(done=True)


@bp.get("/reports/intervals")
@allow("supervisor")
def report_intervals() -> Response:
    """The historical report (routing/reports.py) as JSON, or as CSV with ``format=csv``."""
    svc, args = services(), request.args
    period = reports.Period.parse(args.get("from", ""), args.get("to", ""), args.get("interval", "day"),
                                  svc.config["TIMEZONE"])
    by = args.get("by", "queue")
    rows = reports.report(svc.store.db(), period, svc.clock(), by=by, queue=args.get("queue") or None)
    if args.get("format", "json") == "csv":
        return csv_response(rows, by, f"report-{period.first}-{period.last}-{args.get('interval', 'day')}.csv")
    if args.get("format", "json") != "json":
        raise BadRequest("format is json or csv")
    return jsonify(timezone=svc.config["TIMEZONE"], rows=rows)


def csv_response(rows: list[dict[str, Any]], by: str, filename: str) -> Response:
    """The rows as a CSV file, columns in the report's order."""
    columns = ["interval_start", *(("queue",) if by == "queue" else ("agent", "agent_name")),
               *(reports.QUEUE_COLUMNS if by == "queue" else reports.AGENT_COLUMNS)]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/reports/staffing")
@allow("supervisor")
def report_staffing() -> Response:
    """Agents needed per interval of a day for one queue (routing/staffing.py)."""
    svc, args = services(), request.args
    try:
        day = date.fromisoformat(args["day"]) if args.get("day") else reports.local_date(svc.clock(), svc.config["TIMEZONE"])
        minutes = int(args.get("interval", "30"))
    except ValueError:
        raise BadRequest("day is a date (YYYY-MM-DD) and interval 15, 30 or 60") from None
    if minutes not in (15, 30, 60):
        raise BadRequest("interval is 15, 30 or 60")
    queue = args.get("queue") or ""
    return jsonify(staffing.advice(svc.store.db(), queue, day, svc.clock(), svc.config["TIMEZONE"], minutes))


def caller_number(raw: str) -> str:
    return required(raw, services().env.rules.default_region)


@bp.post("/softphone/<action>")
@allow("agent")
def softphone_action(action: str) -> Response:
    """Local mode: answer, reject or hang up on the agent's simulated phone."""
    user = current_user()
    agent = store_routing.agent(services().store.db(), user["id"])
    softphone.act(user["id"], action, agent["presence"])
    return jsonify(ok=True)


@bp.post("/softphone/token")
@allow(*ROLES)
def softphone_token() -> Response:
    """With Twilio: a Voice SDK access token for the signed-in agent (or supervisor: monitoring rings it)."""
    token = softphone.access_token(services().config, current_user()["id"])
    response = jsonify(token=token, identity=current_user()["id"], ttl_s=softphone.TOKEN_TTL_S)
    response.headers["Cache-Control"] = "no-store"
    return response
