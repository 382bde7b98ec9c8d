"""Local mode's phones, held by people at the pages: the simulator's control API, spoken over HTTP.

The agent's softphone (answer, reject, hang up from the agent page) and the caller phone page (place a
call, press keys, say words, follow what the caller hears). With Twilio these are real phones and the
Voice JS SDK, and this adapter is absent.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from core.errors import BadRequest, Conflict, NotFound
from telephony.exceptions import TelephonyError

log = logging.getLogger(__name__)

TIMEOUT_S = 10
SOFTPHONE_ACTIONS = ("answer", "reject", "hangup")


class LocalDevices:
    """The simulator's control API at ``base_url`` (``…/sim`` of a local-mode server), with its ``token``."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"  # the simulator's control API needs it

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, self.base + path, timeout=TIMEOUT_S, **kwargs)
        except requests.RequestException as exc:
            raise TelephonyError(f"the simulator at {self.base} cannot be reached: {exc}") from None
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        if response.status_code >= 400:
            message = body.get("error") or body.get("message") or response.text[:200]
            error = {404: NotFound, 409: Conflict}.get(response.status_code, BadRequest)
            raise error(message)
        return body

    def softphone(self, agent_id: str, **behaviour: Any) -> dict[str, Any]:
        """Register or change the agent's simulated softphone (``manual``: answered from the agent page)."""
        return self._call("POST", f"/clients/{agent_id}", json=behaviour)

    def softphone_action(self, agent_id: str, action: str) -> None:
        if action not in SOFTPHONE_ACTIONS:
            raise NotFound(f"the softphone can {', '.join(SOFTPHONE_ACTIONS)}, not {action!r}")
        self._call("POST", f"/clients/{agent_id}/{action}")

    def place_call(self, from_: str, to: str | None = None) -> str:
        """A caller held by a person: each input point waits for what the page sends."""
        body = {"from": from_, "interactive": True, **({"to": to} if to else {})}
        return self._call("POST", "/calls", json=body)["call_sid"]

    def follow(self, sid: str, since: int) -> dict[str, Any]:
        """What happened on the call since event ``since``: lines heard, pressed, said, done."""
        return self._call("GET", f"/calls/{sid}", params={"since": since})

    def give_input(self, sid: str, step: dict[str, Any]) -> None:
        """Keys ({"keys": "1042#"}) or words ({"say": "billing", "lang": "en"}) for the call's next input point."""
        self._call("POST", f"/calls/{sid}/steps", json=step)

    def hang_up(self, sid: str) -> None:
        self._call("POST", f"/calls/{sid}/hangup")
