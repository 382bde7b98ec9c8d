"""rq jobs: importable functions that take ids, run with the services of the worker that runs them."""

from __future__ import annotations

import json
import logging
import time

import requests

from callbacks import service as callbacks
from core.clock import iso
from core.numbers import mask
from routing import alerts
from services import jobqueue
from services.bootstrap import Services
from store import alerts as store_alerts
from store.db import transaction
from telephony.exceptions import TelephonyError, Unreachable

log = logging.getLogger(__name__)

ALERT_TIMEOUT_S = 5
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


def deliver_alert(delivery_id: int) -> bool:
    """POST one alert change to ALERT_WEBHOOK_URL, signed; a failure is kept and tried again later (the ticker)."""
    svc = services()
    db = svc.store.connect()
    try:
        row = store_alerts.delivery(db, delivery_id)
        if row is None or row["delivered_at"]:
            return False
        body = json.dumps(alerts.payload(row), separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        try:
            answer = requests.post(svc.config["ALERT_WEBHOOK_URL"], data=body, timeout=ALERT_TIMEOUT_S, headers={
                "Content-Type": "application/json", "X-Alert-Id": f"{row['alert_id']}-{row['state']}",
                "X-Alert-Timestamp": stamp, "X-Alert-Signature": alerts.signature(svc.config["ALERT_WEBHOOK_SECRET"],
                                                                                  stamp, body)})
            answer.raise_for_status()
        except requests.RequestException as exc:
            retry = alerts.next_attempt(row["attempts"] + 1, svc.clock())
            with transaction(db):
                store_alerts.delivery_failed(db, delivery_id, str(exc), iso(retry) if retry else None)
            log.warning("alert %s %s not delivered (attempt %s): %s; %s", row["alert_id"], row["state"],
                        row["attempts"] + 1, exc, f"again at {iso(retry)}" if retry else "given up")
            return False
        with transaction(db):
            store_alerts.delivered(db, delivery_id, iso(svc.clock()))
        log.info("alert %s %s delivered", row["alert_id"], row["state"])
        return True
    finally:
        db.conn.close()


def render_prompt(text: str, language: str) -> str:
    """Render one prompt's audio (8 kHz μ-law WAV) into the prompt cache."""
    return services().prompts.render(text, language)
