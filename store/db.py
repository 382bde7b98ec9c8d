"""Connections (SQLite in WAL mode through sqlite-utils, or PostgreSQL through store.postgres) and the write
transaction every change runs in; what differs between the two engines is in store.dialect."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache

import psycopg
import sqlite_utils

from store import dialect, postgres
from store.exceptions import StoreUnavailable

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
POLL_S = (0.0002, 0.01)  # a bounded wait for another process's gate polls, from this to this
BUSY_SLACK_MS = 50  # a gate passed within this leaves SQLite's wait as it is (no statement to change it)
WAL_RETRY_S = 0.01  # between tries to switch a new database to WAL while other processes open it
# JSON text as the store keeps it (callers' words in their own script); one encoder, not one per json.dumps call.
to_json = json.JSONEncoder(ensure_ascii=False).encode
MEMORY = ":memory:"
IntegrityError = dialect.INTEGRITY_ERRORS
OperationalError = (sqlite3.OperationalError, psycopg.OperationalError)
NotFoundError = (sqlite_utils.db.NotFoundError, postgres.NotFoundError)
Database = sqlite_utils.Database | postgres.Database


class WriteGate:
    """Writers queue here rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms between tries: the
    threads of a process on a lock of their own, then one of them per process in the kernel (``flock`` on
    ``<database>.write-lock``), so the next writer starts the moment the last one commits and a commit wakes one
    thread per process, not all of them. Everything of ours writes through ``transaction``, so SQLite's own lock
    then never waits. ``wait_s``: give up after that long (StoreUnavailable) instead of waiting for ever."""

    _in_process: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, path: str, wait_s: float | None = None) -> None:
        self.path = path + ".write-lock"
        self.wait_s = wait_s
        with self._guard:
            self.threads = self._in_process.setdefault(self.path, threading.Lock())
        self.fd: int | None = None
        self.busy_ms: int | None = None if wait_s is None else int(wait_s * 1000)  # SQLite's wait, as last set
        self.deadline: float | None = None

    def __enter__(self) -> None:
        deadline = self.deadline = None if self.wait_s is None else time.monotonic() + self.wait_s
        if not self.threads.acquire(timeout=-1 if deadline is None else self.wait_s):
            raise StoreUnavailable(f"the database cannot be written now: locked for {self.wait_s} s (by writers of this process)")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if deadline is None:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            else:
                self._flock_by(deadline)
        except BaseException:
            self.__exit__()
            raise

    def _flock_by(self, deadline: float) -> None:
        pause = POLL_S[0]
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(f"the database cannot be written now: locked for {self.wait_s} s (by another process)") from None
                time.sleep(pause)
                pause = min(pause * 2, POLL_S[1])

    def bound(self, conn: sqlite3.Connection) -> None:
        """With a bounded wait: what is left of it after the gate is what SQLite may wait (a writer not ours)."""
        if self.deadline is None or self.busy_ms is None:
            return
        full = int(self.wait_s * 1000)
        left = max(1, int((self.deadline - time.monotonic()) * 1000))
        wanted = full if left > full - BUSY_SLACK_MS else left
        if wanted != self.busy_ms:
            conn.execute(f"PRAGMA busy_timeout={wanted}")
            self.busy_ms = wanted

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None
        self.threads.release()


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable that the engine's error means, or None for any other error."""
    if dialect.SQLite.unavailable(exc) or dialect.PostgreSQL.unavailable(exc):
        return StoreUnavailable(f"the database cannot be written now: {exc}")
    return None


def connect(target: str, *, autocheckpoint: bool = True, write_wait_s: float | None = None) -> Database:
    """A connection to ``target``: a PostgreSQL URL (``postgresql://…``), else a SQLite file (see connect_sqlite)."""
    if dialect.is_url(target):
        try:
            db = postgres.Database(target)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to {postgres.masked(target)}: {exc}") from exc
        db.write_wait_s = write_wait_s
        return db
    return connect_sqlite(target, autocheckpoint=autocheckpoint, write_wait_s=write_wait_s)


def connect_sqlite(path: str, *, autocheckpoint: bool = True, write_wait_s: float | None = None) -> sqlite_utils.Database:
    """Open ``path`` in WAL mode, autocommit, with a busy timeout for writers that do not pass the gate.

    ``autocheckpoint=False``: this connection's commits never copy the WAL back into the database (SQLite does that
    on the commit that fills it, fsync and all, inside a webhook's latency); the routing ticker checkpoints.
    ``write_wait_s``: a write waits at most about this long for the lock (twice: the gate, then SQLite's lock of a
    writer that is not ours), then fails with StoreUnavailable; None: 30 s, for loops nobody waits on."""
    busy_ms = BUSY_TIMEOUT_MS if write_wait_s is None else int(write_wait_s * 1000)
    if path != MEMORY:
        _private(path)
    conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False)
    _wal(conn, busy_ms / 1000)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    db = sqlite_utils.Database(conn)
    db.write_gate = WriteGate(os.path.abspath(path), write_wait_s) if path != MEMORY else None  # type: ignore[attr-defined]
    return db


