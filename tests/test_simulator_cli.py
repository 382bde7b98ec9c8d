"""`python -m simulator call` against a running server, as a new user would run it."""

import json
import subprocess
import sys

from store import calls as store_calls
from tests.conftest import ROOT, new_number


def simulate(server, *args):
    return subprocess.run([sys.executable, "-m", "simulator", "call", "--base-url", server.base_url, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_transcript_of_an_order_status_call(server):
    number = new_number()

    def seed(db):
        caller = store_calls.upsert_caller(db, number, name="CLI Caller", language="en")
        db["orders"].upsert({"number": "7007", "caller_id": caller["id"], "item": "a lamp", "status": "shipped", "eta": "soon"}, pk="number")

    server.seed(seed)
    result = simulate(server, "--from", number, "--digits", "1", "--digits", "7007#", "--digits", "9")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("pressed  1" in line for line in lines)
    assert any("heard    Order 7 0 0 7, a lamp, is shipped." in line for line in lines)
    assert lines[-1].startswith("call CA") and "completed" in lines[-1]


def test_json_summary_has_the_documented_fields(server):
    result = simulate(server, "--from", new_number(), "--digits", "2", "--hold", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {"call_sid", "outcome", "heard", "intent", "queue", "agent", "callback"} <= set(summary)
    assert summary["intent"] == "billing" and summary["queue"] == "billing"
    assert summary["outcome"] == "abandoned"


def test_no_server_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "simulator", "call", "--from", "+15551230001", "--base-url", "http://127.0.0.1:9"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no server at http://127.0.0.1:9" in result.stderr


def test_in_process_mode_signs_with_the_given_token(server):
    """Against a server that is not in local mode the CLI runs the call itself; a wrong token is refused (403)."""
    result = subprocess.run([sys.executable, "-c", (
        "import sys; from simulator.platform import Platform, Script, Keys;"
        f"p = Platform('{server.base_url}', 'wrong-token');"
        "c = p.place_call('+15551230001', script=Script([Keys('4'), Keys('9')]));"
        "print(c.summary()['outcome']); print([e for e in c.log if e['kind'] == 'http-error'][0]['status'])")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["completed", "403"], result.stderr


def test_a_recorded_caller_is_streamed_from_any_file_sox_reads(server, tmp_path):
    """--audio: a 44.1 kHz stereo WAV of a Korean caller saying 환불 (refund) reaches the refund option."""
    recording = tmp_path / "refund.wav"
    spoken = subprocess.run(["espeak-ng", "-v", "ko", "--stdout", "환불"], capture_output=True, check=True).stdout
    subprocess.run(["sox", "-t", "wav", "-", "-r", "44100", "-c", "2", str(recording)], input=spoken, check=True)
    number = new_number()
    server.seed(lambda db: store_calls.upsert_caller(db, number, language="ko"))
    result = simulate(server, "--from", number, "--audio", str(recording), "--say", "네", "--lang", "ko", "--hold",
                      "0.5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["intent"] == "refund" and str(recording) in summary["said"]
    missing = simulate(server, "--from", number, "--audio", str(tmp_path / "nothing.wav"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
