"""rq jobs: importable functions that take ids, never objects."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioRestException

from callbacks import service
from ivr.twilio_client import rest_client
from store.db import connect

log = logging.getLogger(__name__)


@cache
def _config() -> dict[str, Any]:
    """The server's settings, resolved like the web process resolves them (same instance folder)."""
    from app import create_app

    return dict(create_app().config)


def place_callback(callback_id: int, agent_id: str) -> str | None:
    """Dial the customer of a callback whose agent is reserved; returns the placed call's SID (None: not ours to dial)."""
    config = _config()
    db = connect(config["DATABASE_PATH"])
    try:
        now = datetime.now(UTC)
        row = service.claim(db, callback_id, agent_id, now)
        if row is None:
            log.info("callback %s is not ours to dial (already claimed or no longer offered to %s)", callback_id, agent_id)
            return None
        base = config["BASE_URL"]
        query = urlencode({"callback": callback_id, "agent": agent_id})
        try:
            call = rest_client(config).calls.create(
                to=row["number"],
                from_=row["from_number"] or config["CALLBACK_CALLER_ID"],
                url=f"{base}/voice/callback/answer?{query}",
                status_callback=f"{base}/voice/callback/status?{query}",
                status_callback_event=["completed"],
                machine_detection="Enable",
                timeout=config["CALLBACK_RING_S"],
            )
        except TwilioRestException as exc:
            log.warning("callback %s: Twilio refused the call: %s", callback_id, exc)
            service.not_reached(db, callback_id, "failed", now, policy_from(config))
            return None
        service.placed(db, callback_id, call.sid)
        log.info("callback %s: dialling %s as %s for %s", callback_id, row["number"], call.sid, agent_id)
        return call.sid
    finally:
        db.conn.close()


def policy_from(config: dict[str, Any]) -> service.Policy:
    from callbacks.hours import parse

    return service.Policy(
        max_pending_per_number=config["MAX_PENDING_CALLBACKS_PER_NUMBER"],
        max_attempts=config["CALLBACK_MAX_ATTEMPTS"],
        retry_base_s=config["CALLBACK_RETRY_S"],
        hours=parse(config["OPENING_HOURS"], config["TIMEZONE"]),
    )
