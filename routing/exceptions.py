"""Errors of the routing package."""


class RoutingError(Exception):
    """A routing request that cannot be honoured (unknown agent or queue, wrong state, bad data)."""

    status_code = 400
