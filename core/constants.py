"""Constants declared once: languages, roles, queue defaults, and the values Twilio reports."""

from __future__ import annotations

# Languages of the flows, prompts and pages, with their English names (routing reasons, pages).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ru": "Russian", "fa": "Persian", "ko": "Korean"}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_NAMES)

ROLES: tuple[str, ...] = ("agent", "supervisor")

# A queue's settings when its definition leaves them out.
QUEUE_DEFAULTS: dict[str, object] = {
    "description": "",
    "language": None,
    "priority": 0,
    "sl_target_s": 20,
    "sl_target_pct": 80,
    "wrapup_s": 30,
    "refuse_unstaffed": False,  # nobody staffed who could take a caller: say so and offer a message, not a wait
}

# Twilio's CallStatus values; the terminal ones end a call.
CALL_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"})
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
OUTBOUND = "outbound-agent"  # the direction of a call an agent placed (click-to-call)
CLIENT = "client:"  # how Twilio names an agent's softphone in To and From (<Dial><Client>, a REST call to it)
# <Dial action> DialCallStatus values.
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
# <Enqueue action> QueueResult values.
QUEUE_RESULTS = frozenset({"bridged", "bridging-in-process", "error", "hangup", "leave", "redirected",
                           "redirected-from-bridged", "queue-full", "system-error"})
# Answering machine detection (AnsweredBy).
ANSWERED_BY = frozenset({"human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
                         "fax", "unknown"})

DISPOSITIONS = ("resolved", "follow-up", "escalated", "callback-promised", "no-resolution", "wrong-number")
MAX_NOTES_CHARS = 4000

AGENT_KEY = "0"  # in every menu, 0 reaches a person
AGENT_INTENT = "agent"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
