"""Errors of the telephony adapters."""

from core.errors import ServiceError


class TelephonyError(ServiceError):
    """The voice platform refused a request or could not be reached."""

    status_code = 503


class CallNotInProgress(TelephonyError):
    """The call has ended (or never started): it cannot be redirected or hung up (Twilio error 21220)."""

    status_code = 409


class Unreachable(TelephonyError):
    """The platform could not be reached (connection refused, timeout): worth trying again later."""
