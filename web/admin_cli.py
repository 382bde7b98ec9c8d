"""Admin commands: agents, skills and queues from YAML, presence by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask

from routing import admin, service
from routing.exceptions import RoutingError
from store.web import get_db


@click.group("agents")
def agents_command() -> None:
    """Agents, skills and queues."""


@agents_command.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def load(path: str) -> None:
    """Add or update the skills, queues and agents of a YAML file (see store/demo/center.yaml)."""
    try:
        summary = admin.load_center(get_db(), path, datetime.now(UTC))
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("loaded " + ", ".join(f"{n} {what}" for what, n in summary.items()))


@agents_command.command("presence")
@click.argument("agent_id")
@click.argument("presence", type=click.Choice(["available", "break", "offline"]))
@click.option("--reason", default=None, help="why (shown on the supervisor's board)")
def presence(agent_id: str, presence: str, reason: str | None) -> None:
    """Set an agent available, on a break or offline."""
    try:
        service.set_presence(get_db(), agent_id, presence, datetime.now(UTC), reason=reason)
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{agent_id}: {presence}")


@agents_command.command("list")
def list_agents() -> None:
    """The agents' board: presence, time in state, current call."""
    for row in service.agents_board(get_db(), datetime.now(UTC)):
        click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "", [], {})))


def init_app(app: Flask) -> None:
    app.cli.add_command(agents_command)
