"""Sign-in, roles, CSRF and escaping: every API route refuses strangers (401) and the wrong role (403), a post
without the CSRF token is refused, and what callers say or are called is shown as text, never run as markup."""

from __future__ import annotations

import re
import tempfile
import time

import pytest
import requests
from playwright.sync_api import expect

from app import create_app
from tests.conftest import new_number, new_sid
from tests.databases import app_config
from tests.web_support import (  # noqa: F401 (fixtures browser, web)
    Session,
    add_caller,
    add_past_call,
    browser_fixture,
    sign_in,
    signed_in,
    web_fixture,
)

WAIT_MS = 15_000
PATH_VALUES = {"sid": new_sid(), "agent_id": "olga", "action": "answer", "number": "+12025550188", "voicemail_id": "1"}
OTHER_ROLE = {"agent": ("sam", "supervisor"), "supervisor": ("olga", "agent")}


def guarded_routes() -> list[tuple[str, str, frozenset[str]]]:
    """(method, path, roles allowed) of every JSON API route and the event stream, read from the app itself."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(app_config({"TESTING": True, "DATABASE_PATH": f"{folder}/routes.db"}))
        found = []
        for rule in app.url_map.iter_rules():
            if rule.rule.startswith("/api/") or rule.rule == "/events":
                path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PATH_VALUES[m.group(1)], rule.rule)
                roles = getattr(app.view_functions[rule.endpoint], "allowed_roles", frozenset())
                found += [(method, path, roles) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
        return found


ROUTES = guarded_routes()
SINGLE_ROLE = [(method, path, roles) for method, path, roles in ROUTES if len(roles) == 1]


def test_every_api_route_says_which_roles_may_use_it():
    assert len(ROUTES) >= 12
    assert all(roles for _, _, roles in ROUTES), [path for _, path, roles in ROUTES if not roles]
    own = {(path, roles) for _, path, roles in SINGLE_ROLE}
    assert ("/api/presence", frozenset({"agent"})) in own
    assert ("/api/agents/olga/skills", frozenset({"supervisor"})) in own


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_an_api_route_refuses_a_request_without_a_session(web, method, path, roles):
    response = requests.request(method, web.base_url + path, json={}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "sign in first", "status": 401}


@pytest.mark.parametrize(("method", "path", "roles"), SINGLE_ROLE, ids=[f"{m} {p}" for m, p, _ in SINGLE_ROLE])
def test_an_api_route_refuses_the_wrong_role(web, method, path, roles):
    (allowed,) = roles
    user, role = OTHER_ROLE[allowed]
    response = signed_in(web, user).request(method, path, json={})
    assert response.status_code == 403
    assert response.json()["error"] == f"{role}s may not use this"


def test_pages_send_strangers_to_sign_in_and_refuse_the_wrong_role(web):
    for page in ("/", "/agent", "/supervisor", "/phone"):
        response = requests.get(web.base_url + page, allow_redirects=False, timeout=10)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/login?next={page}"
    agent, supervisor = signed_in(web, "olga"), signed_in(web, "sam")
    refused = agent.get("/supervisor")
    assert refused.status_code == 403 and refused.headers["Content-Type"].startswith("text/html")
    assert "agents may not use this" in refused.text
    assert supervisor.get("/agent").status_code == 403
    assert agent.get("/agent").status_code == 200 and supervisor.get("/supervisor").status_code == 200


def test_the_session_cookie_is_http_only_and_same_site(web):
    session = Session(web.base_url)
    session.csrf = re.search(r'name="csrf_token" value="([^"]+)"', session.get("/login").text).group(1)
    response = session.post("/login", data={"username": "olga", "password": "correct horse battery staple",
                                             "csrf_token": session.csrf}, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/agent"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_wrong_password_signs_nobody_in(web):
    session = Session(web.base_url)
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get("/login").text).group(1)
    response = session.post("/login", data={"username": "olga", "password": "guess", "csrf_token": token})
    assert response.status_code == 401 and "Wrong user name or password." in response.text
    assert session.get("/agent", allow_redirects=False).status_code == 302


def test_a_post_without_the_csrf_token_is_refused(web):
    stranger = requests.Session()
    stranger.get(web.base_url + "/login", timeout=10)
    form = {"username": "olga", "password": "correct horse battery staple"}
    assert stranger.post(web.base_url + "/login", data=form, allow_redirects=False, timeout=10).status_code == 400
    assert stranger.get(web.base_url + "/agent", allow_redirects=False, timeout=10).status_code == 302

    agent = signed_in(web, "olga")
    token, agent.csrf = agent.csrf, ""
    refused = agent.post("/logout", allow_redirects=False)
    assert refused.status_code == 400 and "CSRF" in refused.text
    assert agent.get("/agent").status_code == 200  # still signed in
    before = web.query("SELECT presence FROM agents WHERE id = 'olga'")[0]["presence"]
    for sent in ("", "forged-" + token):
        agent.csrf = sent
        response = agent.post("/api/presence", json={"presence": "break"})
        assert response.status_code == 400
        assert response.json()["error"].startswith("the CSRF token is missing or wrong")
    assert web.query("SELECT presence FROM agents WHERE id = 'olga'")[0]["presence"] == before


def test_an_agent_sees_only_calls_offered_to_or_handled_by_them(web):
    caller = add_caller(web, new_number(), name="Dana")
    hers = add_past_call(web, caller, 1, agent_id="olga", intent="billing")
    someone_elses = add_past_call(web, caller, 2, intent="orders")
    agent, supervisor = signed_in(web, "olga"), signed_in(web, "sam")
    assert agent.get(f"/api/calls/{hers}/context").json()["caller"]["name"] == "Dana"
    assert agent.get(f"/api/calls/{someone_elses}/context").status_code == 403
    assert agent.post(f"/api/calls/{someone_elses}/wrapup", json={"notes": "mine now"}).status_code == 403
    assert supervisor.get(f"/api/calls/{someone_elses}/context").json()["call"]["intent"] == "orders"
    assert supervisor.get(f"/api/calls/{new_sid()}/context").status_code == 404


EVIL = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def test_caller_supplied_text_is_shown_as_text_in_the_pages(web, browser):
    number = new_number()
    caller = add_caller(web, number, name=f"Eve {EVIL}", language="ru", notes=f"VIP {EVIL}")
    add_past_call(web, caller, 1, intent="billing", outcome="answered", notes=f"promised {EVIL}")
    sid = web.start_call(number, [{"keys": "2"}])
    deadline = time.monotonic() + 20
    while not web.query("SELECT 1 FROM queue_items WHERE id = ? AND state = 'waiting'", [sid]):
        assert time.monotonic() < deadline, "the call did not reach the queue"
        time.sleep(0.1)
    web.seed(lambda db: db.execute("UPDATE calls SET transcript = ? WHERE sid = ?", [f"I said {EVIL}", sid]))

    supervisor = browser.new_page()
    sign_in(supervisor, web, "sam")
    expect(supervisor.locator(f'#waiting tr[data-item="{sid}"]')).to_contain_text(f"Eve {EVIL}", timeout=WAIT_MS)
    assert supervisor.locator("#waiting script, #waiting img").count() == 0

    agent = browser.new_page()
    sign_in(agent, web, "olga")
    agent.get_by_role("button", name="Available").click()
    pop = agent.locator("#pop")
    expect(pop.locator('[data-field="name"]')).to_have_text(f"Eve {EVIL}", timeout=WAIT_MS)
    expect(pop.locator('[data-field="transcript"]')).to_have_text(f"I said {EVIL}")
    expect(pop.locator('[data-field="caller_notes"]')).to_have_text(f"VIP {EVIL}")
    expect(pop.locator("#history tbody")).to_contain_text(f"promised {EVIL}")
    assert pop.locator("script, img").count() == 0
    assert agent.evaluate("window.pwned") is None and supervisor.evaluate("window.pwned") is None

    phone_page = signed_in(web, "olga").get("/phone").text
    assert "Eve &lt;script&gt;window.pwned = 1&lt;/script&gt;" in phone_page and EVIL not in phone_page
    expect(agent.get_by_role("button", name="Reject")).to_be_enabled(timeout=WAIT_MS)
    agent.get_by_role("button", name="Reject").click()
    expect(agent.locator("#presence")).to_have_text("break", timeout=WAIT_MS)
