"""Callbacks in a call's life: the offer while waiting, the number and time, booking (the place is kept), the
reminder when a caller with a pending callback calls in (the callback call itself: ``callback_call``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from twilio.twiml.voice_response import Gather

from core.numbers import callable_number
from core.ops import BookCallback, CancelCallback, KickRouting
from core.turn import Rules, Turn

OFFER_TIMEOUT_S = 3
NUMBER_TIMEOUT_S = 10
MENU_TIMEOUT_S = 6

Row = Mapping[str, Any]


def spoken(number: str) -> str:
    """A phone number read digit by digit."""
    return " ".join(ch for ch in number if ch.isdigit())


def may_offer(rules: Rules, caller_number: str | None, open_callbacks: int) -> bool:
    """A caller may be offered a callback unless their number already holds the most it may."""
    return rules.callback is not None and not (caller_number and open_callbacks >= rules.callback.max_pending_per_number)


def worth_offering(rules: Rules, wait_s: float | None) -> bool:
    """Above CALLBACK_OFFER_AFTER_S of estimated wait (or with no estimate: nobody staffed)."""
    return wait_s is None or wait_s > rules.callback_offer_after_s


def offer(turn: Turn) -> None:
    """"Press 1 to be called back": inside the wait music; nothing pressed, the music goes on."""
    g = Gather(input="dtmf", num_digits=1, timeout=OFFER_TIMEOUT_S, action=turn.urls.callback_offer())
    turn.say(turn.text("callback_offer"), g)
    turn.response.append(g)


def _ask(turn: Turn, text: str, action: str, hold_music: str, **gather: Any) -> None:
    """Say ``text`` inside a Gather; if nothing is pressed, the caller goes back to waiting (hold music)."""
    g = Gather(input="dtmf", action=action, timeout=gather.pop("timeout", MENU_TIMEOUT_S), **gather)
    turn.say(text, g)
    turn.response.append(g)
    turn.response.play(hold_music)


def keep_waiting(turn: Turn, hold_music: str, message: str | None = None) -> None:
    if message:
        turn.say(turn.text(message))
    turn.response.play(hold_music)


def offer_answered(turn: Turn, key: str, caller_number: str | None, hold_music: str) -> None:
    """The caller answered the offer: 1 → confirm their number (or key one in); anything else: keep waiting."""
    if key != "1":
        keep_waiting(turn, hold_music)
    elif caller_number is None:
        ask_number(turn, hold_music)
    else:
        text = turn.text("callback_confirm", number=spoken(caller_number))
        _ask(turn, text, turn.urls.callback_number("choose"), hold_music, num_digits=1)


def ask_number(turn: Turn, hold_music: str, attempt: int = 1) -> None:
    """Ask for the number to call back, keyed in and ended with #."""
    _ask(turn, turn.text("callback_enter_number"), turn.urls.callback_number("enter", attempt), hold_music,
         finish_on_key="#", timeout=NUMBER_TIMEOUT_S)


def number_chosen(turn: Turn, step: str, digits: str, attempt: int, caller_number: str | None, hold_music: str,
                  open_callbacks: int, queued: bool) -> None:
    """Confirm the caller ID (1), key in another number (2), or choose a time later today (3); or the number keyed in."""
    if step == "choose":
        key = digits[:1]
        if key == "1" and caller_number:
            book(turn, caller_number, None, hold_music, open_callbacks, queued)
        elif key == "2":
            ask_number(turn, hold_music)
        elif key == "3" and caller_number:
            _ask(turn, turn.text("callback_enter_time"), turn.urls.callback_time(caller_number), hold_music, num_digits=4)
        else:
            keep_waiting(turn, hold_music)
        return
    number = callable_number(digits, turn.rules.default_region) if digits else None
    if number:
        book(turn, number, None, hold_music, open_callbacks, queued)
    elif attempt > turn.rules.max_reprompts:
        keep_waiting(turn, hold_music, "callback_bad_number")
    else:
        turn.say(turn.text("callback_bad_number"))
        ask_number(turn, hold_music, attempt + 1)


def today_at(digits: str, now: datetime, rules: Rules) -> datetime | None:
    """HHMM keyed in, as a time today in TIMEZONE."""
    if len(digits) != 4 or not digits.isdecimal() or rules.callback is None:
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    return now.astimezone(rules.callback.hours.zone).replace(hour=hours, minute=minutes, second=0, microsecond=0)


def time_chosen(turn: Turn, number: str, digits: str, hold_music: str, open_callbacks: int, queued: bool) -> None:
    """A scheduled callback: four digits HHMM, later today and within opening hours."""
    at = today_at(digits, turn.now, turn.rules)
    if at is None or at <= turn.now or not turn.rules.callback.hours.is_open(at):
        keep_waiting(turn, hold_music, "callback_bad_time")
        return
    book(turn, number, at, hold_music, open_callbacks, queued)


def book(turn: Turn, number: str, at: datetime | None, hold_music: str, open_callbacks: int, queued: bool) -> None:
    """Book the callback (committed with its place in line before anything is said), then confirm it and hang up."""
    if not queued or not may_offer(turn.rules, number, open_callbacks):
        keep_waiting(turn, hold_music, "callback_limit")
        return
    turn.do(BookCallback(turn.sid, number, at))
    turn.call.set(outcome="callback")
    turn.call.log("callback-requested", {"number": number, "at": at.isoformat() if at else None})
    when = turn.text("callback_when_at", time=at.strftime("%H:%M")) if at else turn.text("callback_when_turn")
    turn.say(turn.text("callback_booked", number=spoken(number), when=when))
    turn.response.hangup()
    turn.then(KickRouting())


# --- a caller with a callback pending calls in ----------------------------------------------------


def pending_reminder(turn: Turn, pending: Row) -> None:
    """Tell a caller with a pending callback and let them keep (1) or cancel (2) it; nothing: the main menu."""
    action = turn.urls.callback_pending(pending["id"])
    g = Gather(input="dtmf", num_digits=1, timeout=5, action=action)
    turn.say(turn.text("callback_pending"), g)
    turn.response.append(g)
    turn.response.redirect(action)


def pending_answered(turn: Turn, pending: Row, key: str) -> None:
    turn.call.log("callback-pending", {"callback_id": pending["id"], "key": key})
    if key == "1":
        turn.hang_up("goodbye")
        return
    if key == "2":
        turn.do(CancelCallback(pending["id"], "cancelled by the caller"))
        turn.say(turn.text("callback_cancelled"))
    turn.env.flows.begin(turn)
