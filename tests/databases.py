"""Which database the tests run on: SQLite files (the default), or, when the suite is started with
``DATABASE_URL=postgresql://…``, a PostgreSQL schema of its own for every database file a test names.

A test names its database as a file (``tmp_path / "t.db"``); ``target`` turns that name into what the server
is given: the file itself, or a fresh schema on the PostgreSQL server (one per name and run, so two servers
given one file share one schema, as they would share the file). Schemas are dropped when the run ends.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import secrets
import sqlite3
from typing import Any

from harness.postgres import create_schema, drop_schemas, schema_url
from store.db import connect
from store.dialect import is_url

# The PostgreSQL server and database the suite creates its schemas in; empty: SQLite.
POSTGRES = os.environ.pop("DATABASE_URL", "")
RUN = secrets.token_hex(3)
_created: set[str] = set()


def backend() -> str:
    return "postgresql" if POSTGRES else "sqlite"


def target(path: str | os.PathLike) -> str:
    """The database a server given the file ``path`` uses on this run's backend."""
    if not POSTGRES:
        return str(path)
    schema = f"t_{RUN}_{hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]}"
    if schema not in _created:
        create_schema(POSTGRES, schema)
        _created.add(schema)
    return schema_url(POSTGRES, schema)


def connect_db(path: str | os.PathLike, **options: Any):
    """A store connection to the database of the file ``path`` (see ``target``)."""
    return connect(target(path), **options)


def app_config(config: dict[str, Any]) -> dict[str, Any]:
    """A create_app config with its DATABASE_PATH turned into this run's database."""
    if POSTGRES and config.get("DATABASE_PATH"):
        return {**config, "DATABASE_URL": target(config["DATABASE_PATH"])}
    return config


def server_env(env: dict[str, str]) -> dict[str, str]:
    """A server process's environment with its DATABASE_PATH turned into this run's database (unless the test set
    DATABASE_URL itself: empty for a center that is on SQLite whatever the pass)."""
    if POSTGRES and "DATABASE_URL" not in env:
        return {**env, "DATABASE_URL": target(env["DATABASE_PATH"])}
    return env


def sqlite_copy(database: str) -> sqlite3.Connection:
    """A SQLite connection to the center's data (the file itself, or every table copied from PostgreSQL into memory):
    the tests' own SQL, written once in SQLite's dialect, checks what either backend stored."""
    if not is_url(database):
        conn = sqlite3.connect(database, timeout=30)
        conn.row_factory = sqlite3.Row
        return conn
    copy = sqlite3.connect(":memory:")
    copy.row_factory = sqlite3.Row
    source = connect(database)
    try:
        for table in source.table_names():
            cursor = source.execute(f"SELECT * FROM {table}")
            columns = [column.name for column in cursor.description]
            types = {row["column_name"]: row["data_type"] for row in source.query(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?", [table])}
            kinds = {"bigint": "INTEGER", "double precision": "REAL", "text": "TEXT"}
            declared = ", ".join(f"{column} {kinds.get(types[column], '')}" for column in columns)
            copy.execute(f"CREATE TABLE {table} ({declared})")
            copy.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", cursor.fetchall())
    finally:
        source.conn.close()
    return copy


@atexit.register
def _drop_schemas() -> None:
    if _created:
        drop_schemas(POSTGRES, _created)
