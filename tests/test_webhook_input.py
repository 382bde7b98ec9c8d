"""Malformed webhook parameters get a clear 400; no form value, however odd, produces a 500."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import new_sid, signed_post

FIELDS = ["CallSid", "From", "To", "CallStatus", "Digits", "SpeechResult", "Confidence", "CallDuration", "QueueResult", "QueuePosition", "Direction"]
odd_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=string.digits + "*#+w ", max_size=30),
    st.sampled_from(["", "anonymous", "restricted", "+", "NaN", "-1", "1e309", "<Say>hi</Say>", "\x00", "CA" + "g" * 32, "🙂" * 10]),
)
forms = st.dictionaries(st.sampled_from(FIELDS), odd_text, max_size=len(FIELDS))
paths = st.sampled_from(["/voice/incoming", "/voice/status", "/voice/step/main_menu", "/voice/step/order_lookup", "/voice/step/survey",
                         "/voice/step/nonexistent", "/voice/queue/wait?queue=general", "/voice/queue/result", "/voice/step/main_menu?attempt=x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths, form=forms, known_call=st.booleans())
def test_garbage_forms_never_cause_a_server_error(client, path, form, known_call):
    if known_call:
        sid = new_sid()
        signed_post(client, "/voice/incoming", {"CallSid": sid, "From": "+15551230001"})
        form = {**form, "CallSid": sid}
    response = signed_post(client, path, form)
    assert response.status_code in (200, 204, 400), (path, form, response.status_code, response.data[:300])
    if response.status_code == 400:
        assert response.json["error"]


def test_missing_call_sid_is_explained(client):
    response = signed_post(client, "/voice/incoming", {"From": "+15551230001"})
    assert response.status_code == 400
    assert "CallSid must be" in response.json["error"]


def test_a_step_for_an_unknown_call_is_a_400(client):
    response = signed_post(client, "/voice/step/main_menu", {"CallSid": new_sid(), "Digits": "1"})
    assert response.status_code == 400
    assert "unknown call" in response.json["error"]


def test_caller_speech_cannot_break_the_twiml(client, db):
    """Speech is text from the caller: it goes into XML escaped, never as markup."""
    sid = new_sid()
    signed_post(client, "/voice/incoming", {"CallSid": sid, "From": "+15551230001"})
    response = signed_post(client, "/voice/step/main_menu", {"CallSid": sid, "SpeechResult": "</Say><Hangup/> & <Dial>+1900</Dial>", "Confidence": "0.9"})
    assert response.status_code == 200
    assert b"<Dial>+1900" not in response.data
    assert b"<Hangup/>" not in response.data.split(b"<Gather")[0]


def test_withheld_numbers_are_unknown_callers_and_leave_no_caller_row(client, db):
    callers_before = db["callers"].count
    for raw in ("anonymous", "restricted", "", "+266696687", "Anonymous"):
        sid = new_sid()
        response = signed_post(client, "/voice/incoming", {"CallSid": sid, "From": raw})
        assert response.status_code == 200
        assert db["calls"].get(sid)["caller_id"] is None
    assert db["callers"].count == callers_before


def test_a_malformed_callback_step_is_a_clear_400(client):
    """Every package's error type reaches the one error handler: a bad callback query is a 400 with a message."""
    response = signed_post(client, "/voice/callback/status?callback=1", {"CallSid": new_sid(), "CallStatus": "completed"})
    assert response.status_code == 400
    assert "agent is required" in response.json["error"]
