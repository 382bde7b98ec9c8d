"""The telephony port — what we ask of the voice platform — and its adapters.

``port.Telephony`` is the interface (redirect a live call, place a call, hang up, fetch a call, the
calls placed to a number); ``twilio_rest.TwilioTelephony`` speaks Twilio's REST API with the
``twilio`` client (pointed at the simulator's REST face in local mode); ``devices.LocalDevices`` is
the simulator's control API for the phones people hold in local mode (agents' softphones, the caller
phone page). ``services.bootstrap`` chooses the adapters; nothing here knows the simulator's code.
"""
