"""Schema changes as registered, numbered functions; ``migrate`` applies the pending ones."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlite_utils

from core.clock import now_text as now
from store import dialect
from store.db import transaction

log = logging.getLogger(__name__)

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next schema change; its name is its identity, forever."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


def applied(db: sqlite_utils.Database) -> set[str]:
    if "_migrations" not in db.table_names():
        return set()
    return {row["name"] for row in db["_migrations"].rows}


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every registered migration not yet applied, each in its own transaction."""
    import store.schema  # noqa: F401  (registers the migrations)

    if "_migrations" not in db.table_names():  # a new database: processes starting together must not race
        with transaction(db):
            db["_migrations"].create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
            for statement in dialect.of(db).change_marker_setup:
                db.execute(statement)
    done = applied(db)
    ran = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with transaction(db):
            if name in applied(db):  # another process got there first
                continue
            fn(db)
            db["_migrations"].insert({"name": name, "applied_at": now()})
        log.info("applied migration %s", name)
        ran.append(name)
    return ran
