"""Wait estimates: each waiting caller's position and expected wait, recomputed on demand.

Method (computed afresh for every waiting item each time it is asked for, never frozen at entry):

- Handle time (AHT) of a queue: the mean of talk seconds + the queue's wrap-up seconds over
  its last ``HANDLE_WINDOW`` (20) finished interactions; with no history yet,
  ``DEFAULT_TALK_S`` (180 s) + wrap-up.
- Position: 1 + the ready items ahead of it in order of service in the same queue and
  language, i.e. the callers competing for the same agents. Callbacks holding their place
  (virtual hold) count; items already offered to an agent do not.
- Agents: N = staffed agents (available, reserved, busy or in wrap-up) who meet one of the
  item's active requirements (escalation included); F = those of them available now.
- Estimated wait = max(0, position − F) × AHT / N. N agents who each finish an interaction
  every AHT seconds free one agent every AHT / N seconds on average; the caller needs
  position − F of them. N = 0 (nobody staffed who could take the call): unknown, ``None``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from routing.model import STAFFED, Agent, Presence, Requirement, WaitingItem
from routing.selection import Ladders

HANDLE_WINDOW = 20
DEFAULT_TALK_S = 180.0


@dataclass(frozen=True)
class Estimate:
    item_id: str
    position: int  # 1 = next in line
    wait_s: float | None  # None: no staffed agent can take the call
    staffed: int  # N
    free: int  # F
    handle_s: float  # AHT used


def handle_time(talk_s: Sequence[float], wrapup_s: float, default_talk_s: float = DEFAULT_TALK_S) -> float:
    """Mean handle time (talk + wrap-up) of the given recent talk times, or the default."""
    talk = sum(talk_s) / len(talk_s) if talk_s else default_talk_s
    return talk + wrapup_s


def expected_wait(position: int, staffed: int, free: int, handle_s: float) -> float | None:
    """max(0, position − free) × handle_s / staffed; None when nobody is staffed."""
    if staffed == 0:
        return None
    return max(0, position - free) * handle_s / staffed


def estimate_all(
    items: Iterable[WaitingItem],
    agents: Iterable[Agent],
    ladders: Ladders,
    handle_s: Mapping[str, float],
    now: datetime,
) -> dict[str, Estimate]:
    """Position and estimated wait of every ready item; ``handle_s`` maps queue → AHT."""
    staffed = [a for a in agents if a.presence in STAFFED]
    counts: dict[tuple[Requirement, ...], tuple[int, int]] = {}
    buckets: dict[tuple[str, str | None], list[WaitingItem]] = defaultdict(list)
    for item in items:
        if item.ready(now):
            buckets[(item.queue, ladders.bucket_language(item))].append(item)
    estimates = {}
    for bucket in buckets.values():
        for position, item in enumerate(sorted(bucket, key=ladders.order), start=1):
            requirements = ladders.active(item, now)
            if requirements not in counts:
                eligible = [a for a in staffed if any(r.skip_reason(a) is None for r in requirements)]
                counts[requirements] = (len(eligible), sum(a.presence == Presence.AVAILABLE for a in eligible))
            n, free = counts[requirements]
            aht = handle_s[item.queue]
            estimates[item.id] = Estimate(item.id, position, expected_wait(position, n, free, aht), n, free, aht)
    return estimates
