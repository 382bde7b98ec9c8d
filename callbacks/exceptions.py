"""Errors of the callbacks package."""


class CallbackError(Exception):
    """A callback cannot be requested, placed or changed as asked."""

    status_code = 400
