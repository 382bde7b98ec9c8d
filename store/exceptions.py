"""Errors of the store package."""


class StoreError(Exception):
    """A write or read the store refuses (unknown row, conflicting state)."""

    status_code = 400
