"""Moving a center from SQLite to PostgreSQL: every table copied in one transaction, then verified by row counts."""

from __future__ import annotations

import logging

import sqlite_utils

import store.schema  # noqa: F401  (registers the migrations)
from store import postgres
from store.db import transaction
from store.exceptions import StoreError
from store.migrations import MIGRATIONS, applied, migrate

log = logging.getLogger(__name__)

BATCH = 1000
# Made by the migrations themselves in a new database, so replaced by the source's rather than added to.
OWN_ROWS = ("_migrations", "routing_instance")


def tables_in_creation_order(source: sqlite_utils.Database) -> list[str]:
    """The source's tables, parents before the tables that refer to them (the order the migrations made them)."""
    rows = source.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                          "ORDER BY rowid").fetchall()
    return [name for (name,) in rows]


def copy_to_postgres(source: sqlite_utils.Database, target: postgres.Database) -> dict[str, tuple[int, int]]:
    """Copy every row of ``source`` into the empty ``target`` (its schema made by our migrations first); returns
    {table: (rows in the source, rows in the target)}. Raises StoreError, copying nothing, when the source's schema
    is not the current one or the target already holds a center."""
    missing = {name for name, _ in MIGRATIONS} - applied(source)
    if missing:
        raise StoreError(f"the SQLite database lacks migrations {sorted(missing)}: run `flask --app app init-db` first")
    migrate(target)
    tables = tables_in_creation_order(source)
    busy = [table for table in tables if table not in OWN_ROWS and target[table].count]
    if busy:
        raise StoreError(f"the PostgreSQL database is not empty (rows in {', '.join(busy)}): nothing was copied")
    with transaction(target):
        for table in tables:
            _copy_table(source, target, table)
    counts = {table: (source[table].count, target[table].count) for table in tables}
    wrong = {table: pair for table, pair in counts.items() if pair[0] != pair[1]}
    if wrong:
        raise StoreError(f"row counts differ after the copy: {wrong}")
    return counts


def _copy_table(source: sqlite_utils.Database, target: postgres.Database, table: str) -> None:
    if table in OWN_ROWS:
        target.execute(f"DELETE FROM {table}")
    cursor = source.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in cursor.description]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    copied = 0
    while rows := cursor.fetchmany(BATCH):
        target.conn.executemany(sql, rows)
        copied += len(rows)
    _, identity = target.keys(table)
    if identity:  # the next generated id follows the copied ones
        target.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'), "
                       f"GREATEST((SELECT MAX({identity}) FROM {table}), 1), (SELECT COUNT(*) > 0 FROM {table}))")
    log.info("copied %s: %s rows", table, copied)