def _wal(conn: sqlite3.Connection, wait_s: float) -> None:
    """Switch to WAL, retrying for up to ``wait_s``: on a new file that other processes open at the same moment the
    switch can fail with "database is locked" at once, without SQLite's busy handler (its deadlock avoidance)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_S)


def _private(path: str) -> None:
    """The database and its WAL files readable by the server's user only (SQLite gives the WAL files the mode of
    the database file, which is made 0600 here before SQLite first opens it)."""
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o777 != 0o600:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not make %s private: %s", name, exc)


def checkpoint(db: Database) -> None:
    """SQLite: copy what the WAL holds into the database without waiting for readers or writers (PASSIVE)."""
    if dialect.of(db) is dialect.SQLite:
        _write(db, "PRAGMA wal_checkpoint(PASSIVE)")


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run the block in one write transaction holding the center's write lock (store.dialect): all of it lands or
    none (StoreUnavailable when the database cannot be written now)."""
    if db.conn.in_transaction:  # nested: the outer transaction decides
        yield db
        return
    engine = dialect.of(db)
    gate = getattr(db, "write_gate", None)
    with gate or nullcontext():
        if gate is not None:
            gate.bound(db.conn)
        begin = engine.begin_write
        for statement in engine.batches((begin[0], *engine.lock_wait(getattr(db, "write_wait_s", None)), *begin[1:])):
            _write(db, statement)
        try:
            yield db
        except BaseException as exc:
            _rollback(db)
            cause = unavailable(exc)
            if cause is not None:
                raise cause from exc
            raise
        try:
            for statement in engine.batches((*engine.before_commit, "COMMIT")):
                _write(db, statement)
        except StoreUnavailable:
            _rollback(db)
            raise


def _write(db: Database, statement: str) -> None:
    try:
        db.conn.execute(statement)
    except Exception as exc:
        cause = unavailable(exc)
        if cause is None:
            if db.conn.in_transaction and not statement.endswith("COMMIT"):
                _rollback(db)
            raise
        if db.conn.in_transaction:
            _rollback(db)
        raise cause from exc


def _rollback(db: Database) -> None:
    if db.conn.in_transaction:
        try:
            db.conn.execute("ROLLBACK")
        except (sqlite3.OperationalError, psycopg.Error):  # the engine had ended it (a full disk, a lost server)
            log.warning("rollback failed; the database had ended the transaction itself")


@contextmanager
def snapshot(db: Database) -> Iterator[Database]:
    """Reads that see one state of the database: a read-only transaction that takes no write lock and writes
    nothing (SQLite: SAVEPOINT outside a transaction is a deferred BEGIN, one read lock for all its reads;
    PostgreSQL: REPEATABLE READ READ ONLY)."""
    if db.conn.in_transaction:
        yield db
        return
    engine = dialect.of(db)
    try:
        db.conn.execute(engine.begin_read)
    except Exception as exc:
        cause = unavailable(exc)
        if cause is None:
            raise
        raise cause from exc
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.conn.execute(engine.end_read)


def one(db: Database, sql: str, params: list | tuple | dict = ()) -> dict | None:
    """One row as a dict, or None (straight on the connection: the hot webhook path, no introspection)."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def fetch_all(db: Database, sql: str, params: list | tuple | dict = ()) -> list[dict]:
    """Every row as a dict (straight on the connection: sqlite-utils' query wraps each read in a SAVEPOINT)."""
    cursor = db.conn.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def insert(db: Database, table: str, row: dict) -> int:
    """Plain INSERT (no schema introspection on SQLite); returns the new row's id."""
    if isinstance(db, postgres.Database):
        return db.insert_row(table, row)
    return db.conn.execute(_insert_sql(table, tuple(row)), tuple(row.values())).lastrowid


def update(db: Database, table: str, key: str, value: object, fields: dict) -> None:
    """Plain UPDATE of the row whose ``key`` column is ``value``."""
    assignments = ", ".join(f"{column} = ?" for column in fields)
    db.conn.execute(f"UPDATE {table} SET {assignments} WHERE {key} = ?", [*fields.values(), value])
