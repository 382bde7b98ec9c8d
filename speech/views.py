"""Speech on the web side: the Media Streams WebSocket, rendered prompt audio, and the speech CLI.

``WS /voice/media``: Twilio opens it for a menu's ``<Connect><Stream>``; the ``start`` message's
customParameters name the call, node, attempt and (for "did you say …?") the option being
confirmed. The session decodes the caller's audio with Vosk off the request thread, and when the
turn is over (intent, key, silence, error) the result is stored on the call and the socket is closed;
Twilio then requests the <Connect> action URL and the flow goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
from flask import Blueprint, Flask, Response, current_app, send_from_directory, url_for
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ivr.engine import menu_choices
from ivr.views import flow_for, verify_twilio_signature
from speech import models, tts
from speech.exceptions import SpeechError
from speech.intent import yes_no_choices
from speech.stream import Listen, MediaStreamSession, StreamStart, TurnResult
from store import calls
from store.db import connect

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__, url_prefix="/voice")
bp.before_request(verify_twilio_signature)
prompts_bp = Blueprint("prompts", __name__)
sock = Sock()

RECEIVE_TIMEOUT_S = 1.0
MAX_STREAM_S = 60.0  # wall-clock limit of one turn's socket, whatever the peer does
DECODE_GRACE_S = 20.0  # after the socket closed, how long the recognizer may take to finish what it received
PROMPT_MAX_AGE_S = 365 * 24 * 3600  # file names are content hashes: cache for good


def _listen_for(config: dict[str, Any], db: Any) -> Any:
    """Build the turn's Listen from the start message: the call's language, the menu's (or yes/no) choices."""

    def listen(start: StreamStart) -> Listen:
        params = start.custom_parameters
        call = calls.find_call(db, start.call_sid)
        if call is None or params.get("call_sid", start.call_sid) != start.call_sid:
            raise SpeechError(f"stream for unknown call {start.call_sid!r}")
        flow = flow_for(call["language"])
        node = flow.node(params.get("node", ""))
        if params.get("confirming"):
            choices = yes_no_choices(flow.language)
        else:
            choices = menu_choices(flow, node)
        return Listen(model=models.get_model(flow.language, config), lang=flow.language, choices=choices)

    return listen


@sock.route("/media", bp=bp)
def media(ws: Any) -> None:
    """One turn of one call's Media Stream."""
    config = current_app.config
    db = connect(config["DATABASE_PATH"])  # the socket outlives ordinary request scoping
    session = MediaStreamSession(_listen_for(config, db))
    deadline = time.monotonic() + MAX_STREAM_S
    try:
        while not session.decided and time.monotonic() < deadline:
            try:
                message = ws.receive(timeout=RECEIVE_TIMEOUT_S)
            except ConnectionClosed:
                break
            if message is not None:
                session.receive(message)
        # The peer may have sent everything (and "stop") faster than real time: let decoding catch up.
        result = session.wait(DECODE_GRACE_S) or session.close("the stream ended before a decision")
        _store(db, session, result, config["STORE_TRANSCRIPTS"])
    finally:
        if not session.done:
            session.close("socket handler finished")
        db.conn.close()


def _store(db: Any, session: MediaStreamSession, result: TurnResult | None, store_transcripts: bool) -> None:
    """Keep the turn's result on the call for the <Connect> action request to pick up."""
    if session.start is None or result is None:
        log.warning("media stream closed without a start message: %s", result.error if result else "no result")
        return
    params = session.start.custom_parameters
    attempt = int(params["attempt"]) if str(params.get("attempt", "")).isdigit() else 1
    key = calls.turn_key(params.get("node", ""), attempt, params.get("confirming") or None)
    heard = result.as_dict()
    heard["alternatives"] = [{"text": text, "confidence": conf} for text, conf in result.alternatives]
    if not store_transcripts:  # STORE_TRANSCRIPTS=false: keep the decision, not the words
        heard.update(alternatives=[], transcript="")
    if result.kind == "error":
        log.info("media stream of %s ended with an error: %s", session.start.call_sid, result.error)
    calls.save_stream_result(db, session.start.call_sid, key, heard)


# --- prompts ----------------------------------------------------------------------------------


@prompts_bp.get("/prompts/<name>")
def prompt(name: str) -> Response:
    """A rendered prompt (8 kHz μ-law WAV), named by the hash of its text, voice and rate.

    ``X-Prompt-Text`` carries the words (URL-encoded) so the simulator can show what the caller heard.
    """
    folder = Path(current_app.config["PROMPT_CACHE_DIR"])
    response = send_from_directory(folder, name, mimetype="audio/wav", max_age=PROMPT_MAX_AGE_S)
    response.headers["Cache-Control"] = f"public, max-age={PROMPT_MAX_AGE_S}, immutable"
    sidecar = (folder / name).with_suffix(".txt")
    if sidecar.is_file():
        response.headers["X-Prompt-Text"] = quote(sidecar.read_text(encoding="utf-8"))
    return response


