"""Reading Twilio's webhook parameters: each one checked, a clear 400 for anything malformed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

from flask import request
from werkzeug.datastructures import MultiDict

from core.constants import CALL_STATUSES
from core.errors import BadRequest

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
DIGITS = re.compile(r"^[0-9*#w]{0,64}$")
WHOLE = re.compile(r"^[0-9]{1,9}$")  # ASCII digits only: "²" and "٣" are digits to str.isdigit, not to int()
MAX_TEXT = 2000


def pairs(body: str) -> list[tuple[str, str]]:
    """An application/x-www-form-urlencoded body as (name, value) pairs, blanks kept: what ``parse_qsl`` gives,
    decoding only the parts that need it (most of Twilio's do not)."""
    found = []
    for part in body.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "%" in part or "+" in part:
                name, value = unquote_plus(name), unquote_plus(value)
            found.append((name, value))
    return found


def sent() -> list[tuple[str, str]]:
    """The webhook's POST parameters as sent, parsed once per request: Twilio sends
    application/x-www-form-urlencoded, read here without the general form machinery (a multipart body comes out
    as nothing valid, so its signature fails)."""
    found = request.environ.get("twilio.pairs")
    if found is None:
        body = request.get_data(cache=True, as_text=True) if request.method == "POST" else ""
        found = request.environ["twilio.pairs"] = pairs(body)
    return found


def params() -> MultiDict:
    """The POST parameters by name."""
    found = request.environ.get("twilio.params")
    if found is None:
        found = request.environ["twilio.params"] = MultiDict(sent())
    return found


def call_sid(form: Mapping[str, str], name: str = "CallSid") -> str:
    value = form.get(name, "")
    if not CALL_SID.match(value):
        raise BadRequest(f"{name} must be 'CA' followed by 32 hex digits, got {value[:40]!r}")
    return value


def optional_sid(form: Mapping[str, str], name: str) -> str | None:
    """A call SID the request may leave out or send empty (a Dial's DialCallSid); 400 when it is not one."""
    return call_sid(form, name) if form.get(name) else None


def digits(form: Mapping[str, str]) -> str:
    value = form.get("Digits", "")
    if not DIGITS.match(value):
        raise BadRequest(f"Digits may hold only 0-9, * and # (64 at most), got {value[:70]!r}")
    return value.replace("w", "")


def text(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is longer than {MAX_TEXT} characters")
    return value.strip()


def fraction(form: Mapping[str, str], name: str, default: float = 0.0) -> float:
    raw = form.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number between 0 and 1, got {raw[:40]!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BadRequest(f"{name} must be between 0 and 1, got {raw[:40]!r}")
    return value


def whole(form: Mapping[str, str], name: str, default: int, low: int = 0, high: int = 10**7) -> int:
    raw = form.get(name, "")
    if raw == "":
        return default
    if not WHOLE.match(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def call_status(form: Mapping[str, str]) -> str:
    value = form.get("CallStatus", "")
    if value not in CALL_STATUSES:
        raise BadRequest(f"CallStatus must be one of {', '.join(sorted(CALL_STATUSES))}, got {value[:40]!r}")
    return value


def choice(form: Mapping[str, str], name: str, allowed: frozenset[str] | set[str], default: str = "") -> str:
    value = form.get(name, default)
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(sorted(allowed))}, got {value[:40]!r}")
    return value


def optional(form: Mapping[str, str], name: str, allowed: frozenset[str] | set[str]) -> str:
    """A parameter Twilio may leave out: "" when absent, else one of ``allowed``."""
    return choice(form, name, allowed | {""}, "")
