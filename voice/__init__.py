"""Twilio's webhooks, thin: verify the signature, parse the form, load what the transition needs, ask the core,
apply its changes in one write transaction, answer with TwiML (``VoiceResponse``).

``views``: the call (incoming, flow steps, queue, ringing an agent, status); ``callbacks``: the callback
offer and the callback call; ``media``: the Media Streams WebSocket; ``prompts``: rendered prompt audio.
"""
