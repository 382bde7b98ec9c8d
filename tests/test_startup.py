"""Start-up refuses settings under which production would silently go wrong, saying what to change."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app import create_app
from core.errors import ConfigError
from routing import admin
from store.migrations import migrate
from tests.conftest import ROOT
from tests.databases import app_config
from tests.databases import connect_db as connect

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "f" * 32, "PUBLIC_BASE_URL": "https://cc.example.com",
          "CALLBACK_CALLER_ID": "+12025550123", "TWILIO_API_BASE_URL": "http://127.0.0.1:9"}


def twilio_app(tmp_path, **changes):
    return create_app(app_config({"DATABASE_PATH": str(tmp_path / "t.db"), **TWILIO, **changes}))


def test_twilio_mode_with_sound_settings_starts(tmp_path):
    assert twilio_app(tmp_path).config["LOCAL_MODE"] is False


@pytest.mark.parametrize(("changes", "named"), [
    ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL is not set"),
    ({"PUBLIC_BASE_URL": "cc.example.com"}, "is not an http(s) URL"),
    ({"CALLBACK_CALLER_ID": "+15550001000"}, "CALLBACK_CALLER_ID is still the fictional"),
    ({"CALLBACK_CALLER_ID": "12345"}, "is not a valid E.164"),
    ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN is not set"),
    ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID must be"),
])
def test_twilio_mode_refuses_settings_that_cannot_work(tmp_path, changes, named):
    with pytest.raises(ConfigError, match="refusing to start") as refused:
        twilio_app(tmp_path, **changes)
    assert named in str(refused.value)


def test_agents_that_cannot_be_client_identities_stop_twilio_mode_and_are_only_warned_about_locally(tmp_path, caplog):
    db = connect(str(tmp_path / "t.db"))
    migrate(db)
    db["agents"].insert({"id": "dr.who", "name": "Who", "role": "agent", "languages": "[]", "presence": "offline"})
    with pytest.raises(ConfigError, match=r"agent ids \['dr.who'\] cannot be Twilio <Client> identities"):
        twilio_app(tmp_path)
    create_app(app_config({"DATABASE_PATH": str(tmp_path / "t.db"), "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "x" * 32}))
    assert "cannot be Twilio <Client> identities" in caplog.text


def test_loading_an_agent_whose_id_cannot_be_a_client_identity_is_refused(tmp_path):
    db = connect(str(tmp_path / "t.db"))
    migrate(db)
    (tmp_path / "c.yaml").write_text("agents:\n  - {id: 'ann lee', name: Ann}\n")
    with pytest.raises(Exception, match="Twilio <Client> identity"):
        admin.load_center(db, tmp_path / "c.yaml", None)


def test_the_server_exits_with_the_reason_instead_of_a_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_PATH": str(tmp_path / "s.db"), "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
           "TWILIO_AUTH_TOKEN": "f" * 32}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "PUBLIC_BASE_URL is not set" in result.stderr and "Traceback" not in result.stderr
