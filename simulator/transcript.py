"""What a person on a simulated call would say happened: one line per thing heard, pressed, said or done."""

from __future__ import annotations

from typing import Any

LINES = {
    "say": lambda e: f"heard    {e['text']}",
    "play": lambda e: f"heard    {e['text']}",
    "press": lambda e: f"pressed  {e['digits']}",
    "speak": lambda e: f"said     \"{e['text']}\"" + ("" if e.get("heard_by") or e.get("where") else
                                                     "  (nobody listening: keys only)")
                       + (f"  at {e['at_ms'] / 1000:.1f} s" if "at_ms" in e else ""),
    "hears": lambda e: f"heard    {e['speaker']}: {e['text']}",
    "conference-join": lambda e: "room     in the call's conference" + (" (muted)" if e.get("muted") else ""),
    "conference-leave": lambda e: f"room     out of the conference ({e['why']})",
    "bridge-left": lambda e: f"moving   the agent's leg went into the call's conference after {e['seconds']} s",
    "no-input": lambda e: "silence  (no input)",
    "enqueue": lambda e: f"queue    waiting in {e['queue']}",
    "queue-refused": lambda e: f"queue    not let into {e['queue']} ({e['result']})",
    "dequeued": lambda e: f"queue    left {e['queue']} for an agent",
    "ringing": lambda e: f"ringing  {e.get('client') or e.get('number')}",
    "no-answer": lambda e: f"ringing  {e.get('client')} did not answer",
    "bridged": lambda e: f"talking  with {e.get('client') or e.get('number')}",
    "agent-hangup": lambda e: f"ended    agent hung up after {e['seconds']} s",
    "caller-hangup": lambda e: f"hung up  (caller, in {e.get('where', 'call')})",
    "hangup": lambda e: "ended    server hung up",
    "stream": lambda e: "listening (media stream)",
    "stream-started": lambda e: f"listening (media stream {e['name']}, from before the prompt)",
    "stream-audio-lost": lambda e: f"lost     the first {e['ms']} ms of what was said (the stream was not open yet)",
    "redirected": lambda e: f"moved    to {e['url'].split('?')[0]} (REST redirect)",
    "not-asked": lambda e: f"(did not say \"{e['text']}\": not asked)",
    "not-said": lambda e: f"(did not say \"{e['text']}\": the call moved on first)",
    "error": lambda e: f"ERROR    {e['text']}",
    "http-error": lambda e: f"ERROR    {e['url']} -> {e['status']}: {e['text']}",
}


def describe(event: dict[str, Any]) -> str | None:
    """One transcript line for an event, or None for bookkeeping events."""
    line = LINES.get(event["kind"])
    return line(event) if line else None


def lines(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"t": e["t"], "kind": e["kind"], "line": text} for e in events if (text := describe(e))]
