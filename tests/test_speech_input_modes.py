"""SPEECH_INPUT decides how menus listen; Twilio's SpeechResult goes through the same intent code."""

from xml.etree import ElementTree

from tests.conftest import TOKEN, heard_in, new_sid, signed_post
from tests.databases import app_config


def start(client, number="+15551230001"):
    sid = new_sid()
    assert signed_post(client, "/voice/incoming", {"CallSid": sid, "From": number}).status_code == 200
    return sid


def test_a_language_without_a_model_offers_keys_and_never_mentions_speech(app, client):
    response = signed_post(client, "/voice/incoming", {"CallSid": new_sid(), "From": "+15551230001"})
    body = response.data.decode()
    spoken = heard_in(app, body).lower()
    assert "press 1." in spoken and " say " not in f" {spoken} " and "speech" not in spoken
    assert 'input="dtmf"' in body and "<Connect" not in body


def test_korean_menus_listen_over_media_streams(client, db):
    db["callers"].insert({"number": "+15551230009", "language": "ko"})
    body = signed_post(client, "/voice/incoming", {"CallSid": new_sid(), "From": "+15551230009"}).data.decode()
    verbs = ElementTree.fromstring(body)
    names = [verb.tag for verb in verbs]
    # the stream starts before the prompt (barge-in), keys end the prompt's Gather, and if the socket never decides,
    # a pause and a redirect still reach the turn's step
    assert names[names.index("Start"):] == ["Start", "Gather", "Pause", "Redirect"], names
    stream = verbs.find("Start/Stream")
    assert stream.get("url").endswith("/voice/media") and stream.get("track") == "inbound_track"
    assert stream.get("name") == "main_menu:1"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert parameters["node"] == "main_menu" and int(parameters["prompt_ms"]) > 5000  # how long the prompt plays
    assert verbs.find("Redirect").text.endswith("/voice/step/main_menu?attempt=1&via=stream")
    assert verbs.find("Gather").get("input") == "dtmf"


def test_twilio_speech_results_are_matched_like_vosk_results(tmp_path):
    from app import create_app

    app = create_app(app_config({"DATABASE_PATH": str(tmp_path / "t.db"), "TWILIO_AUTH_TOKEN": TOKEN, "SPEECH_INPUT": "twilio"}))
    client = app.test_client()
    sid = start(client)
    body = signed_post(client, "/voice/incoming", {"CallSid": new_sid(), "From": "+15551230001"}).data.decode()
    assert 'input="dtmf speech"' in body
    response = signed_post(client, "/voice/step/main_menu?attempt=1", {"CallSid": sid, "SpeechResult": "opening hours please", "Confidence": "0.92"})
    assert "We are open Monday to Friday" in heard_in(app, response.data.decode())


def test_store_transcripts_false_keeps_the_intent_but_not_the_words(tmp_path):
    from app import create_app
    from store.db import connect

    app = create_app(app_config({"DATABASE_PATH": str(tmp_path / "t.db"), "TWILIO_AUTH_TOKEN": TOKEN,
                                 "SPEECH_INPUT": "twilio", "STORE_TRANSCRIPTS": False}))
    client = app.test_client()
    sid = start(client)
    signed_post(client, "/voice/step/main_menu?attempt=1", {"CallSid": sid, "SpeechResult": "opening hours please", "Confidence": "0.92"})
    db = connect(app.config["DATABASE"])
    row = db["calls"].get(sid)
    assert row["intent"] == "opening_hours"
    assert row["transcript"] is None and "opening hours please" not in row["speech"]
    events = [e["data"] for e in db.query("SELECT data FROM call_events WHERE call_sid = ?", [sid])]
    assert not any("opening hours please" in e for e in events)
