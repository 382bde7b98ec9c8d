"""The people at the pages, scripted for ``python -m simulator call``: the agent who answers transfers the call, a
supervisor listens, whispers and barges. They sign in to the server's pages like a browser (the login form, its
CSRF token) and use the same JSON API the agent and supervisor pages use; nothing of the server's code is imported.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from simulator.exceptions import SimulatorError

TIMEOUT_S = 10
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
MONITOR_MODES = ("listen", "whisper", "barge", "leave")


class Desk:
    """A signed-in session at the server's pages, as ``user``."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.csrf = self._csrf(self.http.get(self.base + "/login", timeout=TIMEOUT_S).text)
        signed = self.http.post(self.base + "/login", allow_redirects=False, timeout=TIMEOUT_S,
                                data={"username": user, "password": password, "csrf_token": self.csrf})
        if signed.status_code != 302:
            raise SimulatorError(f"{user} could not sign in (wrong password? --password)")
        self.csrf = self._csrf(self.http.get(self.base + signed.headers["Location"], timeout=TIMEOUT_S).text)

    @staticmethod
    def _csrf(html: str) -> str:
        found = CSRF.search(html)
        if found is None:
            raise SimulatorError("the server's page has no CSRF token")
        return found.group(1)

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.http.post(self.base + path, json=body or {}, headers={"X-CSRF-Token": self.csrf}, timeout=TIMEOUT_S)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=TIMEOUT_S)


@dataclass
class Cast:
    """What the people do once the caller talks to an agent: ``transfer`` ("queue:NAME" or "agent:ID", ``warm``),
    ``monitor`` ("SUPERVISOR:MODE,MODE…"), each ``after`` seconds after the step before."""

    base_url: str
    password: str
    transfer: str | None = None
    warm: bool = False
    monitor: str | None = None
    after: float = 2.0

    def __post_init__(self) -> None:
        if self.transfer and not re.fullmatch(r"(queue|agent):\S+", self.transfer):
            raise SimulatorError("--transfer is queue:NAME or agent:ID")
        if self.monitor:
            supervisor, _, modes = self.monitor.partition(":")
            if not supervisor or not modes or any(m not in MONITOR_MODES for m in modes.split(",")):
                raise SimulatorError(f"--monitor is SUPERVISOR:MODE[,MODE…] with modes {', '.join(MONITOR_MODES)}")

    @property
    def idle(self) -> bool:
        return not self.transfer and not self.monitor

    def start(self, call_sid: str, agent: str, say: Callable[[str], None]) -> threading.Thread:
        """Act on the call in the background once ``agent`` answered it; ``say`` prints what they did."""
        thread = threading.Thread(target=self._act, args=(call_sid, agent, say), name="people", daemon=True)
        thread.start()
        return thread

    def _act(self, sid: str, agent: str, say: Callable[[str], None]) -> None:
        try:
            if self.monitor:
                self._supervise(sid, say)
            if self.transfer:
                self._hand_over(sid, agent, say)
        except (SimulatorError, requests.RequestException) as exc:
            say(f"people: {exc}")

    def _supervise(self, sid: str, say: Callable[[str], None]) -> None:
        supervisor, _, modes = self.monitor.partition(":")
        desk = Desk(self.base_url, supervisor, self.password)
        for mode in modes.split(","):
            time.sleep(self.after)
            answer = desk.post(f"/api/calls/{sid}/monitor", {"mode": mode})
            say(f"supervisor {supervisor} {mode}: {answer.status_code} {_message(answer)}")

    def _hand_over(self, sid: str, agent: str, say: Callable[[str], None]) -> None:
        kind, _, target = self.transfer.partition(":")
        desk = Desk(self.base_url, agent, self.password)
        time.sleep(self.after)
        mode = "warm" if self.warm else "cold"
        answer = desk.post(f"/api/calls/{sid}/transfer", {f"to_{kind}": target, "mode": mode,
                                                           "note": "transferred by python -m simulator"})
        say(f"agent {agent} transfers {mode} to {kind} {target}: {answer.status_code} {_message(answer)}")
        if not self.warm or answer.status_code != 200:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the colleague answers, the two talk, then the sender completes
            state = (desk.get(f"/api/calls/{sid}/context").json().get("transfer") or {}).get("state")
            if state != "ringing":
                break
            time.sleep(0.2)
        if state != "consulting":
            say(f"agent {agent}: the colleague did not answer ({state}); the caller is back with {agent}")
            return
        time.sleep(self.after)
        done = desk.post(f"/api/calls/{sid}/transfer/complete")
        say(f"agent {agent} completes the transfer: {done.status_code} {_message(done)}")


def _message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return body.get("error") or body.get("state") or body.get("mode") or ""
