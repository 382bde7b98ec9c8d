"""With Twilio configured, the agent's softphone is the Twilio Voice JS SDK served from our own static files, with an
access token for the agent's client identity; the local-mode simulated phone and caller phone are gone."""

from __future__ import annotations

import re

import jwt
import pytest
from playwright.sync_api import expect

from tests.web_support import browser_fixture, sign_in, signed_in, start_web_server  # noqa: F401 (fixture browser)

TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "f" * 32,
    "TWILIO_API_KEY": "SK" + "2" * 32,
    "TWILIO_API_SECRET": "test-api-secret-0123456789abcdef",
    "TWILIO_TWIML_APP_SID": "AP" + "3" * 32,
    "TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # nothing listens: no request may leave this machine in a test
    "PUBLIC_BASE_URL": "http://cc.example.test",  # Twilio mode refuses to start without it
    "CALLBACK_CALLER_ID": "+12025550123",  # and with the fictional default
}
TWILIO_HOSTS = re.compile(r"^(https|wss)://[^/]*twilio\.com/")


@pytest.fixture(scope="module")
def twilio_web(tmp_path_factory):
    server = start_web_server(tmp_path_factory.mktemp("twilio"), TWILIO)
    yield server
    server.stop()


def test_the_token_lets_the_agents_browser_receive_calls_for_the_agents_identity(twilio_web):
    response = signed_in(twilio_web, "olga").post("/api/softphone/token")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = response.json()["token"]
    claims = jwt.decode(token, TWILIO["TWILIO_API_SECRET"], algorithms=["HS256"])
    assert claims["iss"] == TWILIO["TWILIO_API_KEY"] and claims["sub"] == TWILIO["TWILIO_ACCOUNT_SID"]
    assert claims["grants"]["identity"] == "olga"
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == TWILIO["TWILIO_TWIML_APP_SID"]
    assert claims["exp"] - claims["nbf"] == 3600


def test_the_agent_page_loads_the_vendored_voice_sdk_and_fetches_nothing_from_a_cdn(twilio_web, browser):
    page = browser.new_page()
    page.route(TWILIO_HOSTS, lambda route: route.abort())  # the test machine talks to no one outside
    page.route_web_socket(TWILIO_HOSTS, lambda socket: socket.close())
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    with page.expect_response("**/api/softphone/token") as token:
        sign_in(page, twilio_web, "olga")
    assert token.value.status == 200
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    expect(page.locator("#phone-h")).to_contain_text("Twilio Voice")
    expect(page.locator("#sdk-status")).to_have_text("Connecting to Twilio…")  # Twilio is out of reach here
    assert twilio_web.base_url + "/static/vendor/twilio-voice-sdk-2.18.5.min.js" in fetched
    assert [url for url in fetched if not url.startswith(twilio_web.base_url + "/")] == []


def test_without_the_simulator_there_is_no_simulated_phone_nor_caller_phone(twilio_web):
    agent = signed_in(twilio_web, "olga")
    assert agent.post("/api/softphone/answer").status_code == 404
    assert agent.get("/phone").status_code == 404
    assert agent.post("/api/phone/calls", json={"from": "+15551230001"}).status_code == 404
