"""``GET /events``: server-sent events with a fresh snapshot for the signed-in page whenever it changes.

Each connection polls a change marker every ``POLL_S`` (250 ms): SQLite's ``PRAGMA data_version``,
which moves whenever *any other connection in any process* commits. So changes made by another web
process, an rq worker or the routing ticker are seen within a poll, with no broker, however many web
processes there are. On a move the snapshot is rebuilt and sent only if it differs from the last one
(an IVR step elsewhere commits but changes nothing shown); at least every ``REFRESH_S`` a snapshot
goes out anyway, which refreshes wait estimates and proves the connection alive.

Supervisors get ``routing.desk.supervisor_snapshot``; agents get their own ``agent_snapshot`` plus, in
local mode, the call ringing their simulated phone (which lives in this process, not in SQLite).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from flask import Blueprint, Response, current_app

from routing import desk
from store import desk as store_desk
from store.db import connect
from store.routing import iso
from web import softphone
from web.auth import ROLES, allow, current_user, guard

log = logging.getLogger(__name__)

POLL_S = 0.25
REFRESH_S = 10.0

Snapshot = Callable[[sqlite_utils.Database, datetime], dict[str, Any]]

bp = Blueprint("events", __name__)
bp.before_request(guard)


@bp.get("/events")
@allow(*ROLES)
def events() -> Response:
    user = current_user()
    config = current_app.config
    if user["role"] == "supervisor":
        timezone = config["TIMEZONE"]

        def snapshot(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
            return desk.supervisor_snapshot(db, now, timezone)

        stream = _stream(config["DATABASE_PATH"], snapshot, _nothing)
    else:
        agent_id = user["id"]
        phone = softphone.simulated_phone(agent_id) if config["LOCAL_MODE"] else None

        def ringing() -> str | None:
            return phone.ringing_call if phone else None

        def snapshot(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
            return {**desk.agent_snapshot(db, agent_id), "ringing": ringing()}

        stream = _stream(config["DATABASE_PATH"], snapshot, ringing)
    return Response(stream, mimetype="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _nothing() -> None:
    """No state outside SQLite to watch."""


def _stream(database_path: str, snapshot: Snapshot, local: Callable[[], Any]) -> Iterator[str]:
    """Snapshots as SSE messages, for as long as the browser listens; ``local()`` is state kept outside SQLite."""
    db = connect(database_path)
    try:
        yield "retry: 1000\n\n"
        marker: Any = None
        last: dict[str, Any] | None = None
        sent = 0.0
        while True:
            now_marker = (store_desk.data_version(db), local())
            stale = time.monotonic() - sent >= REFRESH_S
            if now_marker != marker or stale:
                marker = now_marker
                now = datetime.now(UTC)
                body = snapshot(db, now)
                if body != last or stale:
                    yield f"data: {json.dumps({'now': iso(now), **body}, ensure_ascii=False)}\n\n"
                    last, sent = body, time.monotonic()
            time.sleep(POLL_S)
    finally:
        db.conn.close()
