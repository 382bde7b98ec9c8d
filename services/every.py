"""A thing done every so often by a loop: due at once the first time, then once per period (monotonic time)."""

from __future__ import annotations

import time


class Every:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None

    def take(self) -> bool:
        """Is it time? If so, the period starts again now."""
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True
