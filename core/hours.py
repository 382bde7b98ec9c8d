"""Opening hours: when the lines are open and callbacks may be placed ("mon-fri 08:00-20:00; sat 09:00-13:00" in
TIMEZONE), closed all day on the holidays of HOLIDAYS_FILE."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULE = re.compile(r"^\s*(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class OpeningHours:
    """Per weekday (0 = Monday), the (open, close) times; closed days are absent, and so are ``holidays``."""

    days: dict[int, tuple[time, time]]
    zone: ZoneInfo
    holidays: frozenset[date] = frozenset()

    def span(self, day: date) -> tuple[time, time] | None:
        """The day's (open, close) times; None when closed all day (its weekday, or a holiday)."""
        return None if day in self.holidays else self.days.get(day.weekday())

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        span = self.span(local.date())
        return span is not None and span[0] <= local.time() < span[1]

    def holiday(self, moment: datetime) -> date | None:
        """The holiday ``moment`` falls on (local date), if it is one."""
        day = moment.astimezone(self.zone).date()
        return day if day in self.holidays else None

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself when open, else the next opening (in the same time zone as ``moment``)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        for offset in range(8 + len(self.holidays)):
            day = local.date() + timedelta(days=offset)
            span = self.span(day)
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=self.zone)
            if opening > local:
                return opening.astimezone(moment.tzinfo)
        raise ConfigError("the opening hours have no opening time")

    def closes_at(self, moment: datetime) -> datetime | None:
        """Closing time of the day ``moment`` falls in, if open that day."""
        local = moment.astimezone(self.zone)
        span = self.span(local.date())
        return None if span is None else datetime.combine(local.date(), span[1], tzinfo=self.zone).astimezone(moment.tzinfo)


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59)
    return time(hours, minutes)


def parse(spec: str, zone_name: str = "UTC", holidays: frozenset[date] = frozenset()) -> OpeningHours:
    """Parse OPENING_HOURS; raises ConfigError naming the rule it cannot read."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE {zone_name!r} is not an IANA time zone") from None
    days: dict[int, tuple[time, time]] = {}
    for rule in filter(None, (part.strip().lower() for part in spec.split(";"))):
        found = RULE.match(rule)
        if not found or found["first"] not in DAYS or (found["last"] and found["last"] not in DAYS):
            raise ConfigError(f"OPENING_HOURS rule {rule!r} is not like 'mon-fri 08:00-20:00'")
        try:
            span = (_clock(found["open"]), _clock(found["close"]))
        except ValueError:
            raise ConfigError(f"OPENING_HOURS rule {rule!r} has an impossible time") from None
        if span[0] >= span[1]:
            raise ConfigError(f"OPENING_HOURS rule {rule!r} closes before it opens")
        first = DAYS.index(found["first"])
        last = DAYS.index(found["last"] or found["first"])
        for day in range(first, last + 1):
            days[day] = span
    if not days:
        raise ConfigError("OPENING_HOURS is empty")
    return OpeningHours(days, zone, holidays)
