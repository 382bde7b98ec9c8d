"""Errors of the simulator package."""


class SimulatorError(Exception):
    """The server sent something Twilio would reject, or a simulated call cannot go on."""

    status_code = 400


class WebhookFailed(SimulatorError):
    """Our request to the server failed: refused, timed out, or answered with an HTTP error."""
