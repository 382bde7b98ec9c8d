"""Transfer webhooks (``core.transfer``): the caller moved by a cold transfer, the caller's hold music during a warm
one, and the status of the colleague's leg into the call's conference."""

from __future__ import annotations

import sqlite_utils
from flask import Blueprint, Response

from core import transfer
from core.turn import Turn
from store import routing as routing_store
from store import transfers
from store.exceptions import StoreUnavailable
from voice import form
from voice.conference import call_arg
from voice.journaled import kept_report
from voice.signature import verify
from voice.views import agent_arg, known_call, make_turn, no_content, respond
from web.context import services

bp = Blueprint("transfer", __name__, url_prefix="/voice/transfer")
bp.before_request(verify)
bp.register_error_handler(StoreUnavailable, kept_report)


def _sender(db: sqlite_utils.Database, row: dict | None) -> dict | None:
    return routing_store.agent(db, row["from_agent"]) if row else None


@bp.post("/caller")
def caller() -> Response:
    """The caller, redirected out of their agent's Dial by a cold transfer: back in line, or ringing the colleague."""
    svc, params = services(), form.params()
    sid = form.call_sid(params)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        row = transfers.open_for(db, sid)
        colleague = routing_store.agent(db, row["to_agent"]) if row and row["to_agent"] else None
        transfer.arrived(turn, row, colleague, _sender(db, row))
        return turn

    return respond(svc, decide)


@bp.post("/hold")
def hold() -> Response:
    """The caller's hold music while their agent consults a colleague (warm transfer), looped."""
    svc = services()
    sid = form.call_sid(form.params())

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        transfer.on_hold(turn, transfers.latest(db, sid))
        return turn

    return respond(svc, decide)


@bp.post("/leg")
def consult_leg() -> Response:
    """Status callbacks of the colleague's leg into the call's conference (warm transfer)."""
    svc, params = services(), form.params()
    form.call_sid(params)
    sid, agent = call_arg(), agent_arg()
    status = form.call_status(params)

    def decide(db: sqlite_utils.Database) -> Turn:
        turn = make_turn(svc, known_call(db, sid), db)
        row = next((t for t in reversed(transfers.of_call(db, sid)) if t["mode"] == "warm" and t["to_agent"] == agent), None)
        transfer.consult_leg(turn, row, routing_store.agent(db, agent), agent, status, _sender(db, row))
        return turn

    return respond(svc, decide, sid=sid, answer=no_content)
