"""The agent's softphone: a simulated phone in local mode, the Twilio Voice JS SDK otherwise.

Local mode: while an agent's page is open (its event stream connected), the agent's simulated phone is
*manual*: it rings until the agent answers or rejects on the page, through our own signed-in API, and
talks until the agent hangs up. With Twilio, the browser runs the Voice SDK (vendored in
``static/vendor``) with an access token whose identity is the agent id, the same identity routing dials
with ``<Dial><Client>``.
"""

from __future__ import annotations

import logging
from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from core.errors import Conflict, NotFound, Unavailable
from telephony.devices import LocalDevices
from web.context import services

log = logging.getLogger(__name__)

TOKEN_TTL_S = 3600
SDK_SETTINGS = ("TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_TWIML_APP_SID")


def devices() -> LocalDevices:
    """Local mode's simulated phones (404 with Twilio)."""
    found = services().devices
    if found is None:
        raise NotFound("the simulated softphone and the caller phone exist only in local mode")
    return found


def act(agent_id: str, action: str, presence: str) -> None:
    """Answer or reject the ringing call, or hang up the current one, on the simulated phone."""
    if action == "hangup" and presence != "busy":
        raise Conflict("you are not on a call")
    devices().softphone_action(agent_id, action)
    log.info("%s: softphone %s", agent_id, action)


def access_token(config: Any, agent_id: str) -> str:
    """A Voice SDK access token for ``agent_id``: incoming calls to that client identity, outgoing via the TwiML app."""
    if config["LOCAL_MODE"]:
        raise NotFound("in local mode the softphone is simulated; no Twilio token")
    missing = [name for name in SDK_SETTINGS if not config[name]]
    if missing:
        raise Unavailable(f"the browser softphone needs {', '.join(missing)}")
    token = AccessToken(config["TWILIO_ACCOUNT_SID"], config["TWILIO_API_KEY"], config["TWILIO_API_SECRET"],
                        identity=agent_id, ttl=TOKEN_TTL_S)
    token.add_grant(VoiceGrant(outgoing_application_sid=config["TWILIO_TWIML_APP_SID"], incoming_allow=True))
    return token.to_jwt()
