"""JSON API for the agent and supervisor pages."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from store import calls
from store.db import parse_time
from store.web import get_db

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def local_only() -> None:
    """Until sign-in exists, the API answers only on this machine in local mode."""
    if not current_app.config["LOCAL_MODE"] or request.remote_addr not in ("127.0.0.1", "::1"):
        abort(403, "the API is available only locally until sign-in is configured")


def call_context(db: Any, sid: str) -> dict[str, Any]:
    """Everything the agent sees before saying hello: caller, this call's IVR journey, wait, routing reason, history."""
    call = calls.get_call(db, sid)
    caller = db["callers"].get(call["caller_id"]) if call["caller_id"] else {}
    started = parse_time(call["queued_at"] or call["started_at"])
    waited = call["wait_s"] if call["wait_s"] is not None else (datetime.now(timezone.utc) - started).total_seconds() if started else None
    keep = ("sid", "direction", "language", "path", "digits", "speech", "intent", "confidence", "transcript", "queue",
            "agent_id", "routing_reason", "started_at", "queued_at", "connected_at", "outcome", "callback_id", "parent_sid")
    return {
        "caller": {k: caller.get(k) for k in ("id", "name", "number", "language", "notes")},
        "call": {**{k: call.get(k) for k in keep}, "wait_s": waited},
        "history": calls.caller_history(db, call["caller_id"], before_sid=sid) if call["caller_id"] else [],
        "open_orders": calls.open_orders(db, call["caller_id"]) if call["caller_id"] else [],
    }


@bp.get("/calls/<sid>/context")
def context(sid: str) -> Response:
    return jsonify(call_context(get_db(), sid))
