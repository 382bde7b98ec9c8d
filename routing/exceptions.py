"""Errors of the routing package."""

from core.errors import ServiceError


class RoutingError(ServiceError):
    """A routing request that cannot be honoured (unknown agent or queue, wrong state, bad data)."""
