"""Status callbacks: Twilio retries them, so each (CallSid, CallStatus) is applied once."""

from tests.conftest import new_sid, signed_post


def start_call(client, sid, number="+15551230001"):
    assert signed_post(client, "/voice/incoming", {"CallSid": sid, "From": number, "CallStatus": "ringing"}).status_code == 200


def test_the_same_status_delivered_twice_is_applied_once(client, db):
    sid = new_sid()
    start_call(client, sid)
    params = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "42"}
    assert signed_post(client, "/voice/status", params).status_code == 204
    row_after_first = db["calls"].get(sid)
    events_after_first = db["call_events"].count

    assert signed_post(client, "/voice/status", params).status_code == 204
    assert db["calls"].get(sid) == row_after_first
    assert db["call_events"].count == events_after_first
    assert db.execute("SELECT count(*) FROM call_statuses WHERE call_sid = ?", [sid]).fetchone()[0] == 1


def test_a_completed_call_gets_its_end_time_and_outcome(client, db):
    sid = new_sid()
    start_call(client, sid)
    signed_post(client, "/voice/status", {"CallSid": sid, "CallStatus": "in-progress"})
    signed_post(client, "/voice/status", {"CallSid": sid, "CallStatus": "completed", "CallDuration": "7"})
    row = db["calls"].get(sid)
    assert row["status"] == "completed"
    assert row["answered_at"] and row["ended_at"]
    assert row["outcome"] == "hung-up-in-ivr"


def test_status_for_an_unknown_call_is_kept_without_error(client, db):
    sid = new_sid()
    assert signed_post(client, "/voice/status", {"CallSid": sid, "CallStatus": "completed"}).status_code == 204
    assert db["calls"].count == 0
    assert db["call_statuses"].count == 1


def test_a_bad_status_is_a_clear_400(client, db):
    response = signed_post(client, "/voice/status", {"CallSid": new_sid(), "CallStatus": "exploded"})
    assert response.status_code == 400
    assert "CallStatus must be one of" in response.json["error"]
