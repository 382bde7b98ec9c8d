"""Store rows (``store.routing``'s dicts) → core objects."""

from __future__ import annotations

from typing import Any

from core.clock import parse_time
from routing.model import Agent, EscalationStep, Presence, Queue, WaitingItem


def queue_from_row(row: dict[str, Any]) -> Queue:
    return Queue(
        name=row["name"],
        skills=row["skills"],
        language=row["language"],
        priority=row["priority"] or 0,
        sl_target_s=row["sl_target_s"],
        sl_target_pct=row["sl_target_pct"],
        wrapup_s=row["wrapup_s"],
        escalation=tuple(EscalationStep.from_dict(step) for step in row["escalation"]),
    )


def agent_from_row(row: dict[str, Any]) -> Agent:
    return Agent(
        id=row["id"],
        name=row["name"] or row["id"],
        skills=row["skills"],
        languages=frozenset(row["languages"]),
        presence=Presence(row["presence"]),
        presence_since=parse_time(row["presence_since"]),
        last_idle_at=parse_time(row["last_idle_at"]),
    )


def item_from_row(row: dict[str, Any]) -> WaitingItem:
    return WaitingItem(
        id=row["id"],
        queue=row["queue"],
        entered_at=parse_time(row["entered_at"]),
        kind=row["kind"],
        language=row["language"],
        priority=row["priority"] or 0,
        caller_id=row["caller_id"],
        last_agent_id=row["last_agent_id"],
        not_before=parse_time(row["not_before"]),
        context=row["context"],
    )
