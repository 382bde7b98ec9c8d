"""The store's Flask glue: one connection per request, migrations at start-up, admin commands."""

from __future__ import annotations

import threading

import click
import sqlite_utils
from flask import Flask, current_app

from store import demo
from store.db import connect
from store.migrations import migrate

_local = threading.local()


def get_db() -> sqlite_utils.Database:
    """This thread's connection to the app's database, opened once and reused by the thread's requests.

    Web servers keep their threads (gunicorn gthread, werkzeug's per-request threads are new but cheap to
    connect); reusing the connection saves the connect and PRAGMAs on every webhook. Transactions never
    outlive a request: ``transaction`` commits or rolls back before returning.
    """
    path = current_app.config["DATABASE_PATH"]
    connections: dict[str, sqlite_utils.Database] = _local.__dict__.setdefault("connections", {})
    if path not in connections:
        connections[path] = connect(path)
    return connections[path]


def close_db(_exc: BaseException | None = None) -> None:
    """After a request: nothing left open (a transaction a view forgot is rolled back)."""
    db = _local.__dict__.get("connections", {}).get(current_app.config["DATABASE_PATH"])
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


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
