"""``WS /voice/voicemail``: a caller's message over a Twilio Media Stream, kept on our disk (never Twilio's
``<Record>``, which stores the audio at Twilio), transcribed with Vosk where a model exists, and listed for
agents and supervisors as a task to call back. ``POST /voice/voicemail/done`` is the <Connect> action: thanks.

The stream's start carries the call's per-turn token (turn "voicemail"), as menu streams do.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response
from simple_websocket import ConnectionClosed

from core.clock import iso
from core.numbers import callable_number
from core.stream_tokens import StreamRefused
from ivr.engine import VOICEMAIL_TURN
from services.bootstrap import Services
from speech import models
from speech.exceptions import SpeechError
from speech.recording import Recording, transcribe, write_wav
from store import calls, voicemails
from voice import form
from voice.media import RECEIVE_TIMEOUT_S, START_WAIT_S, in_a_slot, sock
from voice.signature import verify
from voice.views import known_call, make_turn, respond
from web.context import services
from wire.mulaw import SAMPLE_RATE

log = logging.getLogger(__name__)

bp = Blueprint("voicemail", __name__, url_prefix="/voice")
bp.before_request(verify)

NO_SPEECH_S = 10.0  # a message that has not begun after this long is over


@sock.route("/voicemail", bp=bp)
def voicemail(ws: Any) -> None:
    """One caller's message."""
    in_a_slot(ws, "voicemail stream", record)


def record(svc: Services, ws: Any) -> None:
    """Receive until the message is over (key, silence, length, hang-up), then keep it and close the socket."""
    recording = Recording(max_s=svc.config["VOICEMAIL_MAX_S"], silence_end_s=svc.config["VOICEMAIL_SILENCE_S"],
                          no_speech_s=NO_SPEECH_S)
    opened = time.monotonic()
    while recording.ended is None:
        if recording.start is None and time.monotonic() - opened > START_WAIT_S:
            log.warning("voicemail stream sent no start within %s s: closed", START_WAIT_S)
            return
        if time.monotonic() - opened > recording.max_s + 30:  # a peer that sends nothing more
            recording.ended = "timeout"
            break
        try:
            message = ws.receive(timeout=RECEIVE_TIMEOUT_S)
        except ConnectionClosed:
            recording.ended = "hung up"
            break
        if message is not None:
            recording.receive(message)
    if recording.start is not None:
        keep(svc, recording)
    ws.close()


def keep(svc: Services, recording: Recording) -> None:
    """The WAV on disk, its transcript, the voicemail row and the call's event: a message is never lost."""
    start = recording.start or {}
    call_sid = str(start.get("callSid", ""))
    db = svc.store.connect()
    try:
        try:
            token = svc.env.tokens.check(call_sid, VOICEMAIL_TURN, start.get("customParameters") or {}, svc.clock())
        except StreamRefused as exc:
            log.warning("voicemail refused: %s", exc)
            return
        call = calls.load(db, call_sid)
        if call is None or not recording.spoke_ms:
            log.info("voicemail of %s: nothing to keep (%s)", call_sid, recording.ended)
            return
        pcm = recording.pcm
        seconds = round(pcm.size / SAMPLE_RATE, 2)
        path = Path(svc.config["VOICEMAIL_DIR"]) / f"{call_sid}.wav"
        language = svc.flows.language_for(call["language"])
        with svc.store.unit(db):
            if not calls.use_stream_token(db, token, iso(svc.clock())):  # one message per token, as menu streams
                log.warning("voicemail refused: stream start for %s with a token used before", call_sid)
                return
        write_wav(path, pcm)
        text = message_text(svc, language, pcm)
        with svc.store.unit(db):
            call = calls.load(db, call_sid)
            number = callable_number(call["from_number"] or "", svc.env.rules.default_region)
            voicemail_id = voicemails.add(db, {
                "call_sid": call_sid, "caller_id": call["caller_id"], "number": number, "language": language,
                "queue": call["queue"], "path": str(path), "seconds": seconds, "transcript": text,
                "ended_by": recording.ended, "created_at": iso(svc.clock())})
            call.set(outcome="voicemail")
            call.log("voicemail", {"voicemail_id": voicemail_id, "seconds": seconds,
                                   "ended_by": recording.ended})
            calls.save(db, call)
        log.info("voicemail %s of %s kept: %.1f s, ended by %s", voicemail_id, call_sid, seconds,
                 recording.ended)
    finally:
        db.conn.close()


def message_text(svc: Services, language: str, pcm: np.ndarray) -> str | None:
    """The transcript (None without a model for the language, or with STORE_TRANSCRIPTS=false)."""
    if language not in svc.speech_languages or not svc.env.rules.store_transcripts:
        return None
    try:
        return transcribe(models.get_model(language, svc.config), pcm)
    except SpeechError as exc:
        log.warning("voicemail not transcribed: %s", exc)
        return None


@bp.post("/voicemail/done")
def done() -> Response:
    """The <Connect> action after the message: thanks, goodbye."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)

    def decide(db: Any) -> Any:
        turn = make_turn(svc, known_call(db, sid), db)
        turn.hang_up("voicemail_thanks")
        return turn

    return respond(svc, decide)
