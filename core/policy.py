"""Callback rules: how many a number may hold, how often we try, when we may call (opening hours)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.hours import OpeningHours, parse


@dataclass(frozen=True)
class CallbackPolicy:
    max_pending_per_number: int
    max_attempts: int
    retry_base_s: float
    hours: OpeningHours

    def retry_at(self, attempts: int, now: datetime) -> datetime:
        """Exponential backoff from ``retry_base_s``, moved into opening hours."""
        return self.hours.next_open(now + timedelta(seconds=self.retry_base_s * 2 ** max(0, attempts - 1)))

    @classmethod
    def from_settings(cls, config: Mapping[str, Any], holidays: frozenset[date] = frozenset()) -> CallbackPolicy:
        return cls(
            max_pending_per_number=config["MAX_PENDING_CALLBACKS_PER_NUMBER"],
            max_attempts=config["CALLBACK_MAX_ATTEMPTS"],
            retry_base_s=config["CALLBACK_RETRY_S"],
            hours=parse(config["OPENING_HOURS"], config["TIMEZONE"], holidays),
        )
