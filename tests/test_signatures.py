"""Every Twilio webhook refuses requests Twilio did not sign with our auth token, and writes nothing."""

from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from tests.conftest import TOKEN, new_sid, signed_post
from tests.databases import app_config
from voice.form import pairs
from wire.signature import sign, valid

VOICE_ENDPOINTS = ["/voice/incoming", "/voice/status", "/voice/step/main_menu", "/voice/queue/wait?queue=general", "/voice/queue/result"]


def table_counts(db) -> dict[str, int]:
    return {t: db[t].count for t in ("callers", "calls", "call_events", "call_statuses", "transfers", "monitors",
                                     "callbacks", "queue_items")}


@pytest.mark.parametrize("path", VOICE_ENDPOINTS)
def test_unsigned_request_is_refused_and_writes_nothing(client, db, path):
    before = table_counts(db)
    response = client.post(path, data={"CallSid": new_sid(), "From": "+15551230001", "CallStatus": "completed"})
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json["error"]
    assert table_counts(db) == before


@pytest.mark.parametrize("path", VOICE_ENDPOINTS)
def test_forged_signature_is_refused_and_writes_nothing(client, db, path):
    params = {"CallSid": new_sid(), "From": "+15551230001", "CallStatus": "completed"}
    before = table_counts(db)
    forged = sign("some-other-token", "http://localhost" + path, params)
    response = client.post(path, data=params, headers={"X-Twilio-Signature": forged})
    assert response.status_code == 403
    assert table_counts(db) == before


def test_every_voice_webhook_refuses_unsigned_and_forged_requests_and_writes_nothing(app, client, db):
    """Not only the main ones: every POST under /voice/ (conference and transfer legs, callbacks, click-to-call…)."""
    paths = sorted(rule.rule.replace("<node>", "main_menu") for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/voice/") and "POST" in rule.methods)
    assert {"/voice/conference/events", "/voice/conference/monitor", "/voice/transfer/leg", "/voice/outbound/connect",
            "/voice/callback/status"} <= set(paths)
    params = {"CallSid": new_sid(), "From": "+15551230001", "CallStatus": "completed",
              "StatusCallbackEvent": "conference-end", "ConferenceSid": "CF" + "0" * 32}
    before = table_counts(db)
    for path in paths:
        query = f"?call={params['CallSid']}&agent=olga&supervisor=sam"
        unsigned = client.post(path + query, data=params)
        forged = client.post(path + query, data=params,
                             headers={"X-Twilio-Signature": sign("some-other-token", "http://localhost" + path + query, params)})
        assert (unsigned.status_code, forged.status_code) == (403, 403), path
    assert table_counts(db) == before


def test_signature_covers_the_parameters(client, db):
    """A signature taken over other parameters (a replay with a changed From) is refused."""
    sid = new_sid()
    good = sign(TOKEN, "http://localhost/voice/incoming", {"CallSid": sid, "From": "+15551230001"})
    response = client.post("/voice/incoming", data={"CallSid": sid, "From": "+15559999999"}, headers={"X-Twilio-Signature": good})
    assert response.status_code == 403
    assert db["calls"].count == 0


def test_signature_covers_the_query_string(client, db):
    sid = new_sid()
    assert signed_post(client, "/voice/incoming", {"CallSid": sid, "From": "+15551230001"}).status_code == 200
    params = {"CallSid": sid, "Digits": "1"}
    signed_for_other_attempt = sign(TOKEN, "http://localhost/voice/step/main_menu?attempt=1", params)
    response = client.post("/voice/step/main_menu?attempt=3", data=params, headers={"X-Twilio-Signature": signed_for_other_attempt})
    assert response.status_code == 403


def test_signed_request_is_accepted(client, db):
    response = signed_post(client, "/voice/incoming", {"CallSid": new_sid(), "From": "+15551230001", "To": "+15550001000"})
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert db["calls"].count == 1


def test_public_base_url_is_what_gets_signed(tmp_path):
    """Behind a proxy Twilio signs the public URL; the server checks against PUBLIC_BASE_URL, not its own host."""
    from app import create_app

    app = create_app(app_config({"DATABASE_PATH": str(tmp_path / "p.db"), "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_BASE_URL": "https://cc.example.com"}))
    client = app.test_client()
    params = {"CallSid": new_sid(), "From": "+15551230001"}
    for url, expected in (("https://cc.example.com/voice/incoming", 200), ("http://localhost/voice/incoming", 403)):
        response = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": sign(TOKEN, url, params)})
        assert response.status_code == expected


def test_local_mode_generates_a_token_and_still_checks(tmp_path):
    from app import create_app

    app = create_app(app_config({"DATABASE_PATH": str(tmp_path / "l.db"), "TWILIO_AUTH_TOKEN": "", "TWILIO_ACCOUNT_SID": ""}))
    assert app.config["LOCAL_MODE"] is True
    assert len(app.config["TWILIO_AUTH_TOKEN"]) >= 32
    response = app.test_client().post("/voice/incoming", data={"CallSid": new_sid()})
    assert response.status_code == 403


FORM_PAIRS = st.lists(st.tuples(st.sampled_from(["From", "Digits", "SpeechResult", "a b", "ä%+&="]), st.text(max_size=12)),
                      max_size=8)
URLS = st.sampled_from(["https://cc.example.com/voice/incoming", "https://cc.example.com:443/voice/step/m?attempt=1",
                        "http://127.0.0.1:5000/voice/status"])


@given(FORM_PAIRS)
def test_form_bodies_parse_as_the_standard_library_parses_them(sent):
    body = urlencode(sent)
    assert pairs(body) == parse_qsl(body, keep_blank_values=True)


@given(FORM_PAIRS, URLS)
def test_signatures_are_checked_as_the_twilio_library_checks_them(sent, url):
    """Repeated names, several values, the port variants: the same verdict as RequestValidator, right or wrong."""
    signature = RequestValidator(TOKEN).compute_signature(url, MultiDict(sent))
    assert RequestValidator(TOKEN).validate(url, MultiDict(sent), signature)
    assert valid(TOKEN, url, sent, signature)
    assert not valid(TOKEN, url, [*sent, ("Extra", "1")], signature)
    assert not valid("other-" + TOKEN, url, sent, signature)
    for variant in (url.replace(":443", ""), url.replace(".com/", ".com:443/"), url.replace(":5000", ":5001")):
        assert valid(TOKEN, variant, sent, signature) == RequestValidator(TOKEN).validate(variant, MultiDict(sent), signature)
