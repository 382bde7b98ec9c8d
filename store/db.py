"""SQLite connections (WAL, sqlite-utils) and the write transaction every change runs in."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import sqlite_utils

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def connect(path: str) -> sqlite_utils.Database:
    """Open ``path`` in WAL mode, autocommit, with a busy timeout for concurrent writers."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db = sqlite_utils.Database(conn)
    with _write_locks_guard:
        db.write_lock = _write_locks.setdefault(os.path.abspath(path), threading.RLock())  # type: ignore[attr-defined]
    return db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the block in one ``BEGIN IMMEDIATE`` transaction: all of it lands or none."""
    if db.conn.in_transaction:  # nested: the outer transaction decides
        yield db
        return
    # Writers of this process queue here, not in SQLite's sleeping busy handler (which costs tens of ms a turn);
    # other processes still meet at SQLite's lock.
    with getattr(db, "write_lock", nullcontext()):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")


def one(db: sqlite_utils.Database, sql: str, params: list | tuple | dict = ()) -> dict | None:
    """One row as a dict, or None (straight on the connection: the hot webhook path, no introspection)."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def insert(db: sqlite_utils.Database, table: str, row: dict) -> int:
    """Plain INSERT (no schema introspection); returns the rowid."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return db.conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())).lastrowid
