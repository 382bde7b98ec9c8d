"""Stream tokens: the TwiML that opens a Media Stream for one menu turn of one call carries a short-lived token
(HMAC-SHA256 with a server secret over the call, the turn and the expiry) in its ``<Parameter>``s; the socket
accepts a ``start`` only with the token of that call and that turn, before it expires, and once.

Twilio signs the WebSocket handshake over the fixed ``wss://…/voice/media`` URL only, so a captured handshake
header would otherwise let anyone send a ``start`` for another caller's CallSid and steer their call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import Forbidden

TOKEN, EXPIRES = "token", "expires"  # the <Parameter> names
LIFETIME = timedelta(minutes=2)  # a stream opens seconds after its TwiML is fetched


class StreamRefused(Forbidden):
    """A ``start`` whose token is missing, for another call or turn, or expired."""


@dataclass(frozen=True)
class StreamTokens:
    secret: bytes

    def _mac(self, call_sid: str, turn: str, expires: str) -> str:
        digest = hmac.new(self.secret, f"{call_sid}|{turn}|{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()

    def issue(self, call_sid: str, turn: str, now: datetime) -> dict[str, str]:
        """The parameters to put on the turn's <Stream>."""
        expires = str(int((now + LIFETIME).timestamp()))
        return {TOKEN: self._mac(call_sid, turn, expires), EXPIRES: expires}

    def check(self, call_sid: str, turn: str, parameters: dict[str, str], now: datetime) -> str:
        """The token, if it is this call's and this turn's and not expired; StreamRefused otherwise."""
        token, expires = str(parameters.get(TOKEN, "")), str(parameters.get(EXPIRES, ""))
        if not token or not expires.isdecimal():
            raise StreamRefused(f"stream start for {call_sid} without a token")
        if not hmac.compare_digest(token, self._mac(call_sid, turn, expires)):
            raise StreamRefused(f"stream start for {call_sid} with a token of another call or turn")
        if now.timestamp() > int(expires):
            raise StreamRefused(f"stream start for {call_sid} with an expired token")
        return token
