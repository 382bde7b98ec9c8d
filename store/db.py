"""SQLite connections (WAL, sqlite-utils) and the write transaction every change runs in."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache

import sqlite_utils

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
# JSON text as the store keeps it (callers' words in their own script); one encoder, not one per json.dumps call.
to_json = json.JSONEncoder(ensure_ascii=False).encode
MEMORY = ":memory:"


class WriteGate:
    """Writers queue here rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms between tries: the
    threads of a process on a lock of their own, then one of them per process in the kernel (``flock`` on
    ``<database>.write-lock``), so the next writer starts the moment the last one commits and a commit wakes one
    thread per process, not all of them. Everything of ours writes through ``transaction``, so SQLite's own lock
    then never waits."""

    _in_process: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path + ".write-lock"
        with self._guard:
            self.threads = self._in_process.setdefault(self.path, threading.Lock())
        self.fd: int | None = None

    def __enter__(self) -> None:
        self.threads.acquire()
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None
        self.threads.release()


def connect(path: str, *, autocheckpoint: bool = True) -> sqlite_utils.Database:
    """Open ``path`` in WAL mode, autocommit, with a busy timeout for writers that do not pass the gate.

    ``autocheckpoint=False``: this connection's commits never copy the WAL back into the database (SQLite does that
    on the commit that fills it, fsync and all, inside a webhook's latency); the routing ticker checkpoints."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    db = sqlite_utils.Database(conn)
    db.write_gate = WriteGate(os.path.abspath(path)) if path != MEMORY else None  # type: ignore[attr-defined]
    return db


def checkpoint(db: sqlite_utils.Database) -> None:
    """Copy what the WAL holds into the database without waiting for readers or writers (PASSIVE)."""
    db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


def _gate(db: sqlite_utils.Database) -> AbstractContextManager[None]:
    return getattr(db, "write_gate", None) or nullcontext()


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run the block in one ``BEGIN IMMEDIATE`` transaction: all of it lands or none."""
    if db.conn.in_transaction:  # nested: the outer transaction decides
        yield db
        return
    with _gate(db):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")


@contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Reads that see one state of the database: a read-only transaction (SAVEPOINT outside a transaction is a
    deferred BEGIN) that takes no write lock and writes nothing; in WAL mode one read lock serves all its reads,
    instead of one per statement."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("SAVEPOINT snapshot")
    try:
        yield db
    finally:
        db.conn.execute("RELEASE snapshot")


def one(db: sqlite_utils.Database, sql: str, params: list | tuple | dict = ()) -> dict | None:
    """One row as a dict, or None (straight on the connection: the hot webhook path, no introspection)."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def fetch_all(db: sqlite_utils.Database, sql: str, params: list | tuple | dict = ()) -> list[dict]:
    """Every row as a dict (straight on the connection: sqlite-utils' query wraps each read in a SAVEPOINT)."""
    cursor = db.conn.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def insert(db: sqlite_utils.Database, table: str, row: dict) -> int:
    """Plain INSERT (no schema introspection); returns the rowid."""
    return db.conn.execute(_insert_sql(table, tuple(row)), tuple(row.values())).lastrowid


def update(db: sqlite_utils.Database, table: str, key: str, value: object, fields: dict) -> None:
    """Plain UPDATE of the row whose ``key`` column is ``value``."""
    assignments = ", ".join(f"{column} = ?" for column in fields)
    db.conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?", [*fields.values(), value])
