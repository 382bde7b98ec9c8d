"""The contact-center server: ``create_app()`` builds the services once and registers the blueprints;
``python app.py`` serves it. This is the composition root: the only module that knows every package, and
the only one that may mount the simulator (local mode: Twilio's stand-in at /sim, reached over HTTP)."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

import click
from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import MisdirectedRequest, NotFound, RequestEntityTooLarge
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

import settings
from core.errors import ConfigError
from services import logs
from services.bootstrap import bootstrap
from services.config import resolve
from services.ticker import HOUSEKEEPING
from speech import models
from store import leases
from store.migrations import MIGRATIONS, applied
from voice import callbacks as voice_callbacks
from voice import conference, journaled, media, outbound, prompts, transfer, voicemail
from voice import views as voice_views
from web import api, auth, cli, errors, events, i18n, pages, phone
from web.context import CenterApp, services

log = logging.getLogger(__name__)

DEMO_PHONE = {"answer_after_s": 3.0, "talk_s": 20.0}  # local mode: agents without the agent page open still answer
# Request limits: Twilio's webhook forms and the pages' JSON are a few kB; anything far bigger is refused (413).
LIVE_PATHS = ("/events", "/voice/media", "/voice/voicemail")  # the long-lived connections: SSE to the pages, Twilio's Media Streams
LIMITS = {"MAX_CONTENT_LENGTH": 256 * 1024, "MAX_FORM_MEMORY_SIZE": 64 * 1024, "MAX_FORM_PARTS": 200}


def create_app(test_config: dict[str, Any] | None = None) -> CenterApp:
    """Build the app from the environment's settings (overridden by ``test_config``)."""
    values = {**settings.load(), **(test_config or {})}
    app = CenterApp(__name__, instance_path=values["INSTANCE_DIR"] or None, instance_relative_config=True,
                    static_folder="web/static", template_folder="web/templates")
    config = resolve(values, Path(app.instance_path))
    app.config.update(config)
    app.config.update(LIMITS)
    app.services = bootstrap(config)
    app.services.ticker.replay = journaled.replayer(app)
    for blueprint in (voice_views.bp, voice_callbacks.bp, outbound.bp, conference.bp, transfer.bp, media.bp, voicemail.bp, prompts.bp, api.bp,
                      phone.bp, events.bp):
        app.register_blueprint(blueprint)
    media.sock.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    pages.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    app.add_url_rule("/healthz", view_func=healthz)
    app.before_request(serve_this_pools_paths)
    app.before_request(refuse_big_bodies)
    app.after_request(no_sniffing)
    if config["LOCAL_MODE"]:
        mount_simulator(app, config)
    if config["TRUSTED_PROXIES"]:  # the client's address and scheme as the proxies in front of us saw them
        hops = config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def serve_this_pools_paths() -> None:
    """SERVE=requests leaves the long-lived connections to the live pool, SERVE=live serves nothing else: a proxy
    that sends a request to the wrong pool gets a clear refusal, never a thread held in the wrong place."""
    serve, live = current_app.config["SERVE"], request.path in LIVE_PATHS
    if serve == "requests" and live:
        raise MisdirectedRequest(f"{request.path} is served by the live pool (SERVE=live): route it there")
    if serve == "live" and not live and request.path != "/healthz":
        raise NotFound(f"this process serves only the live connections ({', '.join(LIVE_PATHS)})")


def refuse_big_bodies() -> None:
    """A declared body over the limit is refused before anything reads it, the signature check included (a body
    sent without a length is cut at the limit when it is read)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the request body is limited to {limit // 1024} kB")


def no_sniffing(response: Response) -> Response:
    """Every response is what its Content-Type says: browsers must not guess (JSON never runs as a script)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def mount_simulator(app: CenterApp, config: dict[str, Any]) -> None:
    """Local mode: the simulated Twilio answers at /sim (its REST face at /sim/twilio) and calls us back over HTTP."""
    from simulator.api import standalone_app

    simulator = standalone_app(config["BASE_URL"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_ACCOUNT_SID"],
                               prefix="", default_phone=DEMO_PHONE, control_token=config["TWILIO_AUTH_TOKEN"])
    app.wsgi_app = LoopbackHostsOnly(DispatcherMiddleware(app.wsgi_app, {"/sim": simulator}))  # type: ignore[method-assign]


class LoopbackHostsOnly:
    """Local mode serves loopback only: a request whose Host is not a loopback name is a page of another site
    reaching us through DNS rebinding (its own name, our address), and gets a 400."""

    NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST", "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in self.NAMES:
            return self.app(environ, start_response)
        start_response("400 Bad Request", [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")])
        return [b'{"error": "local mode answers only 127.0.0.1, localhost or [::1]", "status": 400}']


def healthz() -> tuple[Response, int]:
    """State of the database, the queue backend and the speech models."""
    svc = services()
    done = applied(svc.store.db())
    database = {"ok": len(done) == len(MIGRATIONS), "backend": svc.store.backend, "path": svc.store.where,
                "migrations": len(done)}
    queue = {"backend": "embedded" if svc.jobs.embedded else "redis", "ok": svc.jobs.ping()}
    speech = {"recognized": sorted(svc.speech_languages),
              "models": {lang: status.as_dict() for lang, status in models.languages(svc.config).items()}}
    ok = database["ok"] and queue["ok"]
    held = leases.current(svc.store.db(), HOUSEKEEPING)
    lease = {"name": HOUSEKEEPING, "node": svc.ticker.node, "holder": held and held["holder"], "until": held and held["until"]}
    body = {"ok": ok, "local_mode": svc.local_mode, "database": database, "queue": queue, "lease": lease,
            "speech": speech}
    return jsonify(body), 200 if ok else 503


def main() -> None:
    logs.configure()
    try:
        app = create_app()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    base = f"http://127.0.0.1:{app.config['PORT']}"
    links = [("sign in", "/login"), ("agent softphone", "/agent"), ("supervisor monitor", "/supervisor")]
    if app.config["LOCAL_MODE"]:
        links.append(("caller phone (local mode)", "/phone"))
    for what, path in links:
        click.echo(f"{what:>26}: {base}{path}")
    app.services.start_background()
    gc.freeze()  # what start-up built lives as long as the process: full collections no longer walk it
    app.run(host="127.0.0.1", port=app.config["PORT"], threaded=True)


if __name__ == "__main__":
    main()
