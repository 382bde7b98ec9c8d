"""Errors of the store package."""

from core.errors import ServiceError


class StoreError(ServiceError):
    """A write or read the store refuses (unknown row, conflicting state)."""


class Stale(StoreError):
    """The call changed after it was read: what was decided on it is decided again."""

    status_code = 409
