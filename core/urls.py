"""Absolute URLs of the server's own endpoints, as Twilio must request them (no Flask: views, the routing
ticker and jobs build them alike). The routes in ``voice/`` are these paths; a test checks they match."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

VOICE = "/voice"


def websocket_url(url: str) -> str:
    """The ws:// (wss://) form of an http:// (https://) URL."""
    return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


class Urls:
    """URL maker for one public base URL (PUBLIC_BASE_URL, or the local server's own)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def _url(self, path: str, **query: Any) -> str:
        given = {k: v for k, v in query.items() if v not in (None, "")}
        return self.base + path + ("?" + urlencode(given) if given else "")

    def incoming(self) -> str:
        return self._url(f"{VOICE}/incoming")

    def status(self) -> str:
        return self._url(f"{VOICE}/status")

    def step(self, node: str, attempt: int = 1, *, via: str | None = None, confirming: str | None = None) -> str:
        return self._url(f"{VOICE}/step/{quote(node, safe='')}", attempt=attempt, via=via, confirming=confirming)

    def queue_wait(self, queue: str) -> str:
        return self._url(f"{VOICE}/queue/wait", queue=queue)

    def queue_hold(self, queue: str, held_s: int = 0) -> str:
        """Waiting outside Twilio's queue (it was full or failed): the same music, looped by <Redirect>."""
        return self._url(f"{VOICE}/queue/hold", queue=queue, held=held_s or None)

    def queue_result(self) -> str:
        return self._url(f"{VOICE}/queue/result")

    def connect(self, item: str, agent: str) -> str:
        return self._url(f"{VOICE}/connect", item=item, agent=agent)

    def connect_result(self, item: str, agent: str) -> str:
        return self._url(f"{VOICE}/connect/result", item=item, agent=agent)

    def agent_leg(self, item: str, agent: str) -> str:
        return self._url(f"{VOICE}/connect/agent", item=item, agent=agent)

    def conference_agent(self, call: str) -> str:
        """Where the agent's leg is redirected to: into the call's conference."""
        return self._url(f"{VOICE}/conference/agent", call=call)

    def conference_result(self, call: str) -> str:
        """The caller's conference Dial ended (the room ended): survey or goodbye."""
        return self._url(f"{VOICE}/conference/result", call=call)

    def conference_events(self, call: str) -> str:
        """The conference's status callback (start, end, join, leave, mute, hold, modify)."""
        return self._url(f"{VOICE}/conference/events", call=call)

    def conference_caller(self, call: str) -> str:
        """Where the caller is redirected to rejoin the call's conference (after a warm transfer's hold)."""
        return self._url(f"{VOICE}/conference/caller", call=call)

    def transferred(self, call: str) -> str:
        """Where a cold transfer redirects the caller: back in line at their place, or ringing the colleague."""
        return self._url(f"{VOICE}/transfer/caller", call=call)

    def transfer_hold(self, call: str, again: bool = False) -> str:
        """The caller's hold music while the agent talks to a colleague (warm transfer), looped by <Redirect>."""
        return self._url(f"{VOICE}/transfer/hold", call=call, again=1 if again else None)

    def consult_leg(self, call: str, agent: str) -> str:
        """Status callbacks of the colleague's leg into the call's conference (warm transfer)."""
        return self._url(f"{VOICE}/transfer/leg", call=call, agent=agent)

    def monitor_leg(self, call: str, supervisor: str) -> str:
        """Status callbacks of a supervisor's leg into the call's conference (answered, completed)."""
        return self._url(f"{VOICE}/conference/monitor", call=call, supervisor=supervisor)

    def outbound_connect(self, agent: str, number: str) -> str:
        """What the agent's phone runs once they answer the call they placed: dial ``number``."""
        return self._url(f"{VOICE}/outbound/connect", agent=agent, to=number)

    def outbound_result(self, agent: str) -> str:
        return self._url(f"{VOICE}/outbound/result", agent=agent)

    def callback_offer(self) -> str:
        return self._url(f"{VOICE}/callback/offer")

    def callback_number(self, step: str, attempt: int | None = None) -> str:
        return self._url(f"{VOICE}/callback/number", step=step, attempt=attempt if attempt and attempt > 1 else None)

    def callback_time(self, number: str) -> str:
        return self._url(f"{VOICE}/callback/time", number=number)

    def callback_pending(self, callback_id: int) -> str:
        return self._url(f"{VOICE}/callback/pending", callback=callback_id)

    def callback_answer(self, callback_id: int, agent: str, step: str | None = None) -> str:
        return self._url(f"{VOICE}/callback/answer", callback=callback_id, agent=agent, step=step)

    def callback_status(self, callback_id: int, agent: str) -> str:
        return self._url(f"{VOICE}/callback/status", callback=callback_id, agent=agent)

    def media_stream(self) -> str:
        return websocket_url(self._url(f"{VOICE}/media"))

    def voicemail_stream(self) -> str:
        return websocket_url(self._url(f"{VOICE}/voicemail"))

    def voicemail_done(self) -> str:
        return self._url(f"{VOICE}/voicemail/done")

    def call_record(self, sid: str) -> str:
        return self._url(f"{VOICE}/calls/{sid}/record")

    def static(self, filename: str) -> str:
        return self._url(f"/static/{filename}")

    def prompt(self, name: str) -> str:
        return self._url(f"/prompts/{name}")
