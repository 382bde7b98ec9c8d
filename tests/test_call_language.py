"""The language a new call is served in: the caller's stored one, else the dialed number's (NUMBER_LANGUAGES), else
the caller's country's (its official languages, from CLDR through Babel), else DEFAULT_LANGUAGE."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import ConfigError
from core.language import for_call, parse_number_languages
from routing import admin
from tests.conftest import ROOT, Server

OURS = ("en", "ru", "fa", "ko")


@pytest.mark.parametrize(("stored", "dialed", "caller", "expected"), [
    ("ru", "+15550001000", "+821012345678", "ru"),  # what we know of the caller comes first
    (None, "+74955550100", "+12025550123", "ru"),  # then the number they dialed
    (None, "+15550001000", "+821012345678", "ko"),  # then their country: Korea
    (None, None, "+989121234567", "fa"),  # Iran
    (None, None, "+77012345678", "ru"),  # +7: Russia and Kazakhstan share the code (Russian either way)
    (None, None, "+4915112345678", None),  # Germany: none of ours, so the caller is asked
    (None, None, None, None),  # withheld: asked too
])
def test_the_language_of_a_new_call(stored, dialed, caller, expected):
    assert for_call(stored, dialed, caller, {"+74955550100": "ru"}, OURS) == expected


def test_number_languages_are_checked():
    assert parse_number_languages("+1 555 000 1000=en, +74955550100 = ru", OURS, "US") == {
        "+15550001000": "en", "+74955550100": "ru"}
    with pytest.raises(ConfigError, match=r"'\+74955550100=de' is not like"):
        parse_number_languages("+74955550100=de", OURS, "US")


def test_an_unknown_korean_caller_and_a_caller_of_our_russian_number_hear_their_flows(tmp_path):
    server = Server(tmp_path, {"NUMBER_LANGUAGES": "+15550002000=ru"}).start()
    try:
        korean = server.call("+821055501234", [{"keys": "4"}, {"keys": "9"}])  # opening hours, then goodbye
        assert "노스윈드에 전화해 주셔서 감사합니다." in " ".join(korean["heard"])
        assert server.query("SELECT language FROM calls WHERE sid = ?", [korean["call_sid"]]) == [{"language": "ko"}]
        russian = server.call("+12025550177", [{"keys": "9"}], to="+15550002000")
        assert server.query("SELECT language FROM calls WHERE sid = ?", [russian["call_sid"]]) == [{"language": "ru"}]
        english = server.call("+12025550178", [{"keys": "9"}])
        assert server.query("SELECT language FROM calls WHERE sid = ?", [english["call_sid"]]) == [{"language": "en"}]

        german = "+4915112345678"  # nothing says which language: the language menu (the key interrupts it)
        chose = server.call(german, [{"keys": "2"}, {"keys": "9"}])
        assert chose["heard"][0] == "For English, press 1."
        assert "Спасибо, что позвонили в Нортвинд." in " ".join(chose["heard"])
        assert server.query("SELECT language FROM callers WHERE number = ?", [german]) == [{"language": "ru"}]
        again = server.call(german, [{"keys": "9"}])  # remembered: no menu the second time
        assert again["heard"][0].startswith("Спасибо, что позвонили")
        withheld = server.call("anonymous", [{"silence": True}, {"keys": "9"}])  # nothing chosen: DEFAULT_LANGUAGE
        assert withheld["heard"][:4] == ["For English, press 1.", "Для русского языка нажмите 2.",
                                         "برای فارسی، 3 را فشار دهید.", "한국어는 4번을 누르세요."]
        assert server.query("SELECT language FROM calls WHERE sid = ?", [withheld["call_sid"]]) == [{"language": "en"}]
    finally:
        server.stop()


def test_a_persian_call_is_played_from_our_renderings_even_its_place_in_line(tmp_path):
    """Twilio's <Say> has no Persian voice: every prompt of a Persian call, the dynamic ones too (a caller's place in
    line, rendered the moment it is first needed), is our own rendering in <Play>; none is a <Say>."""
    server = Server(tmp_path).start()
    try:
        server.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", datetime.now(UTC)))
        result = server.call("+989121234567", [{"keys": "2"}], hold_s=6)  # billing: nobody is signed in, so they wait
        assert [e["text"] for e in result["events"] if e["kind"] == "say"] == []
        played = [e["text"] for e in result["events"] if e["kind"] == "play"]
        assert played[0] == "از تماس شما با نورث‌ویند سپاسگزاریم. مکالمه ممکن است ضبط شود."
        assert any(text.startswith("شما نفر 1 در صف هستید.") for text in played), played
    finally:
        server.stop()