def render_prompt(text: str, language: str, folder: str) -> str:
    """rq job: render one prompt and keep its words beside it."""
    name = tts.render(text, language, folder)
    _write_sidecar(Path(folder), name, text)
    return name


def _write_sidecar(folder: Path, name: str, text: str) -> None:
    sidecar = (folder / name).with_suffix(".txt")
    if not sidecar.exists():
        sidecar.write_text(text, encoding="utf-8")


def prompt_audio_finder(app: Flask) -> Any:
    """engine's audio lookup: the rendered file's URL, or None (then <Say>) with the rendering queued."""
    folder = app.config["PROMPT_CACHE_DIR"]
    backend = app.extensions["callbacks"]
    known: dict[tuple[str, str], str] = {}  # rendered prompts' URLs: files never change (content-hashed names)
    queued: set[tuple[str, str]] = set()  # asked for once per process, not on every webhook

    def find(text: str, language: str) -> str | None:
        key = (text, language)
        if key in known:
            return known[key]
        name = tts.cached(text, language, folder)
        if name:
            known[key] = app.config["BASE_URL"] + url_for("prompts.prompt", name=name)
            return known[key]
        if key not in queued:
            queued.add(key)
            job_id = "prompt-" + tts.prompt_filename(text, language).split(".")[0]
            try:
                backend.queue.enqueue(render_prompt, text, language, folder, job_id=job_id, result_ttl=60)
            except Exception:  # rendering later is best effort; the caller hears <Say> now
                log.exception("could not queue the rendering of a prompt")
        return None

    return find


# --- CLI ------------------------------------------------------------------------------------------


@click.group("speech")
def speech_command() -> None:
    """Speech models."""


@speech_command.command("models")
def models_command() -> None:
    """List every language's model: configured, loadable, loaded."""
    for lang, status in models.languages(current_app.config).items():
        state = "loadable" if status.loadable else f"not available ({status.error or 'no model'})"
        click.echo(
            f"{lang}: {state}; {models.setting_name(lang)}={status.path or '-'}{' (configured)' if status.configured else ''}"
        )


@speech_command.command("download")
@click.argument("lang")
@click.option("--dest", default=None, help="folder to unpack into (default: instance/models)")
def download_command(lang: str, dest: str | None) -> None:
    """Fetch the official small Vosk model for LANG (needs internet)."""
    target = Path(dest or Path(current_app.instance_path) / "models")
    try:
        path = models.download(lang, target)
    except SpeechError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{lang}: model in {path}; set {models.setting_name(lang)}={path}")


@click.group("prompts")
def prompts_command() -> None:
    """Prompt audio."""


@prompts_command.command("build")
def build_command() -> None:
    """Render every fixed prompt of every flow with pyttsx3 (espeak-ng) into PROMPT_CACHE_DIR."""
    texts = {lang: flow.all_texts() for lang, flow in current_app.extensions["flows"].items()}
    folder = current_app.config["PROMPT_CACHE_DIR"]
    counts = tts.build_all(texts, folder)
    for lang, lang_texts in texts.items():
        for text in lang_texts:
            _write_sidecar(Path(folder), tts.prompt_filename(text, lang), text)
    click.echo(
        f"prompts in {current_app.config['PROMPT_CACHE_DIR']}: {counts['rendered']} rendered, {counts['cached']} already there"
    )


def init_app(app: Flask) -> None:
    """Media Streams socket, prompt files, which languages can be recognized, the CLI."""
    app.register_blueprint(bp)
    app.register_blueprint(prompts_bp)
    app.extensions["speech_languages"] = {lang for lang, s in models.languages(app.config).items() if s.loadable}
    app.extensions["prompt_audio"] = prompt_audio_finder(app)
    app.cli.add_command(speech_command)
    app.cli.add_command(prompts_command)


def preload(app: Flask) -> None:
    """A serving process loads its models now, not on the first caller's turn."""
    threading.Thread(target=_load_models, args=(dict(app.config), sorted(app.extensions["speech_languages"])),
                     name="vosk-preload", daemon=True).start()


def _load_models(config: dict[str, Any], languages: list[str]) -> None:
    for lang in languages:
        try:
            models.get_model(lang, config)
        except SpeechError:
            log.exception("could not load the %s model; its callers will use the keypad", lang)


def healthz(app: Flask) -> dict[str, Any]:
    return {lang: status.as_dict() for lang, status in models.languages(app.config).items()}
