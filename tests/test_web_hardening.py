"""Production trust, part one (issue 12): sign-in throttling, sessions that a logout or a new password ends, demo
logins refused with Twilio, private database files, masked phone numbers in logs, request size limits and nosniff.
A real server process (python app.py) throughout."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import requests
import yaml

from routing import admin
from tests.conftest import ROOT, Server, new_number, wait_until
from tests.web_support import PASSWORD, csrf_of, now, signed_in, start_web_server, web_fixture  # noqa: F401 (fixture web)


def attempt(server: Server, user: str, password: str, address_session: requests.Session | None = None) -> requests.Response:
    """One sign-in through the form, CSRF token and all."""
    session = address_session or requests.Session()
    csrf = csrf_of(session.get(server.base_url + "/login", timeout=10).text)
    return session.post(server.base_url + "/login", data={"username": user, "password": password, "csrf_token": csrf},
                        allow_redirects=False, timeout=10)


def test_five_wrong_passwords_lock_the_account_for_a_while_with_429_and_retry_after(web):
    for _ in range(5):
        assert attempt(web, "olga", "not-her-password").status_code == 401
    locked = attempt(web, "olga", PASSWORD)  # even the right password, for now
    assert locked.status_code == 429
    assert 60 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins. Try again in" in locked.text
    assert attempt(web, "sam", PASSWORD).status_code == 302  # another account from the same address still can
    web.seed(lambda db: db.execute("DELETE FROM sign_in_failures"))  # (the window is 15 minutes; the next tests)


def test_a_logout_ends_the_session_everywhere_even_a_copied_cookie(web):
    session = signed_in(web, "sam")
    copied = requests.Session()
    copied.cookies.update(session.cookies)
    assert copied.get(web.base_url + "/supervisor", allow_redirects=False, timeout=10).status_code == 200
    assert session.post("/logout", allow_redirects=False).status_code == 302
    gone = copied.get(web.base_url + "/supervisor", allow_redirects=False, timeout=10)
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]


def test_a_new_password_ends_the_sessions_of_the_old_one(web, tmp_path):
    session = signed_in(web, "olga")
    assert session.get("/agent", allow_redirects=False).status_code == 200
    changed = tmp_path / "olga.yaml"
    changed.write_text(yaml.safe_dump({"agents": [{"id": "olga", "name": "Olga", "password": "a-new-secret",
                                                   "languages": ["ru"]}]}))
    web.seed(lambda db: admin.load_center(db, changed, now()))
    assert session.get("/agent", allow_redirects=False).status_code == 302
    assert signed_in(web, "olga", "a-new-secret").get("/agent", allow_redirects=False).status_code == 200
    restored = tmp_path / "olga-back.yaml"
    restored.write_text(yaml.safe_dump({"agents": [{"id": "olga", "name": "Olga", "password": PASSWORD,
                                                    "languages": ["ru"]}]}))
    web.seed(lambda db: admin.load_center(db, restored, now()))


def test_every_response_says_nosniff_and_big_bodies_are_refused_with_413(web):
    for method, path in (("GET", "/healthz"), ("GET", "/login"), ("POST", "/api/presence"), ("POST", "/voice/incoming"),
                         ("GET", "/static/css/app.css")):
        response = requests.request(method, web.base_url + path, timeout=10)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (path, response.status_code)
    big = {"CallSid": "CA" + "0" * 32, "Padding": "x" * 400_000}
    refused = requests.post(web.base_url + "/voice/incoming", data=big, timeout=10)
    assert refused.status_code == 413 and refused.json()["error"]
    session = signed_in(web, "sam")
    assert session.post("/api/agents/olga/presence", data="{" + " " * 400_000 + "}",
                        headers={"Content-Type": "application/json"}).status_code == 413


def test_the_database_and_instance_files_are_private(web):
    for name in (web.db_path, web.db_path + "-wal", web.db_path + "-shm"):
        if os.path.exists(name):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(ROOT / "instance").st_mode) == 0o700


def test_phone_numbers_are_masked_in_the_server_log(web):
    number = new_number()
    web.call(number, [{"keys": "9"}])  # a caller, and a URL with the number in it (the access log):
    assert web.sim.post(f"{web.base_url}/sim/customers/{number}", json={"behaviour": "busy"}, timeout=10).ok
    wait_until(lambda: "/sim/customers/" in web.log_path.read_text())
    log = web.log_path.read_text()
    assert number not in log and number.replace("+", "%2B") not in log
    assert number[-4:] in log  # still there, masked: +•••••••1234


def test_demo_logins_are_refused_with_twilio_and_named_at_start_up(tmp_path):
    env = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32, "PUBLIC_BASE_URL": "http://127.0.0.1:1",
           "CALLBACK_CALLER_ID": "+12025550123"}
    server = Server(tmp_path, env)
    seeded = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "seed-demo"], cwd=ROOT,
                            env={**server.env}, capture_output=True, text=True)
    assert seeded.returncode == 0, seeded.stderr
    assert "work in local mode only" in seeded.stdout
    server.start()
    try:
        refused = attempt(server, "sam", "demo")
        assert refused.status_code == 403 and "Demo logins work in local mode only." in refused.text
        wait_until(lambda: "demo logins" in server.log_path.read_text())
        assert "are refused outside local mode" in server.log_path.read_text()
    finally:
        server.stop()


def test_the_local_simulator_answers_only_its_token_json_and_loopback_hosts(web):
    sid = web.start_call(new_number(), [{"keys": "9"}])
    stranger = requests.Session()
    for method, path in (("POST", "/sim/calls"), ("GET", f"/sim/calls/{sid}"), ("POST", "/sim/clients/olga"),
                         ("POST", f"/sim/calls/{sid}/hangup"), ("GET", "/sim/calls")):
        response = stranger.request(method, web.base_url + path, json={"from": "+12025550100"}, timeout=10)
        assert response.status_code == 401 and "token" in response.json()["error"], (path, response.status_code)
    form = web.sim.post(web.base_url + "/sim/calls", data={"from": "+12025550100"}, timeout=10)  # an auto-submitted form
    assert form.status_code == 415
    assert web.sim.get(f"{web.base_url}/sim/calls/{sid}", timeout=10).status_code == 200  # the token opens it
    rebound = {"Host": f"attacker.example:{web.port}"}  # DNS rebinding: another site's name, our address
    for path in ("/login", "/sim/", "/healthz"):
        assert requests.get(web.base_url + path, headers=rebound, timeout=10).status_code == 400, path
    assert requests.get(web.base_url + "/login", headers={"Host": f"localhost:{web.port}"}, timeout=10).status_code == 200


def test_behind_a_trusted_proxy_throttling_counts_the_callers_address_and_otherwise_ignores_forwarded_headers(tmp_path):
    """TRUSTED_PROXIES=1: X-Forwarded-For (as nginx sets it) is the address counted. Without it, the header is
    anyone's to send, so it changes nothing: a guesser cannot escape the per-address limit by inventing addresses."""
    (tmp_path / "behind").mkdir()
    (tmp_path / "direct").mkdir()
    behind = start_web_server(tmp_path / "behind", {"TRUSTED_PROXIES": "1"})
    direct = start_web_server(tmp_path / "direct")
    try:
        for server, escapes in ((behind, True), (direct, False)):
            for n in range(20):  # twenty wrong guesses over twenty accounts, "from" one address
                guess = requests.Session()
                guess.headers["X-Forwarded-For"] = "203.0.113.7"
                assert attempt(server, f"nobody{n}", "guess", guess).status_code == 401
            elsewhere = requests.Session()
            elsewhere.headers["X-Forwarded-For"] = "198.51.100.20"
            response = attempt(server, "sam", PASSWORD, elsewhere)
            assert response.status_code == (302 if escapes else 429), server.env.get("TRUSTED_PROXIES")
            again = requests.Session()
            again.headers["X-Forwarded-For"] = "203.0.113.7"
            assert attempt(server, "sam", PASSWORD, again).status_code == 429
    finally:
        behind.stop()
        direct.stop()
