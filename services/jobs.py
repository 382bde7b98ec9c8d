"""rq jobs: importable functions that take ids, run with the services of the worker that runs them."""

from __future__ import annotations

import logging

from callbacks import service as callbacks
from core.numbers import mask
from services import jobqueue
from services.bootstrap import Services
from telephony.exceptions import TelephonyError, Unreachable

log = logging.getLogger(__name__)

MACHINE_DETECTION = "DetectMessageEnd"  # wait for a machine's greeting to end, so a message is left after the beep


def services() -> Services:
    found = jobqueue.current()
    if found is None:
        raise RuntimeError("jobs run in our workers (make worker, or the embedded one), which give them their services")
    return found


def place_callback(callback_id: int, agent_id: str) -> str | None:
    """Dial the customer of a callback whose agent is reserved; the placed call's SID (None: not ours to dial)."""
    svc = services()
    db = svc.store.connect()  # a forked work horse must not share its parent's connection
    try:
        now = svc.clock()
        row = callbacks.claim(db, callback_id, agent_id, now)
        if row is None:
            log.info("callback %s is not ours to dial (already claimed or no longer offered to %s)", callback_id, agent_id)
            return None
        urls = svc.env.urls
        try:
            sid = svc.telephony.place_call(
                row["number"], row["from_number"] or svc.config["CALLBACK_CALLER_ID"],
                url=urls.callback_answer(callback_id, agent_id), status_callback=urls.callback_status(callback_id, agent_id),
                timeout_s=svc.config["CALLBACK_RING_S"], machine_detection=MACHINE_DETECTION)
        except Unreachable:
            raise  # rq retries the job; the claim keeps it from dialling twice, recovery resets a claim left behind
        except TelephonyError as exc:
            log.warning("callback %s: the call was refused: %s", callback_id, exc)
            callbacks.not_reached(db, callback_id, "failed", now, svc.policy)
            return None
        callbacks.placed(db, callback_id, sid)
        log.info("callback %s: dialling %s as %s for %s", callback_id, mask(row["number"]), sid, agent_id)
        return sid
    finally:
        db.conn.close()


def render_prompt(text: str, language: str) -> str:
    """Render one prompt's audio (8 kHz μ-law WAV) into the prompt cache."""
    return services().prompts.render(text, language)
