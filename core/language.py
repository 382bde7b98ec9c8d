"""Which language a new call is served in: the caller's stored one, else the dialed number's (NUMBER_LANGUAGES),
else the caller's country's (its official languages by CLDR, through Babel), else the caller chooses from a short
language menu (their choice is kept on their caller row); no choice, DEFAULT_LANGUAGE."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from babel.languages import get_official_languages

from core.errors import ConfigError
from core.numbers import normalize, region_of


def for_call(stored: str | None, dialed: str | None, caller: str | None, by_number: Mapping[str, str],
             available: Collection[str]) -> str | None:
    """The call's language (one of ``available``); None when nothing says which: the caller is asked."""
    if stored in available:
        return str(stored)
    if dialed in by_number:
        return by_number[str(dialed)]
    region = region_of(caller)
    for language in get_official_languages(region, de_facto=True) if region else ():
        if language in available:
            return language
    return None


def parse_number_languages(spec: str, available: Collection[str], region: str) -> dict[str, str]:
    """NUMBER_LANGUAGES: "+15550001000=en, +74955550100=ru" → {E.164: language}; ConfigError naming a bad entry."""
    found: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        number, _, language = (piece.strip() for piece in entry.partition("="))
        e164 = normalize(number, region)
        if not e164 or language not in available:
            raise ConfigError(f"NUMBER_LANGUAGES entry {entry!r} is not like +15550001000=en (languages: "
                              f"{', '.join(sorted(available))})")
        found[e164] = language
    return found
