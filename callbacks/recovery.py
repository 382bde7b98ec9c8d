"""Running callback recovery against the real Twilio client and queue (at start-up and every few seconds)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from callbacks import service
from callbacks.jobs import policy_from
from callbacks.queue import Backend
from store.db import connect

log = logging.getLogger(__name__)


def recovery(config: Mapping[str, Any], client: Any, backend: Backend) -> Callable[[], None]:
    """A function that runs ``service.recover`` once, asking Twilio's REST API about placed calls."""
    twilio = service.Twilio(
        call_log=lambda number, since: [c.sid for c in client.calls.list(to=number, start_time_after=since)],
        call_status=lambda sid: client.calls(sid).fetch().status,
    )
    policy = policy_from(dict(config))

    def run() -> None:
        db = connect(config["DATABASE_PATH"])
        try:
            counts = service.recover(db, datetime.now(UTC), twilio, backend.enqueue_place, policy,
                                     after_s=config["CALLBACK_RECOVER_AFTER_S"])
        finally:
            db.conn.close()
        if any(counts.values()):
            log.info("callback recovery: %s", counts)

    return run
