"""Errors of the store package."""

from core.errors import ServiceError


class StoreError(ServiceError):
    """A write or read the store refuses (unknown row, conflicting state)."""
