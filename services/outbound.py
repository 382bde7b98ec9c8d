"""Click-to-call from the agent's page: the agent reserved, the platform asked to ring their phone, the call kept.

Two short transactions around the platform's request (a write lock is never held across it); what happens once the
agent answers is in ``core.outbound`` and ``voice.outbound``.
"""

from __future__ import annotations

import logging

from core import calls as lifecycle
from core.constants import CLIENT
from core.numbers import mask
from routing import service as routing
from services.bootstrap import Services
from store import calls
from telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)


def place(svc: Services, agent_id: str, number: str, queue: str | None) -> str:
    """Ring ``agent_id``'s phone for a call to ``number`` (E.164) with our caller ID; the call's SID."""
    db, now = svc.store.db(), svc.clock()
    routing.reserve_for_outbound(db, agent_id, queue, now)
    caller_id = svc.config["CALLBACK_CALLER_ID"]
    urls = svc.env.urls
    try:
        sid = svc.telephony.place_call(CLIENT + agent_id, caller_id, url=urls.outbound_connect(agent_id, number),
                                       status_callback=urls.status(), timeout_s=svc.env.rules.ring_timeout_s)
    except TelephonyError as exc:
        log.warning("call to %s for %s refused: %s", mask(number), agent_id, exc)
        routing.outbound_missed(db, agent_id, None, svc.clock())
        svc.ticker.kick()
        raise
    with svc.store.unit(db) as unit:
        routing.outbound_placed(unit.db, agent_id, sid)
        if calls.load(unit.db, sid) is None:  # (else the agent answered first and the connect webhook made it)
            call = lifecycle.placed_by_agent(sid, now, agent_id=agent_id, number=number, caller_id=caller_id, queue=queue)
            call.set(caller_id=calls.caller_for_number(unit.db, number)["id"])
            calls.save(unit.db, call)
    log.info("%s calls %s as %s", agent_id, mask(number), sid)
    return sid
