"""Admin commands (``flask --app app …``): the database, the demo, agents and presence, flows, speech, prompts."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app

from core.clock import iso
from core.errors import ServiceError
from core.numbers import mask, required
from ivr import flows as flow_data
from routing import admin, service
from speech import models
from store import demo, privacy
from store.copy import copy_to_postgres
from store.db import OperationalError, connect
from store.dialect import is_url
from store.exceptions import StoreError, StoreUnavailable
from store.migrations import migrate
from store.postgres import masked
from web.context import services


def _fail(exc: Exception) -> NoReturn:
    raise click.ClickException(str(exc)) from None


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema."""
    store = services().store
    ran = migrate(store.db())
    click.echo(f"database {store.path}: applied {len(ran)} migration(s)")


@click.group("db")
def db() -> None:
    """The database."""


@db.command("migrate-to-postgres")
@click.argument("url")
def migrate_to_postgres(url: str) -> None:
    """Copy this center's SQLite database (DATABASE_PATH) into the empty PostgreSQL database at URL; then start the
    nodes with DATABASE_URL=URL."""
    if not is_url(url):
        _fail(ValueError("URL must be postgresql://user@host:port/database"))
    source_path = services().config["DATABASE_PATH"]
    source, target = connect(source_path), connect(url)
    try:
        counts = copy_to_postgres(source, target)
    except (StoreError, StoreUnavailable) as exc:
        _fail(exc)
    finally:
        source.conn.close()
        target.conn.close()
    for table, (rows, _) in counts.items():
        click.echo(f"{table}: {rows} row(s) copied, {rows} in PostgreSQL")
    click.echo(f"copied {source_path} into {masked(url)}; row counts verified. Now set DATABASE_URL={masked(url)}")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load the demo callers, orders, agents and queues (idempotent)."""
    svc = services()
    summary = {**demo.seed(svc.store.db()), **admin.load_center(svc.store.db(), demo.CENTER, svc.clock(), demo=True)}
    click.echo("demo data: " + ", ".join(f"{n} {what}" for what, n in summary.items()))
    for role in ("supervisor", "agent"):
        people = [p for p in demo.logins() if p["role"] == role]
        click.echo(f"demo {role} logins (user / password): " + ", ".join(f"{p['id']} / {p['password']}" for p in people))
    if not svc.local_mode:
        click.echo("these demo logins work in local mode only: with Twilio they are refused at sign-in")


@click.group("agents")
def agents() -> None:
    """Agents, skills and queues."""


@agents.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def load(path: str) -> None:
    """Add or update the skills, queues and agents of a YAML file (see store/demo/center.yaml)."""
    try:
        summary = admin.load_center(services().store.db(), path, services().clock())
    except ServiceError as exc:
        _fail(exc)
    click.echo("loaded " + ", ".join(f"{n} {what}" for what, n in summary.items()))


@agents.command("presence")
@click.argument("agent_id")
@click.argument("presence", type=click.Choice(["available", "break", "offline"]))
@click.option("--reason", default=None, help="why (shown on the supervisor's board)")
@click.option("--force", is_flag=True, help="also when reserved or on a call (a supervisor's decision, audited): an "
              "offer is taken back, a call ends for routing")
def presence(agent_id: str, presence: str, reason: str | None, force: bool) -> None:
    """Set an agent available, on a break or offline."""
    forced_by = f"cli:{getpass.getuser()}" if force else None
    try:
        service.set_presence(services().store.db(), agent_id, presence, services().clock(), reason=reason,
                             forced_by=forced_by)
    except ServiceError as exc:
        _fail(exc)
    except OperationalError as exc:  # locked past the busy timeout, read-only or full: say so, no traceback
        _fail(RuntimeError(f"the database cannot be written now ({exc}); nothing was changed, try again"))
    click.echo(f"{agent_id}: {presence}{' (forced, recorded)' if force else ''}")


@agents.command("list")
def list_agents() -> None:
    """The agents' board: presence, time in state, current call."""
    for row in service.agents_board(services().store.db(), services().clock()):
        click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "", [], {})))


@click.group("flows")
def flows() -> None:
    """Call flow tools."""


@flows.command("check")
def flows_check() -> None:
    """Validate every call flow; exits non-zero listing each fault."""
    try:
        loaded = flow_data.load_all()
    except ServiceError as exc:
        _fail(exc)
    for language, flow in sorted(loaded.items()):
        click.echo(f"{language}: flow {flow.name!r} ok, {len(flow.nodes)} nodes, {len(flow.prompts)} prompts")


@click.group("speech")
def speech() -> None:
    """Speech models."""


@speech.command("models")
def models_command() -> None:
    """List every language's model: configured, loadable, loaded."""
    for lang, status in models.languages(services().config).items():
        state = "loadable" if status.loadable else f"not available ({status.error or 'no model'})"
        click.echo(
            f"{lang}: {state}; {models.setting_name(lang)}={status.path or '-'}{' (configured)' if status.configured else ''}"
        )


@speech.command("download")
@click.argument("lang")
@click.option("--dest", default=None, help="folder to unpack into (default: instance/models)")
def download(lang: str, dest: str | None) -> None:
    """Fetch the official small Vosk model for LANG (needs internet)."""
    target = Path(dest or Path(current_app.instance_path) / "models")
    try:
        path = models.download(lang, target)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{lang}: model in {path}; set {models.setting_name(lang)}={path}")


@click.group("prompts")
def prompts() -> None:
    """Prompt audio."""


@prompts.command("build")
def build() -> None:
    """Render every fixed prompt of every flow with pyttsx3 (espeak-ng) into PROMPT_CACHE_DIR."""
    svc = services()
    texts = {lang: flow.all_texts() for lang, flow in svc.flows.flows.items()}
    try:
        counts = svc.prompts.build_all(texts)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"prompts in {svc.prompts.folder}: {counts['rendered']} rendered, {counts['cached']} already there")


@click.group("callers")
def callers() -> None:
    """One caller's data: export it, or forget it (data protection)."""


def _number(raw: str) -> str:
    try:
        return required(raw, services().env.rules.default_region)
    except ServiceError as exc:
        _fail(exc)


@callers.command("export")
@click.argument("number")
def export_caller(number: str) -> None:
    """Print as JSON everything held on the caller with this number."""
    found = privacy.export(services().store.db(), _number(number))
    if found is None:
        _fail(LookupError(f"no caller with the number {mask(number)}"))
    click.echo(json.dumps(found, ensure_ascii=False, indent=2))


@callers.command("forget")
@click.argument("number")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def forget_caller(number: str, yes: bool) -> None:
    """Erase what is personal about the caller with this number (their figures stay, anonymous)."""
    e164 = _number(number)
    if not yes:
        click.confirm(f"Erase everything personal about {mask(e164)}? This cannot be undone", abort=True)
    svc = services()
    done = privacy.forget(svc.store.db(), e164, iso(svc.clock()), f"cli:{getpass.getuser()}")
    if done is None:
        _fail(LookupError(f"no caller with the number {mask(e164)}"))
    click.echo(f"forgotten: {done['calls']} call(s) made anonymous, {done['callbacks']} callback(s) erased")


def init_app(app: Flask) -> None:
    for command in (init_db, db, seed_demo, agents, flows, speech, prompts, callers):
        app.cli.add_command(command)
