"""Errors of the store package."""

from core.errors import ServiceError


class StoreError(ServiceError):
    """A write or read the store refuses (unknown row, conflicting state)."""


class Stale(StoreError):
    """The call changed after it was read: what was decided on it is decided again."""

    status_code = 409


class StoreUnavailable(StoreError):
    """The database cannot be written now: locked past the wait, full, read-only or failing. What was decided is
    kept (``turn``), so a webhook can still answer the caller and journal its report for later."""

    status_code = 503

    def __init__(self, message: str, turn: object = None) -> None:
        super().__init__(message)
        self.turn = turn
