"""``GET /events``: server-sent events with a fresh snapshot for the signed-in page whenever it changes.

Each connection polls a change marker every ``POLL_S`` (250 ms): SQLite's ``PRAGMA data_version``,
which moves whenever *any other connection in any process* commits. So changes made by another web
process, an rq worker or the routing ticker are seen within a poll, with no broker, however many web
processes there are. On a move the snapshot is rebuilt and sent only if it differs from the last one
(an IVR step elsewhere commits but changes nothing shown); at least every ``REFRESH_S`` a snapshot
goes out anyway, which refreshes wait estimates and proves the connection alive.

Supervisors get ``routing.desk.supervisor_snapshot``; agents get their own ``agent_snapshot`` plus whether
their phone rings (the agent leg's "ringing" report, kept on the offer). In local mode an agent's page
being open makes their simulated phone manual: it is answered from the page.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from flask import Blueprint, Response

from core.clock import iso
from routing import desk
from services.uow import Store
from store import desk as store_desk
from web.auth import ROLES, allow, current_user, guard
from web.context import services

log = logging.getLogger(__name__)

POLL_S = 0.25
REFRESH_S = 10.0

Snapshot = Callable[[sqlite_utils.Database, datetime], dict[str, Any]]

SUPERVISOR_PHONE = {"answers": True, "answer_after_s": 0.2, "talk_s": 8 * 3600.0, "manual": False}

bp = Blueprint("events", __name__)
bp.before_request(guard)


@bp.get("/events")
@allow(*ROLES)
def events() -> Response:
    user, svc = current_user(), services()
    if user["role"] == "supervisor":
        timezone = svc.config["TIMEZONE"]
        if svc.devices is not None:  # their simulated phone answers at once the calls they asked to monitor
            svc.devices.softphone(user["id"], **SUPERVISOR_PHONE)

        def snapshot(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
            return desk.supervisor_snapshot(db, now, timezone)

    else:
        agent_id = user["id"]
        if svc.devices is not None:
            svc.devices.softphone(agent_id, manual=True)

        def snapshot(db: sqlite_utils.Database, now: datetime) -> dict[str, Any]:
            found = desk.agent_snapshot(db, agent_id)
            calling_out = found["agent"]["presence"] == "reserved" and not found["offer"] and found["agent"]["current_call_sid"]
            return {**found, "ringing": bool(found["offer"] and found["offer"]["ringing_at"] or calling_out)}

    key = f"user:{user['id']}"
    svc.slots.take(key)  # refused at once (429/503) when over the limits
    response = Response(_stream(svc.store, snapshot), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: svc.slots.give_back(key))  # when the server closes it, however it ended
    return response


def _stream(store: Store, snapshot: Snapshot) -> Iterator[str]:
    """Snapshots as SSE messages, for as long as the browser listens."""
    db = store.connect()
    try:
        yield "retry: 1000\n\n"
        marker: Any = None
        last: dict[str, Any] | None = None
        sent = 0.0
        while True:
            now_marker = store_desk.data_version(db)
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
