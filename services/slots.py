"""Live connections (the pages' event streams, Twilio's Media Streams) take request threads for as long as they
last: a process lets at most ``total`` of them run at once, and one person at most ``per_key``, so that the threads
left always answer Twilio's webhooks. Taking a slot never waits: a connection over the limit is refused at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import ServiceError


class NoSlot(ServiceError):
    """Too many live connections (429 for one person over their share, 503 for the process)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message, status_code)


class Slots:
    def __init__(self, total: int, per_key: int) -> None:
        self.total, self.per_key = total, per_key
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, key: str, *, shared: bool = False) -> None:
        """A slot for ``key`` (``shared``: one of many connections under one key, held to the total only), or
        NoSlot at once."""
        with self._lock:
            if not shared and self._held[key] >= self.per_key:
                raise NoSlot(f"at most {self.per_key} live connections each: close another page first", 429)
            if sum(self._held.values()) >= self.total:
                raise NoSlot("this server's live connections are all taken; try again shortly", 503)
            self._held[key] += 1

    def give_back(self, key: str) -> None:
        with self._lock:
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    @contextmanager
    def held(self, key: str, *, shared: bool = False) -> Iterator[None]:
        self.take(key, shared=shared)
        try:
            yield
        finally:
            self.give_back(key)

    def in_use(self) -> int:
        with self._lock:
            return sum(self._held.values())
