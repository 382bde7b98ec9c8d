"""The pages' message catalogs: every string of the templates, of web/'s Python and of the pages' scripts is in the
catalog of every language, translated (en is the source language), with the same placeholders and the language's
number of plural forms; what the server compiled is what the catalogs say; display names cover every value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.constants import DISPOSITIONS, LANGUAGES, TERMINAL_STATUSES
from ivr import flows
from routing.model import Presence
from web import i18n

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# A call of the scripts' message functions with a string literal (what the extractor must have found).
SCRIPT_CALL = re.compile(r"\b(?:_|ngettext)\(\s*\"((?:[^\"\\]|\\.)*)\"")


def extracted() -> dict[str, tuple[str, ...]]:
    """The messages in the source, as `make translations-update` extracts them: msgid → (singular[, plural])."""
    with (ROOT / "web" / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = ids
    return found


def catalog(language: str):
    with (i18n.TRANSLATIONS / language / f"{i18n.CATALOG}.po").open("rb") as file:
        return read_po(file, locale=language)


def test_the_source_has_the_strings_of_every_page():
    messages = extracted()
    for sample in ("Sign in", "Caller said", "Live monitor", "Call the center", "Reconnecting…",
                   "Wrong user name or password.", "You may not use this page.", "on a call"):
        assert sample in messages, sample
    assert messages["%(num)d caller waiting"] == ("%(num)d caller waiting", "%(num)d callers waiting")


def test_every_message_the_scripts_ask_for_is_one_the_extractor_found():
    """A string the extractor cannot see (inside a template literal, say) would stay English in every language."""
    messages = extracted()
    scripts = sorted((ROOT / "web" / "static" / "js").glob("*.js"))
    asked = {literal for path in scripts for literal in SCRIPT_CALL.findall(path.read_text(encoding="utf-8"))}
    assert len(asked) > 40
    unseen = {literal for literal in asked if not any(msgid.startswith(literal) for msgid in messages)}
    assert not unseen


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalog_of_each_language_has_every_message_translated_with_its_placeholders(language):
    messages = extracted()
    entries = {message.id if isinstance(message.id, str) else message.id[0]: message
               for message in catalog(language) if message.id}
    missing = sorted(set(messages) - set(entries))
    assert not missing, f"{language} lacks {missing[:5]}…: run `make translations-update` and translate"
    forms = catalog(language).num_plurals
    for msgid, ids in messages.items():
        entry = entries[msgid]
        assert "fuzzy" not in entry.flags, f"{language}: {msgid!r} is fuzzy"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if len(ids) == 2:
            assert isinstance(entry.id, tuple) and len(strings) == forms, f"{language}: {msgid!r} needs {forms} forms"
        if language == "en" and not any(strings):
            continue  # the source language: an empty translation is the msgid itself
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            assert text.strip(), f"{language}: {msgid!r} is not translated"
            assert set(PLACEHOLDER.findall(text)) == expected, f"{language}: {msgid!r} → {text!r} placeholders"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_says_what_the_catalog_says(language):
    def texts(messages):
        """msgid → translation, for the translated ones (compiled, an untranslated plural is its own msgids)."""
        found = {}
        for message in messages:
            ids = tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)
            strings = tuple(message.string) if isinstance(message.string, list | tuple) else (message.string,)
            if ids[0] and any(strings) and strings != ids[:len(strings)]:
                found[ids] = strings
        return found

    with (i18n.TRANSLATIONS / language / f"{i18n.CATALOG}.mo").open("rb") as file:
        compiled = texts(read_mo(file))
    assert compiled == texts(catalog(language))


def test_plural_forms_of_the_scripts_follow_each_languages_rules():
    assert i18n.plural_indexes("ru", catalog("ru").plural_expr) == {"one": 0, "few": 1, "many": 2, "other": 2}
    assert i18n.plural_indexes("fa", catalog("fa").plural_expr) == {"one": 0, "other": 1}
    assert i18n.plural_indexes("ko", catalog("ko").plural_expr) == {"other": 0}
    assert i18n.plural_indexes("en", catalog("en").plural_expr) == {"one": 0, "other": 1}
    waiting = i18n.script_messages("ru")["%(num)d caller waiting"]
    assert set(waiting) == {"one", "few", "many", "other"} and len({waiting["one"], waiting["few"], waiting["many"]}) == 3


def test_every_value_the_pages_show_has_a_display_name():
    assert set(i18n.DISPOSITION_NAMES) == set(DISPOSITIONS)
    assert set(i18n.PRESENCE_NAMES) == set(Presence)
    assert set(TERMINAL_STATUSES) - {"completed"} <= set(i18n.OUTCOME_NAMES)
    loaded = flows.load_all()
    every_intent = set().union(*(flow.intents() for flow in loaded.values()))
    for flow in loaded.values():
        assert every_intent <= set(flow.intent_names), flow.language


def test_a_flow_that_does_not_name_an_intent_is_refused():
    data = {**_flow_data("ru"), "intent_names": {}}
    faults = flows.validate(flows.parse(data, "ru.yaml"))
    assert any("intent 'billing' has no name" in fault for fault in faults)


def _flow_data(language: str) -> dict:
    import yaml

    return yaml.safe_load((flows.FLOWS_DIR / f"{language}.yaml").read_text(encoding="utf-8"))


def test_languages_have_their_own_names_and_directions():
    assert {code: i18n.text_direction(code) for code in LANGUAGES} == {"en": "ltr", "ru": "ltr", "fa": "rtl",
                                                                        "ko": "ltr"}
    assert i18n.autonym("ru") == "Русский" and i18n.autonym("fa") == "فارسی" and i18n.autonym("ko") == "한국어"
    assert i18n.language_names("ru")["fa"] == "персидский"
