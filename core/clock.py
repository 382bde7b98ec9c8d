"""Time: aware UTC datetimes in the code, ISO 8601 text (UTC, milliseconds) in the store.

Every transition takes ``now`` as an argument, so tests and the day simulation run the same code in
their own time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as the store's timestamp text; comparable as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def now_text() -> str:
    return iso(utcnow())


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    return None if a is None or b is None else round((b - a).total_seconds(), 3)


def seconds_since(since: str | None, now: datetime, digits: int = 3) -> float:
    """Seconds from the stored time ``since`` to ``now``, never negative (processes read the clock before the lock)."""
    start = parse_time(since)
    return 0.0 if start is None else max(0.0, round((now - start).total_seconds(), digits))
