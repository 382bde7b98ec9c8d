"""SQLite connections (WAL, sqlite-utils), transactions and the Flask glue."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

import sqlite_utils

log = logging.getLogger(__name__)


_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def connect(path: str) -> sqlite_utils.Database:
    """Open ``path`` in WAL mode, autocommit, with a busy timeout for concurrent writers."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
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


def now() -> str:
    """The current UTC time as the ISO 8601 text every timestamp column holds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def seconds_between(start: str | None, end: str | None) -> float | None:
    a, b = parse_time(start), parse_time(end)
    return None if a is None or b is None else round((b - a).total_seconds(), 3)
