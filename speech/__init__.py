"""Speech for the contact center: Twilio Media Streams sessions, Vosk recognition, intent, prompts.

Modules, each usable without Flask: ``audio`` (μ-law, framing, voice detection), ``models``
(which Vosk model serves a language), ``recognize`` (the recognizer pool), ``intent`` (act /
confirm / reject), ``stream`` (the Media Streams protocol and turn-taking), ``tts`` (prompt
rendering), ``synth`` (synthesized callers for tests), ``lexicon`` (per-language word lists).
"""
