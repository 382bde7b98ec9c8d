"""The Twilio REST client: api.twilio.com, or the built-in simulator in local mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twilio.rest import Client


def rest_client(config: Mapping[str, Any]) -> Client:
    """A REST client for the configured account (API key if set), pointed at TWILIO_API_BASE_URL when given."""
    username = config["TWILIO_API_KEY"] or config["TWILIO_ACCOUNT_SID"]
    password = config["TWILIO_API_SECRET"] or config["TWILIO_AUTH_TOKEN"]
    client = Client(username, password, config["TWILIO_ACCOUNT_SID"])
    if config["TWILIO_API_BASE_URL"]:
        client.api.base_url = config["TWILIO_API_BASE_URL"]
    return client
