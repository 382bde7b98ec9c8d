"""A local stand-in for Twilio Voice: places calls against the server and runs its TwiML."""

from simulator.platform import ClientPhone, CustomerPhone, Keys, Platform, Say, Script, Silence, SimCall

__all__ = ["ClientPhone", "CustomerPhone", "Keys", "Platform", "Say", "Script", "Silence", "SimCall"]
