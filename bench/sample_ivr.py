"""The stateless sample the webhook bench measures us against: Twilio's own sample IVR, TwilioDevEd's
ivr-phone-tree-python, rewritten here (nothing is fetched at run time) with the same shape.

What it mirrors: a Flask app whose welcome webhook answers a ``<Gather numDigits=1>`` around a prompt,
and whose menu webhook reads ``Digits`` and answers a ``<Say>`` (with a hang-up) or another ``<Gather>``,
or a ``<Redirect>`` back to the welcome; ``VoiceResponse`` renders the TwiML; nothing is stored and, as in
the sample, no signature is checked. Our paths are used, so the very same requests reach both apps;
a status callback is answered 204 (and /healthz, for the benchmark to see it is up).
"""

from __future__ import annotations

from flask import Flask, Response, request, url_for
from twilio.twiml.voice_response import VoiceResponse

INSTRUCTIONS = ("Our opening hours are Monday to Friday from 8 in the morning to 8 in the evening, and on Saturday "
                "from 9 to 1. Thank you for calling.")
MENU = ("For our opening hours, press 4. To go back to the main menu, press the star key.")


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/voice/incoming")
    def welcome() -> Response:
        response = VoiceResponse()
        with response.gather(num_digits=1, action=url_for("menu", node="main_menu"), method="POST") as gather:
            gather.play(url="/static/hold.wav", loop=3)
        return twiml(response)

    @app.post("/voice/step/<node>")
    def menu(node: str) -> Response:
        response = VoiceResponse()
        selected = request.form.get("Digits", "")
        if selected == "4":
            response.say(INSTRUCTIONS, voice="alice", language="en-GB")
            response.hangup()
        elif selected in ("1", "2", "3"):
            with response.gather(num_digits=1, action=url_for("menu", node=node), method="POST") as gather:
                gather.say(MENU, voice="alice", language="en-GB", loop=3)
        else:
            response.say("Returning to the main menu", voice="alice", language="en-GB")
            response.redirect(url_for("welcome"))
        return twiml(response)

    @app.post("/voice/status")
    def status() -> Response:
        return Response(status=204)

    @app.get("/healthz")
    def healthz() -> str:
        """For the benchmark to know the server is up."""
        return "ok"

    return app
