"""Twilio request signatures: every voice request is checked, in every mode, before anything is read or written."""

from __future__ import annotations

from flask import request

from core.errors import Forbidden
from core.urls import websocket_url
from voice.form import sent
from voice.journaled import REPLAY
from web.context import services
from wire.signature import valid


def public_url(base_url: str, full_path: str) -> str:
    """The URL Twilio signed: the public base plus the path and query the request arrived with."""
    return base_url.rstrip("/") + (full_path[:-1] if full_path.endswith("?") else full_path)


def verify() -> None:
    """403 for any request not signed by Twilio with our auth token (runs before every voice view); a journaled
    webhook replayed in process was checked when it arrived."""
    if request.environ.get(REPLAY):
        return
    config = services().config
    base = config["PUBLIC_BASE_URL"] or request.host_url  # local use: the host the request came to
    if request.environ.get("HTTP_UPGRADE", "").lower() == "websocket":  # Twilio signs the wss:// URL
        base = websocket_url(base)
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise Forbidden("missing X-Twilio-Signature")
    if not valid(config["TWILIO_AUTH_TOKEN"], public_url(base, request.full_path), sent(), signature):
        raise Forbidden("invalid X-Twilio-Signature")
