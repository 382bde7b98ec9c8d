"""The store's Flask glue: one connection per request, migrations at start-up, admin commands."""

from __future__ import annotations

import click
import sqlite_utils
from flask import Flask, current_app, g

from store import demo
from store.db import connect
from store.migrations import migrate


def get_db() -> sqlite_utils.Database:
    """The request's database connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE_PATH"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


@click.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the database schema."""
    ran = migrate(get_db())
    click.echo(f"database {current_app.config['DATABASE_PATH']}: applied {len(ran)} migration(s)")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo callers, orders, agents and queues (idempotent)."""
    summary = demo.seed(get_db())
    click.echo("demo data: " + ", ".join(f"{n} {what}" for what, n in summary.items()))
    for role in ("supervisor", "agent"):
        people = [p for p in demo.logins() if p["role"] == role]
        click.echo(f"demo {role} logins (user / password): " + ", ".join(f"{p['id']} / {p['password']}" for p in people))


def init_app(app: Flask) -> None:
    """Migrate the database now, close connections after each request, add the CLI commands."""
    db = connect(app.config["DATABASE_PATH"])
    try:
        migrate(db)
    finally:
        db.conn.close()
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_demo_command)
