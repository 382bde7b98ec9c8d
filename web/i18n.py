"""The pages in their reader's language: en, ru, fa (right to left) and ko, with local formats.

Strings of the templates, of this package's Python and of the pages' scripts are gettext messages
(Flask-Babel; catalogs in ``web/translations``, made with ``make translations-update`` and compiled by
``make translations``). The language is the signed-in person's choice (``agents.ui_language``), else the
browser's ``Accept-Language``, else ``DEFAULT_LANGUAGE``. A page carries, as a JSON block its scripts
read, its language's messages (plural forms by CLDR category, which the browser's ``Intl.PluralRules``
picks), the center's ``TIMEZONE``, the digits to use and the display names of the values the
scripts show (states, outcomes, dispositions, languages, queues, intents).
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.mofile import read_mo
from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l

from core.constants import LANGUAGES
from core.errors import ConfigError
from routing.model import Presence
from store import routing as store_routing
from web.auth import current_user
from web.context import services

TRANSLATIONS = Path(__file__).parent / "translations"
CATALOG = "LC_MESSAGES/messages"

# What the scripts show for the values the server sends (the values themselves stay as they are in the data).
PRESENCE_NAMES = {
    Presence.AVAILABLE: _l("available"),
    Presence.RESERVED: _l("ringing"),
    Presence.BUSY: _l("on a call"),
    Presence.WRAPUP: _l("wrap-up"),
    Presence.BREAK: _l("break"),
    Presence.OFFLINE: _l("offline"),
}
OUTCOME_NAMES = {
    "answered": _l("answered"),
    "abandoned": _l("abandoned"),
    "callback": _l("callback booked"),
    "hung-up-in-ivr": _l("ended in the menu"),
    "busy": _l("busy"),
    "no-answer": _l("no answer"),
    "failed": _l("failed"),
    "canceled": _l("canceled"),
    "agent-missed": _l("agent did not answer"),
}
DISPOSITION_NAMES = {
    "resolved": _l("Resolved"),
    "follow-up": _l("Follow-up needed"),
    "escalated": _l("Escalated"),
    "callback-promised": _l("Callback promised"),
    "no-resolution": _l("Not resolved"),
    "wrong-number": _l("Wrong number"),
}


def page_language() -> str:
    """The reader's language: their own choice, else their browser's, else the center's default."""
    user = current_user()
    if user and user.get("ui_language") in LANGUAGES:
        return str(user["ui_language"])
    return request.accept_languages.best_match(LANGUAGES) or services().config["DEFAULT_LANGUAGE"]


def text_direction(language: str) -> str:
    return "rtl" if Locale.parse(language).text_direction == "rtl" else "ltr"


def autonym(language: str) -> str:
    """A language's name in itself ("Русский", "فارسی"), as a language menu shows it."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


@functools.cache
def script_messages(language: str) -> dict[str, Any]:
    """The compiled catalog as the scripts use it: msgid → text, or msgid → {CLDR plural category: text}."""
    with (TRANSLATIONS / language / f"{CATALOG}.mo").open("rb") as file:
        catalog = read_mo(file)
    index_of = plural_indexes(language, catalog.plural_expr)
    messages: dict[str, Any] = {}
    for message in catalog:
        if not message.id or not message.string:
            continue
        if message.pluralizable:
            messages[message.id[0]] = {category: message.string[i] for category, i in index_of.items()}
        else:
            messages[message.id] = message.string
    return messages


def plural_indexes(language: str, plural_expr: str) -> dict[str, int]:
    """Which gettext plural form each CLDR category of the language uses (ru: one → 0, few → 1, many → 2)."""
    category_of = Locale.parse(language).plural_form
    form_of = gettext.c2py(plural_expr)
    indexes: dict[str, int] = {}
    for n in range(200):
        indexes.setdefault(category_of(n), form_of(n))
    indexes.setdefault("other", max(indexes.values()))  # fractions: never counted here, but named by CLDR
    return indexes


def language_names(language: str) -> dict[str, str]:
    """Our languages' names in ``language`` (ru: "английский", "русский", "персидский", "корейский")."""
    return {code: Locale.parse(code).get_display_name(language) for code in LANGUAGES}


def display_names(language: str) -> dict[str, dict[str, str]]:
    """The names the scripts show for values in the data, in ``language``."""
    flows = services().flows
    flow = flows.flow(language)
    queues = store_routing.queues(services().store.db())
    return {
        "presence": {str(state): str(name) for state, name in PRESENCE_NAMES.items()},
        "outcome": {outcome: str(name) for outcome, name in OUTCOME_NAMES.items()},
        "disposition": {disposition: str(name) for disposition, name in DISPOSITION_NAMES.items()},
        "language": language_names(language),
        "queue": {q["name"]: q["names"].get(language) or q["names"].get("en") or q["name"] for q in queues},
        "intent": {**flows.flow(None).intent_names, **flow.intent_names},
    }


def page_context() -> dict[str, Any]:
    """What every template knows of its language: code, direction, the language menu, the scripts' data."""
    language = str(get_locale() or services().config["DEFAULT_LANGUAGE"])
    return {
        "page_lang": language,
        "page_dir": text_direction(language),
        "page_languages": {code: autonym(code) for code in LANGUAGES},
        "i18n_data": lambda: {
            "locale": language,
            "timeZone": services().config["TIMEZONE"],
            "latinDigits": bool(services().config["LATIN_DIGITS"]),
            "messages": script_messages(language),
            "names": display_names(language),
        },
    }


def check_compiled() -> None:
    """Start-up stops when a catalog is not compiled, or was edited after it was."""
    for language in LANGUAGES:
        source = TRANSLATIONS / language / f"{CATALOG}.po"
        compiled = source.with_suffix(".mo")
        if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
            raise ConfigError(f"the {language} page catalog is not compiled (or older than {source.name}): "
                              "run `make translations`")


def init_app(app: Flask) -> None:
    check_compiled()
    app.config.update(BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS), BABEL_DEFAULT_TIMEZONE=app.config["TIMEZONE"])
    Babel(app, locale_selector=page_language)
    app.context_processor(page_context)
