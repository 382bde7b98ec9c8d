"""The one error handler: it decides the response format from the request and the error.

Every package's errors derive from ``core.errors.ServiceError`` and carry their status. Twilio's webhooks
get TwiML (a spoken apology for a broken call step); the browser pages get an HTML page, or a redirect to
/login when nobody is signed in; everything else (the JSON API, the event stream) gets JSON
``{"error": message, "status": code}``.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from core.errors import ServiceError

log = logging.getLogger(__name__)

PAGE_BLUEPRINTS = frozenset({"pages", "auth"})

APOLOGY = "Sorry, something went wrong on our side. Please call again later."
# A page's error in its reader's language; the server's own message follows it as it is (English).
EXPLANATIONS = {
    400: _l("The request could not be used."),
    403: _l("You may not use this page."),
    404: _l("There is no such page."),
    405: _l("This page cannot be used that way."),
    413: _l("What was sent is too large."),
    429: _l("Too many requests: wait a moment and try again."),
}
SERVER_FAULT = _l("Something went wrong on our side; try again in a moment.")


def _voice_apology() -> Response:
    """A caller is on the line: apologise out loud instead of letting Twilio play its error."""
    response = VoiceResponse()
    response.say(APOLOGY)
    response.hangup()
    return Response(str(response), mimetype="text/xml")


def _page_error(status: int, message: str) -> Response:
    """A browser page: sign in first (401), else an HTML page saying what went wrong."""
    if status == 401:
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=back))
    explanation = EXPLANATIONS.get(status, SERVER_FAULT if status >= 500 else EXPLANATIONS[400])
    page = render_template("error.html", status=status, explanation=explanation, message=message)
    return Response(page, status, mimetype="text/html")


def handle(error: Exception) -> Response | tuple[Response, int]:
    """Turn any error into a clear response: JSON with a message, TwiML apology for a broken call step."""
    if isinstance(error, HTTPException):
        status, message = error.code or 500, error.description
    elif isinstance(error, ServiceError):
        status, message = error.status_code, str(error)
    else:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if request.path.startswith("/voice/") and request.path != "/voice/status":
            return _voice_apology()
        status, message = 500, "internal error; it has been logged"
    if status >= 500:
        log.error("%s %s -> %s: %s", request.method, request.path, status, message)
    else:
        log.info("%s %s -> %s: %s", request.method, request.path, status, message)
    if request.blueprint in PAGE_BLUEPRINTS:
        return _page_error(status, message)
    return jsonify(error=message, status=status), status


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle)
