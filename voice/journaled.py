"""Webhooks the database could not take: kept in the journal (``services.journal``), answered all the same, and
replayed through the same views when it can be written again.

A webhook whose write fails with StoreUnavailable answers with the TwiML it decided on a snapshot (the caller
hears the next menu, the queue, …) and keeps its request; a report (status callbacks) answers 204 and is kept.
While a call has reports in the journal, its next webhooks are kept too, after them, and decided on the call as
the journal left it. The replay runs each request in process (``replayer``), marked in the WSGI environ, which
nothing from the network can set: the signature was checked when it arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, Response, jsonify, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.datastructures import MultiDict

from core.clock import iso, parse_time
from core.model import Call
from core.turn import Turn
from services.bootstrap import Services
from services.journal import Entry, StillUnavailable
from store.exceptions import StoreUnavailable
from voice import form
from web.context import services

log = logging.getLogger(__name__)

REPLAY = "northwind.journal_replay"  # WSGI environ keys: the id of the journal entry being replayed,
REPLAY_AT = "northwind.journal_at"  # and when its webhook arrived
REPORTS = frozenset({"/voice/status", "/voice/connect/agent", "/voice/callback/status", "/voice/conference/events",
                     "/voice/conference/monitor", "/voice/transfer/leg"})  # answered 204
APOLOGY = "Sorry, we are having a problem on our side. Please stay on the line, or call again in a moment."


def replay_id() -> str | None:
    """The journal entry this request replays, or None for a request from Twilio."""
    return request.environ.get(REPLAY)


def arrived(svc: Services) -> datetime:
    """When this webhook arrived: now, or for a replayed one, when it first came (the journal keeps that)."""
    at = request.environ.get(REPLAY_AT)
    return parse_time(at) if at else svc.clock()


def waiting_in_journal(svc: Services, sid: str) -> bool:
    """Are reports of this call still waiting in the journal (so this one must wait after them)?"""
    return replay_id() is None and svc.journal.has(sid)


def call_as_kept(svc: Services, sid: str) -> Call | None:
    """The call as its latest journaled webhook left it (None on a replay, or with nothing kept)."""
    if replay_id() is not None:
        return None
    row = svc.journal.pending_call(sid)
    return None if row is None else Call(dict(row))


def keep(svc: Services, sid: str, turn: Turn | None = None) -> None:
    """Keep this request in the journal, with the call as ``turn`` left it; a journal that cannot be written
    either is said loudly (the report is lost), never answered with an error the caller would hear."""
    entry = Entry.of(iso(svc.clock()), sid, request.path, request.query_string.decode(), list(form.sent()),
                     turn.call.snapshot() if turn is not None else None)
    try:
        svc.journal.append(entry)
    except OSError as exc:
        log.error("LOST: %s for call %s: the database cannot be written and the journal %s neither (%s)",
                  request.path, sid, svc.journal.path, exc)


def kept_report(error: StoreUnavailable) -> Response | tuple[Response, int]:
    """The error handler of the voice blueprints for StoreUnavailable that no view answered itself."""
    if replay_id() is not None:
        return jsonify(error=str(error), status=503), 503
    svc = services()
    log.warning("%s: %s", request.path, error)
    keep(svc, _kept_sid())
    if request.path in REPORTS:
        return Response(status=204)
    response = VoiceResponse()
    response.say(APOLOGY)
    response.pause(length=2)
    response.hangup()
    return Response(str(response), mimetype="text/xml")


def _kept_sid() -> str:
    """The caller's call a webhook is about: named in the query by the webhooks of other legs (``?call=``: the
    agent's, a colleague's or a supervisor's leg, the room's own reports), the parent of an agent's leg, else the
    form's CallSid."""
    if "call" in request.args:
        return form.call_sid(request.args, "call")
    return form.call_sid(form.params(), "ParentCallSid" if request.path == "/voice/connect/agent" else "CallSid")


def replayer(app: Flask) -> Callable[[Entry], None]:
    """Run a journaled webhook again through the app, in process; StillUnavailable while the store still fails."""
    client = app.test_client()

    def replay(entry: Entry) -> None:
        response = client.post(entry.path, query_string=entry.query, data=MultiDict(entry.form),
                               environ_overrides={REPLAY: entry.id, REPLAY_AT: entry.at})
        if response.status_code == 503:
            raise StillUnavailable(response.get_data(as_text=True)[:200])
        if response.status_code >= 400:
            log.warning("journaled %s for call %s was refused on replay (%s): %s", entry.path, entry.sid,
                        response.status_code, response.get_data(as_text=True)[:200])

    return replay
