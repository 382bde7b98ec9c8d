"""Errors of the ivr package."""

from core.errors import ServiceError


class IvrError(ServiceError):
    """A webhook or flow problem: bad input (400) or a broken flow."""
