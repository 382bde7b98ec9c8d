"""Errors of the speech package."""


class SpeechError(Exception):
    """A speech operation that cannot be done: no model, bad audio, broken stream message, no network."""

    status_code = 400
