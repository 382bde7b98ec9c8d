"""Errors of the callbacks package."""

from core.errors import ServiceError


class CallbackError(ServiceError):
    """A callback cannot be requested, placed or changed as asked."""
