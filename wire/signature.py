"""Twilio's request signatures: HMAC-SHA1 of the URL and the sorted POST parameters, with the auth token."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends for a request to ``url`` with ``params``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def valid(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    return RequestValidator(auth_token).validate(url, params, signature)
