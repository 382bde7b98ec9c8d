"""The contact-center server: ``create_app()`` factory; ``python app.py`` serves it."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, jsonify

import settings
from callbacks import views as callback_views
from callbacks.queue import make_backend
from callbacks.recovery import recovery
from ivr import flows as flow_data
from ivr import queueing
from ivr import views as voice_views
from ivr.dispatcher import Dispatcher
from ivr.exceptions import IvrError
from ivr.twilio_client import rest_client
from simulator import api as simulator_api
from speech import views as speech_views
from store import web as store_web
from store.db import connect as store_connect
from web import admin_cli, api, auth, errors, events, pages, phone

log = logging.getLogger(__name__)


def _instance_secret(app: Flask, name: str) -> str:
    """A random secret kept in the instance folder (mode 0600), made on first start."""
    path = Path(app.instance_path) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(16))
    return path.read_text().strip()


def _fill_defaults(app: Flask) -> None:
    """Settings whose default lives in the instance folder; local mode when Twilio is not configured."""
    config = app.config
    config["LOCAL_MODE"] = not config["TWILIO_ACCOUNT_SID"]
    if not config["TWILIO_AUTH_TOKEN"]:
        if not config["LOCAL_MODE"]:
            raise IvrError("TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not: signatures cannot be checked")
        config["TWILIO_AUTH_TOKEN"] = _instance_secret(app, "local_auth_token")
    if config["LOCAL_MODE"]:
        config["TWILIO_ACCOUNT_SID"] = "AC" + "0" * 32
    config["BASE_URL"] = (config["PUBLIC_BASE_URL"] or f"http://127.0.0.1:{config['PORT']}").rstrip("/")
    config["DATABASE_PATH"] = config["DATABASE_PATH"] or os.path.join(app.instance_path, "contact_center.db")
    config["PROMPT_CACHE_DIR"] = config["PROMPT_CACHE_DIR"] or os.path.join(app.instance_path, "prompts")
    config["SECRET_KEY"] = config["SECRET_KEY"] or _instance_secret(app, "secret_key")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment's settings (overridden by ``test_config``)."""
    app = Flask(__name__, instance_relative_config=True, static_folder="web/static", template_folder="web/templates")
    app.config.from_mapping(settings.load())
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    _fill_defaults(app)

    store_web.init_app(app)
    app.extensions["flows"] = flow_data.load_all()
    app.register_blueprint(voice_views.bp)
    base_url = app.config["BASE_URL"]
    if app.config["LOCAL_MODE"]:
        simulator_api.init_app(app, base_url, _agent_ids(app))
        app.config["TWILIO_API_BASE_URL"] = app.config["TWILIO_API_BASE_URL"] or base_url + "/sim/twilio"
    _init_callbacks_and_routing(app)
    speech_views.init_app(app)
    auth.init_app(app)
    pages.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(phone.bp)
    app.register_blueprint(events.bp)
    errors.init_app(app)
    admin_cli.init_app(app)
    app.add_url_rule("/healthz", view_func=healthz)
    app.cli.add_command(flows_command)
    return app


def _agent_ids(app: Flask) -> list[str]:
    db = store_connect(app.config["DATABASE_PATH"])
    try:
        return [row["id"] for row in db.query("SELECT id FROM agents WHERE role = 'agent'")]
    finally:
        db.conn.close()


def _init_callbacks_and_routing(app: Flask) -> None:
    """The callback queue, the routing ticker and the hooks that tie calls, routing and callbacks together."""
    backend = make_backend(app.config["REDIS_URL"])
    app.extensions["callbacks"] = backend
    client = rest_client(app.config)
    app.extensions["dispatcher"] = Dispatcher(
        app.config["DATABASE_PATH"],
        {"call": queueing.bridge_by_redirect(client, app.config["BASE_URL"]),
         "callback": callback_views.place_offer_handler(backend)},
        ring_timeout_s=app.config["RING_TIMEOUT_S"],
        housekeeping=recovery(app.config, client, backend),
    )
    app.extensions["status_hooks"] = [queueing.caller_gone]
    app.extensions["wait_hooks"] = [callback_views.offer_hook]
    app.extensions["incoming_hooks"] = [callback_views.pending_hook]
    app.register_blueprint(callback_views.bp)


def start_background(app: Flask) -> None:
    """The threads of a serving process (never of a CLI command or a test client): the routing ticker with
    callback recovery, the embedded rq worker (no REDIS_URL), and loading the speech models."""
    if app.extensions.get("background_started"):
        return
    app.extensions["background_started"] = True
    app.extensions["callbacks"].start_worker()
    app.extensions["dispatcher"].start()
    speech_views.preload(app)


def healthz():
    """State of the database, the queue backend and the speech models."""
    from store.migrations import MIGRATIONS, applied

    db = store_web.get_db()
    done = applied(db)
    database = {"ok": len(done) == len(MIGRATIONS), "path": current_app.config["DATABASE_PATH"], "migrations": len(done)}
    backend = current_app.extensions["callbacks"]
    queue = {"backend": "embedded" if backend.embedded else "redis", "ok": backend.ping()}
    speech = {"recognized": sorted(current_app.extensions["speech_languages"]), "models": speech_views.healthz(current_app)}
    ok = database["ok"] and queue["ok"]
    body = {"ok": ok, "local_mode": current_app.config["LOCAL_MODE"], "database": database, "queue": queue, "speech": speech}
    return jsonify(body), 200 if ok else 503


@click.group("flows")
def flows_command() -> None:
    """Call flow tools."""


@flows_command.command("check")
def flows_check() -> None:
    """Validate every call flow; exits non-zero listing each fault."""
    try:
        loaded = flow_data.load_all()
    except IvrError as exc:
        raise click.ClickException(str(exc)) from None
    for language, flow in sorted(loaded.items()):
        click.echo(f"{language}: flow {flow.name!r} ok, {len(flow.nodes)} nodes, {len(flow.prompts)} prompts")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    base = f"http://127.0.0.1:{app.config['PORT']}"
    links = [("sign in", "/login"), ("agent softphone", "/agent"), ("supervisor monitor", "/supervisor")]
    if app.config["LOCAL_MODE"]:
        links.append(("caller phone (local mode)", "/phone"))
    for what, path in links:
        click.echo(f"{what:>26}: {base}{path}")
    start_background(app)
    app.run(host="127.0.0.1", port=app.config["PORT"], threaded=True)


if __name__ == "__main__":
    main()
