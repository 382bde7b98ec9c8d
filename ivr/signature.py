"""Twilio request signatures: every webhook is checked, in every mode."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from ivr.exceptions import IvrError


def public_url(base_url: str, full_path: str) -> str:
    """The URL Twilio signed: the public base plus the path and query the request arrived with."""
    return base_url.rstrip("/") + (full_path[:-1] if full_path.endswith("?") else full_path)


def check(auth_token: str, url: str, params: Mapping, signature: str | None) -> None:
    """Raise a 403 IvrError unless ``signature`` is Twilio's signature of ``url`` and ``params``."""
    if not signature:
        raise IvrError("missing X-Twilio-Signature", 403)
    if not RequestValidator(auth_token).validate(url, params, signature):
        raise IvrError("invalid X-Twilio-Signature", 403)


def sign(auth_token: str, url: str, params: Mapping) -> str:
    """The X-Twilio-Signature Twilio would send (used by the simulator)."""
    return RequestValidator(auth_token).compute_signature(url, params)
