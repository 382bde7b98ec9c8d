"""Errors of the speech package."""

from core.errors import ServiceError


class SpeechError(ServiceError):
    """A speech operation that cannot be done: no model, bad audio, broken stream message, no network."""
