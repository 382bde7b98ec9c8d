"""The pages in their readers' languages, against the real server and in headless Chromium: the language comes from
the person's choice, else the browser's, else DEFAULT_LANGUAGE; Persian reads right to left with its own digits; a
Russian supervisor reads counts and waits in Russian plural forms; a choice made on the page survives signing in
again. The expected texts come from the compiled catalogs, never from the page itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml
from babel.support import Translations
from playwright.sync_api import expect

from routing import admin
from tests.conftest import ROOT, Server, new_number
from tests.test_callbacks_faults import wait_for
from tests.web_support import (  # noqa: F401 (fixture browser)
    PASSWORD,
    add_caller,
    add_past_call,
    browser_fixture,
    now,
    shot,
    sign_in,
    signed_in,
    start_web_server,
)

WAIT_MS = 15_000
QUEUE_WAIT_S = 120
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
SUPPORT_NAMES = {"en": "Technical support", "ru": "Техподдержка", "fa": "پشتیبانی فنی", "ko": "기술 지원"}
# Reza reads his pages in Persian, Ivan supervises in Russian, Nina has chosen nothing (her browser says English).
PEOPLE = {
    "queues": {"support": {"names": SUPPORT_NAMES, "skills": {"support": 3}, "sl_target_s": 20, "wrapup_s": 1}},
    "agents": [
        {"id": "reza", "name": "Reza Karimi", "password": PASSWORD, "languages": ["fa", "en"],
         "skills": {"support": 5}, "page_language": "fa"},
        {"id": "ivan", "name": "Ivan Petrov", "role": "supervisor", "password": PASSWORD, "page_language": "ru"},
        {"id": "nina", "name": "Nina Lee", "password": PASSWORD, "languages": ["en"], "skills": {"orders": 3}},
    ],
}


def catalog(language: str) -> Translations:
    return Translations.load(str(ROOT / "web" / "translations"), [language])


def plural(language: str, singular: str, plural_text: str, count: int) -> str:
    return catalog(language).ngettext(singular, plural_text, count) % {"num": count}


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("i18n")
    server = start_web_server(workdir)
    people = workdir / "people.yaml"
    people.write_text(yaml.safe_dump(PEOPLE, allow_unicode=True), encoding="utf-8")
    server.seed(lambda db: admin.load_center(db, people, now()))
    yield server
    server.stop()


def page_language(response) -> tuple[str, str]:
    found = re.search(r'<html lang="(\w+)" dir="(\w+)">', response.text)
    return found.group(1), found.group(2)


def test_the_sign_in_page_speaks_the_browsers_language_else_the_default(web, tmp_path):
    for accept, expected in (("fa-IR,fa;q=0.9,en;q=0.5", ("fa", "rtl")), ("ru-RU,ru;q=0.9", ("ru", "ltr")),
                             ("ko", ("ko", "ltr")), ("de-DE,de;q=0.9", ("en", "ltr")), ("", ("en", "ltr"))):
        response = web.sim.get(web.base_url + "/login", headers={"Accept-Language": accept})
        assert page_language(response) == expected, accept
        assert catalog(expected[0]).gettext("User name") in response.text
    korean_default = Server(tmp_path, {"DEFAULT_LANGUAGE": "ko"}).start()
    try:
        response = korean_default.sim.get(korean_default.base_url + "/login", headers={"Accept-Language": "de"})
        assert page_language(response) == ("ko", "ltr") and catalog("ko").gettext("User name") in response.text
    finally:
        korean_default.stop()


def test_a_persons_choice_beats_the_browser_and_is_checked(web):
    nina = signed_in(web, "nina")
    assert page_language(nina.get("/agent", headers={"Accept-Language": "fa"})) == ("fa", "rtl")  # no choice yet
    chosen = nina.post("/api/me/language", json={"language": "ru"})
    assert chosen.status_code == 200 and chosen.json() == {"language": "ru"}
    assert page_language(nina.get("/agent", headers={"Accept-Language": "fa"})) == ("ru", "ltr")
    refused = nina.post("/api/me/language", json={"language": "de"})
    assert refused.status_code == 400 and "language must be one of en, ru, fa, ko" in refused.json()["error"]
    no_csrf = nina.post("/api/me/language", json={"language": "en"}, headers={"X-CSRF-Token": ""})
    assert no_csrf.status_code == 400
    assert web.query("SELECT ui_language FROM agents WHERE id = 'nina'")[0]["ui_language"] == "ru"
    stranger = web.sim.post(web.base_url + "/api/me/language", json={"language": "en"})
    assert stranger.status_code == 401
    # an error page is in the reader's language too (the server's own detail follows, as it is)
    forbidden = nina.get("/supervisor")
    assert forbidden.status_code == 403 and catalog("ru").gettext("You may not use this page.") in forbidden.text
    nina.post("/api/me/language", json={"language": "en"})


def test_a_persian_agent_reads_a_right_to_left_screen_pop_of_a_ringing_call(web, browser):
    fa = catalog("fa")
    number = new_number()
    caller = add_caller(web, number, name="مریم احمدی", language="fa", notes="Prefers e-mail; speaks English too.")
    add_past_call(web, caller, 3, intent="order_status", outcome="abandoned", notes="Asked about order 7781.")

    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(page, web, "reza")  # Chromium says en-US: his own choice, Persian, wins
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "fa")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("#live")).to_have_text(fa.gettext("Live"), timeout=WAIT_MS)
    expect(page.locator("#presence")).to_have_text(fa.gettext("offline"))
    page.get_by_role("button", name=fa.gettext("available").capitalize()).click()
    expect(page.locator("#presence")).to_have_text(fa.gettext("available"), timeout=WAIT_MS)

    sid = web.start_call(number, [{"keys": "3"}])  # the Persian menu's 3: technical support
    pop = page.locator("#pop")
    expect(pop).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#pop-title")).to_have_text(fa.gettext("Incoming call"))
    expect(page.locator("#phone-status")).to_have_text(
        fa.gettext("Ringing: a call from the %(queue)s queue") % {"queue": SUPPORT_NAMES["fa"]}, timeout=WAIT_MS)
    labels = ["Caller", "Number", "Language", "Queue", "Intent", "Confidence", "IVR path", "Caller said", "Waited",
              "Why you", "Customer notes"]
    expect(pop.locator("dt:visible")).to_have_text([fa.gettext(label) for label in labels])  # (Transferred: only when it was)
    headers = ["Date", "Intent", "Outcome", "Agent", "Disposition", "Notes", "Call back"]
    expect(pop.locator("#history th")).to_have_text([fa.gettext(header) for header in headers])
    for english in (*labels, *headers, "Incoming call", "Previous calls", "Open orders", "Answer", "Hang up"):
        assert fa.gettext(english) != english
    expect(pop.locator('[data-field="name"]')).to_have_text("مریم احمدی")
    number_field = pop.locator('[data-field="number"]')
    expect(number_field).to_have_text(number)  # the number as it is, left to right
    assert number_field.evaluate("e => getComputedStyle(e).direction") == "ltr"
    expect(pop.locator('[data-field="language"]')).to_have_text("فارسی")
    expect(pop.locator('[data-field="queue"]')).to_have_text(SUPPORT_NAMES["fa"])
    expect(pop.locator('[data-field="intent"]')).to_have_text("پشتیبانی فنی")  # the fa flow's name for "support"
    expect(pop.locator('[data-field="caller_notes"]')).to_have_text("Prefers e-mail; speaks English too.")
    expect(pop.locator('[data-field="wait"]')).to_have_text(re.compile(f"^[{PERSIAN_DIGITS}]+:[{PERSIAN_DIGITS}]{{2}}$"))
    history = pop.locator("#history tbody tr").first
    expect(history).to_contain_text(fa.gettext("abandoned"))
    expect(history).to_contain_text("وضعیت سفارش")
    expect(history).to_contain_text("Asked about order 7781.")  # what was written stays as it was written

    # Mirrored: the screen pop's accent is on the right, labels right of their values.
    assert pop.evaluate("e => getComputedStyle(e).borderRightWidth") == "5px"
    assert pop.evaluate("e => getComputedStyle(e).borderLeftWidth") == "1px"
    label, value = pop.locator("dt").first.bounding_box(), pop.locator("dd").first.bounding_box()
    assert label["x"] > value["x"]
    answer = page.get_by_role("button", name=fa.gettext("Answer"))
    expect(answer).to_be_enabled(timeout=WAIT_MS)
    page.screenshot(path=str(shot("agent-fa.png")), full_page=True)

    answer.click()
    expect(page.locator("#presence")).to_have_text(fa.gettext("on a call"), timeout=WAIT_MS)
    page.get_by_label(fa.gettext("Disposition")).select_option(label=fa.gettext("Resolved"))
    page.get_by_role("button", name=fa.gettext("Save notes")).click()
    expect(page.locator("#saved")).to_have_text(fa.gettext("Saved."))
    assert web.query("SELECT disposition FROM calls WHERE sid = ?", [sid])[0]["disposition"] == "resolved"
    page.get_by_role("button", name=fa.gettext("Hang up")).click()
    assert web.wait_call(sid)["agent"] == "reza"
    page.get_by_role("button", name=fa.gettext("offline").capitalize()).click()
    expect(page.locator("#presence")).to_have_text(fa.gettext("offline"), timeout=WAIT_MS)


def test_a_russian_supervisor_reads_the_live_monitor_with_russian_plural_forms(web, browser):
    ru = catalog("ru")
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    sign_in(page, web, "ivan")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#live")).to_have_text(ru.gettext("Live"), timeout=WAIT_MS)
    expect(page.locator("#queues thead th")).to_have_text([ru.gettext(h) for h in (
        "Queue", "Waiting", "Ringing", "Longest wait", "Estimated wait", "Service level", "Target", "ASA",
        "Abandon rate", "Answered", "Abandoned", "Callbacks pending", "Callbacks failed", "Agents free / staffed")])
    expect(page.locator("#waiting-summary")).to_have_text(ru.gettext("Nobody is waiting."))
    expect(page.locator('#queues tr[data-queue="support"] th')).to_have_text(SUPPORT_NAMES["ru"])
    summary = page.locator("#waiting-summary")
    billing_waiting = page.locator('#queues tr[data-queue="billing"] [data-field="waiting"]')

    # Russian callers press 2 (billing); nobody who could take them is signed in, so they wait.
    calls = []
    for count in (1, 2, 5, 21):
        while len(calls) < count:
            calls.append(web.start_call(new_number(), [{"keys": "2"}]))
        # how fast a burst of callers gets through the menu depends on the machine: wait for them in the database,
        # then the page must show what the database holds
        wait_for(lambda expected=count: web.query("SELECT count(*) AS n FROM queue_items WHERE queue = 'billing' "
                                                  "AND state = 'waiting'")[0]["n"] == expected,
                 QUEUE_WAIT_S, f"{count} callers waiting in billing")
        expect(billing_waiting).to_have_text(str(count), timeout=WAIT_MS)
        callers = plural("ru", "%(num)d caller waiting", "%(num)d callers waiting", count)
        expect(summary).to_contain_text(callers, timeout=WAIT_MS)
        # the longest wait in words, in the form Russian uses for the number shown
        wait = ru.gettext("%(callers)s; longest wait %(wait)s") % {"callers": callers, "wait": "(.+)"}
        spoken = re.fullmatch(wait, summary.inner_text()).group(1)
        seconds = int(re.match(r"\d+", spoken).group())
        assert spoken in {plural("ru", "%(num)d second", "%(num)d seconds", seconds),
                          plural("ru", "%(num)d minute", "%(num)d minutes", seconds)}
    forms = {plural("ru", "%(num)d caller waiting", "%(num)d callers waiting", n).split(" ", 1)[1] for n in (1, 2, 5)}
    assert len(forms) == 3  # one, few, many: three different words
    expect(page.locator('#agents tr[data-agent="reza"] [data-field="presence"]')).to_have_text(ru.gettext("offline"))
    page.screenshot(path=str(shot("supervisor-ru.png")), full_page=True)
    for sid in calls:
        web.sim.post(f"{web.base_url}/sim/calls/{sid}/hangup", json={})
    expect(summary).to_have_text(ru.gettext("Nobody is waiting."), timeout=WAIT_MS)


def test_a_language_chosen_on_the_page_is_kept_across_signing_in_again(web, browser):
    ru = catalog("ru")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, web, "nina")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Available")).to_be_visible()
    page.get_by_label("Language").select_option(label="Русский")
    expect(page.locator("html")).to_have_attribute("lang", "ru", timeout=WAIT_MS)
    expect(page.get_by_role("button", name=ru.gettext("available").capitalize())).to_be_visible()
    page.get_by_role("button", name=ru.gettext("Sign out")).click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")  # nobody signed in: the browser's language
    sign_in(page, web, "nina")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#live")).to_have_text(ru.gettext("Live"), timeout=WAIT_MS)
    page.get_by_label(ru.gettext("Language")).select_option(label="English")
    expect(page.locator("html")).to_have_attribute("lang", "en", timeout=WAIT_MS)


def test_latin_digits_can_be_chosen_for_every_language(browser, tmp_path):
    server = start_web_server(tmp_path, {"LATIN_DIGITS": "true"})
    try:
        people = tmp_path / "people.yaml"
        people.write_text(yaml.safe_dump(PEOPLE, allow_unicode=True), encoding="utf-8")
        server.seed(lambda db: admin.load_center(db, people, now()))
        page = browser.new_context().new_page()
        sign_in(page, server, "reza")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        page.get_by_role("button", name=catalog("fa").gettext("available").capitalize()).click()
        expect(page.locator("#in-state")).to_have_text(re.compile(r"^[0-9]+:[0-9]{2}$"), timeout=WAIT_MS)
    finally:
        server.stop()
