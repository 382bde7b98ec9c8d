"""The browser pages: the agent's softphone, the supervisor's monitor, the caller's phone (local mode).

Server-rendered Jinja templates (autoescaped) with small ES modules from ``static/js``; everything
is served from here (no CDN), and a Content-Security-Policy allows scripts from this server only.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, Response, redirect, render_template, request
from flask_babel import get_locale
from werkzeug.exceptions import NotFound

from core.constants import DISPOSITIONS, LANGUAGES
from routing import desk, reports
from store import desk as store_desk
from store import routing as store_routing
from web.auth import ROLES, allow, current_user, guard, home_url
from web.context import services
from web.i18n import DISPOSITION_NAMES, PRESENCE_NAMES, display_names, language_names

bp = Blueprint("pages", __name__)
bp.before_request(guard)

TWILIO_SDK = "vendor/twilio-voice-sdk-2.18.5.min.js"
TWILIO_HOSTS = "https://*.twilio.com wss://*.twilio.com"


@bp.get("/")
@allow(*ROLES)
def index() -> Response:
    return redirect(home_url(current_user()["role"]))


@bp.get("/agent")
@allow("agent")
def agent() -> str:
    return render_template("agent.html", dispositions=DISPOSITIONS, presences=desk.PRESENCES,
                           presence_names=PRESENCE_NAMES, disposition_names=DISPOSITION_NAMES,
                           local_mode=services().local_mode, twilio_sdk=TWILIO_SDK)


@bp.get("/supervisor")
@allow("supervisor")
def supervisor() -> str:
    db = services().store.db()
    return render_template("supervisor.html", skills=sorted(store_routing.skill_names(db)), presences=desk.PRESENCES,
                           queues=[q["name"] for q in store_routing.queues(db)], timezone=services().config["TIMEZONE"],
                           local_mode=services().local_mode, twilio_sdk=TWILIO_SDK)


@bp.get("/supervisor/reports")
@allow("supervisor")
def reports_page() -> str:
    """Historical figures over a date range (the JSON and CSV API draws them), staffing advice and definitions."""
    svc, args = services(), request.args
    today = reports.local_date(svc.clock(), svc.config["TIMEZONE"])
    queues = store_routing.queues(svc.store.db())
    language = str(get_locale())
    return render_template(
        "reports.html", timezone=svc.config["TIMEZONE"], first=args.get("from") or (today - timedelta(days=6)).isoformat(),
        last=args.get("to") or today.isoformat(), interval=args.get("interval") or "day", queue=args.get("queue") or "",
        queues=[q["name"] for q in queues], queue_names=display_names(language)["queue"])


@bp.get("/phone")
@allow(*ROLES)
def phone() -> str:
    if not services().local_mode:
        raise NotFound("the caller phone exists only in local mode; call your Twilio number instead")
    return render_template("phone.html", callers=store_desk.known_callers(services().store.db()), languages=LANGUAGES,
                           language_names=language_names(str(get_locale())))


def security_headers(response: Response) -> Response:
    """Pages run only our own scripts (and, with Twilio, talk to Twilio), and are never framed."""
    if response.mimetype == "text/html":  # (Twilio's webhooks answer text/xml: nothing to add)
        twilio = "" if services().local_mode else " " + TWILIO_HOSTS
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{twilio}; media-src 'self' blob:{twilio}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
    app.register_blueprint(bp)
