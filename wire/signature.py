"""Twilio's request signatures: HMAC-SHA1 of the URL and the sorted POST parameters, with the auth token."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends for a request to ``url`` with ``params``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def valid(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """Is ``signature`` Twilio's for this request? As the ``twilio`` library's validator decides (the URL as
    requested, else with the default port added or removed, since Twilio may sign either), computing the second
    form only when the first does not match."""
    validator = RequestValidator(auth_token)
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    parsed = urlparse(url)
    other = remove_port(parsed) if parsed.port else add_port(parsed)
    return hmac.compare_digest(validator.compute_signature(other, params), signature)
