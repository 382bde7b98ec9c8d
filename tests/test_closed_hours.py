"""Closed hours and holidays in whole calls through the simulator: a caller out of hours hears when we open and
books a callback for that moment (its place is taken then, not now); on a holiday the caller hears its name in
their own language; a caller who presses nothing hears goodbye. Callbacks never fall on a holiday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import yaml

from core.hours import DAYS, parse
from routing import admin, service
from routing.model import Presence
from store import calls as store_calls
from tests.conftest import ROOT, Server, new_number


def start(tmp_path, **settings: str) -> Server:
    server = Server(tmp_path, {"TIMEZONE": "UTC", **settings}).start()
    server.seed(lambda db: admin.load_center(db, ROOT / "tests" / "data" / "center.yaml", datetime.now(UTC)))
    return server


def in_two_days() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def test_a_caller_out_of_hours_hears_when_we_open_and_books_a_callback_for_then(tmp_path):
    opening = in_two_days()
    server = start(tmp_path, OPENING_HOURS=f"{DAYS[opening.weekday()]} 09:00-10:00")
    try:
        number = new_number()
        booked = server.call(number, [{"keys": "1"}])
        heard = " ".join(booked["heard"])
        assert f"We are closed now. We open again on {opening:%A} 09:00." in heard
        assert "To be called back when we open, press 1." in heard
        assert f"when we open, on {opening:%A} 09:00" in heard
        row = server.query("SELECT status, scheduled_for, queue, entered_at FROM callbacks WHERE number = ?", [number])
        assert len(row) == 1 and row[0]["status"] == "pending" and row[0]["queue"] == "general"
        assert datetime.fromisoformat(row[0]["scheduled_for"]) == opening
        item = server.query("SELECT kind, not_before FROM queue_items WHERE kind = 'callback'")
        assert [datetime.fromisoformat(i["not_before"]) for i in item] == [opening]  # nobody dials it before
        call = server.query("SELECT outcome, path FROM calls WHERE sid = ?", [booked["call_sid"]])[0]
        assert call["outcome"] == "callback" and '"lines_open"' in call["path"] and '"main_menu"' not in call["path"]

        nothing = server.call(new_number(), [])
        assert nothing["heard"][-1] == "Thank you for calling Northwind. Goodbye." and nothing["status"] == "completed"
        assert server.query("SELECT count(*) AS n FROM callbacks") == [{"n": 1}]
    finally:
        server.stop()


def test_on_a_holiday_callers_hear_its_name_in_their_language(tmp_path):
    today = datetime.now(UTC).date()
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text(yaml.safe_dump([{"date": today.isoformat(), "names": {
        "en": "Founders' Day", "ru": "День основателей", "fa": "روز بنیان‌گذاران", "ko": "창립 기념일"}}],
        allow_unicode=True), encoding="utf-8")
    server = start(tmp_path, HOLIDAYS_FILE=str(holidays))
    try:
        russian = new_number()
        server.seed(lambda db: store_calls.upsert_caller(db, russian, name="Ирина", language="ru"))
        heard = " ".join(server.call(russian, [])["heard"])
        tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        weekday = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")[tomorrow.weekday()]
        assert f"Сегодня мы не работаем: День основателей. Мы снова открыты: {weekday} 00:00." in heard
        english = " ".join(server.call(new_number(), [{"keys": "1"}])["heard"])
        assert f"We are closed today for Founders' Day. We open again on {tomorrow:%A} 00:00." in english
        scheduled = server.query("SELECT scheduled_for FROM callbacks")
        assert [datetime.fromisoformat(r["scheduled_for"]) for r in scheduled] == [tomorrow]
    finally:
        server.stop()


def test_the_next_opening_skips_holidays():
    monday = date(2026, 12, 7)
    hours = parse("mon-fri 08:00-20:00", "UTC", frozenset({monday, monday + timedelta(days=1)}))
    friday_night = datetime(2026, 12, 4, 21, tzinfo=UTC)
    assert hours.next_open(friday_night) == datetime(2026, 12, 9, 8, tzinfo=UTC)  # Wednesday
    assert not hours.is_open(datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert hours.holiday(datetime(2026, 12, 8, 3, tzinfo=UTC)) == monday + timedelta(days=1)


def test_a_queue_that_refuses_callers_while_nobody_is_staffed_takes_a_message_instead(tmp_path):
    server = start(tmp_path)
    try:
        center = tmp_path / "refusing.yaml"
        center.write_text(yaml.safe_dump({"queues": {"support": {"skills": {"support": 3}, "refuse_unstaffed": True}},
                                          "agents": [{"id": "tess", "name": "Tess", "languages": ["en"],
                                                      "skills": {"support": 4}}]}))
        server.seed(lambda db: admin.load_center(db, center, datetime.now(UTC)))
        refused = server.call(new_number(), [{"keys": "3"}, {"say": "my router keeps dropping the line", "lang": "en"}])
        heard = " ".join(refused["heard"])
        assert "Nobody who can take your call is at work just now" in heard and "Please leave your message" in heard
        assert server.query("SELECT queue, ended_by FROM voicemails WHERE call_sid = ?", [refused["call_sid"]]) == [
            {"queue": "support", "ended_by": "silence"}]
        assert server.query("SELECT count(*) AS n FROM routing_events WHERE kind = 'enqueued' AND queue = 'support'"
                            ) == [{"n": 0}]

        server.seed(lambda db: service.set_presence(db, "tess", Presence.AVAILABLE, datetime.now(UTC)))
        served = server.call(new_number(), [{"keys": "3"}])  # (she may be rung before the caller hears the queue)
        assert server.query("SELECT queue FROM calls WHERE sid = ?", [served["call_sid"]]) == [{"queue": "support"}]
        assert "Nobody who can take your call" not in " ".join(served["heard"])
        assert server.query("SELECT count(*) AS n FROM routing_events WHERE kind = 'enqueued' AND queue = 'support'"
                            ) == [{"n": 1}]
    finally:
        server.stop()
