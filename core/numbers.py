"""Phone numbers: E.164 normalisation of caller IDs and the checks a callback number must pass."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from core.constants import CLIENT
from core.errors import BadRequest

WITHHELD = frozenset({"", "anonymous", "restricted", "unknown", "private", "unavailable", "withheld"})
CALLABLE_TYPES = frozenset(
    {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.VOIP}
)


@lru_cache(maxsize=65536)
def normalize(raw: str | None, region: str = "US") -> str | None:
    """E.164 form of a caller ID, or None when it is withheld or not a phone number."""
    text = (raw or "").strip()
    if text.lower().lstrip("+") in WITHHELD or text.lower().startswith(CLIENT):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def callable_number(raw: str, region: str = "US") -> str | None:
    """E.164 of a number we may call back: valid, and a landline or mobile (no short, premium or shared-cost)."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in CALLABLE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def required(raw: str, region: str) -> str:
    """The E.164 form of a number someone typed (an operator, a supervisor); BadRequest when it is none."""
    number = normalize(raw, region)
    if not number:
        raise BadRequest(f"{raw[:40]!r} is not a phone number: give it in E.164 form, e.g. +12025550123")
    return number


def country_code(number: str | None) -> int | None:
    """The calling code of an E.164 number (82 for +82…), or None."""
    if not number:
        return None
    try:
        return phonenumbers.parse(number, None).country_code
    except NumberParseException:
        return None


def region_of(number: str | None) -> str | None:
    """The country of an E.164 number's calling code (its main one where several share it): "KR" for +82…, "US"
    for +1…, None when unknown."""
    code = country_code(number)
    region = phonenumbers.region_code_for_country_code(code) if code else None
    return None if region in (None, "ZZ", "001") else region


def mask(text: str | None) -> str:
    """A phone number as logs show it: all but the last four digits hidden."""
    if not text:
        return "-"
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    hidden = set(digits[:-4])
    return "".join("•" if i in hidden else ch for i, ch in enumerate(text))
