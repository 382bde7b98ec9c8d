"""Twilio's request signatures: HMAC-SHA1 of the URL and the sorted POST parameters, with the auth token."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio sends for a request to ``url`` with ``params`` (the ``twilio`` library's own
    computation: what Twilio documents, and what the simulator signs with)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def _signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's algorithm: the URL, then each parameter name and value (names sorted, each name's distinct values
    sorted), HMAC-SHA1 with the auth token, base64; ``params`` as the (name, value) pairs sent."""
    text = url + "".join(name + value for name, value in sorted(set(params)))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def valid(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """Is ``signature`` Twilio's for this request? As the ``twilio`` library's validator decides (the URL as
    requested, else with the default port added or removed, since Twilio may sign either), computing the second
    form only when the first does not match. ``params``: the (name, value) pairs of the POST body."""
    if hmac.compare_digest(_signature(auth_token, url, params), signature):
        return True
    parsed = urlparse(url)
    other = remove_port(parsed) if parsed.port else add_port(parsed)
    return hmac.compare_digest(_signature(auth_token, other, params), signature)
