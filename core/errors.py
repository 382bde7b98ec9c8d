"""The one error base class: every error the server answers carries its HTTP status.

Each package raises its own narrow subclass (``IvrError``, ``RoutingError``, …); the one error
handler (``web.errors``) catches ``ServiceError`` and answers with ``status_code`` and the message.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request the server refuses, with the status to answer (400 unless the class or caller says)."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ServiceError):
    """Malformed input."""


class Forbidden(ServiceError):
    """Signed wrongly, or not allowed."""

    status_code = 403


class NotFound(ServiceError):
    """No such thing."""

    status_code = 404


class Conflict(ServiceError):
    """Not possible in the current state."""

    status_code = 409


class Unavailable(ServiceError):
    """Something the request needs is down (the voice platform, the database)."""

    status_code = 503


class ConfigError(ServiceError):
    """The settings cannot work: start-up refuses them, naming what to change."""

    status_code = 500
