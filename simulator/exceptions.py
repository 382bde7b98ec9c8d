"""Errors of the simulator package."""


class SimulatorError(Exception):
    """The server sent something Twilio would reject, or a simulated call cannot go on."""

    status_code = 400


class WebhookFailed(SimulatorError):
    """Our request to the server failed: refused, timed out, or answered with an HTTP error."""


class NoSuchThing(SimulatorError):
    """Asked about a call, conference or participant the simulator does not have."""

    status_code = 404
