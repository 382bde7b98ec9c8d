"""The places where SQLite and PostgreSQL differ, in one seam: how a write transaction takes the center's write lock,
how a read sees one state, the change marker the live pages poll, the JSON functions, the append-only triggers and
which errors mean "the database cannot be written now". Everything else in store/ is the same SQL on both.

The write lock is the same idea on both engines: one writer at a time per center. SQLite has it built in
(``BEGIN IMMEDIATE``); on PostgreSQL every write transaction takes a transaction-scoped advisory lock keyed by the
center's schema, held until COMMIT, on whichever node it runs. So a transition decided on a snapshot and checked
under the lock means the same thing on both (never an agent reserved twice, never a call offered twice), and the
code above the store needs no second set of rules. Reads take no lock on either."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import psycopg.errors

from store import postgres

# SQLite's words for "cannot write now" (locked, full disk, read-only file or folder, failing disk)
SQLITE_UNAVAILABLE = ("database is locked", "database or disk is full", "readonly database", "disk i/o error",
                      "unable to open database file")
# PostgreSQL: the server is gone or going, the lock wait ran out, no space, a read-only standby
POSTGRES_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.LockNotAvailable, psycopg.errors.DiskFull,
                        psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.AdminShutdown,
                        psycopg.errors.CannotConnectNow, psycopg.errors.QueryCanceled)
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)


class SQLite:
    name = "sqlite"
    begin_write = ("BEGIN IMMEDIATE",)
    begin_read = "SAVEPOINT snapshot"
    end_read = "RELEASE snapshot"
    before_commit: tuple[str, ...] = ()
    change_marker = "PRAGMA data_version"  # commits by other connections, in any process
    change_marker_setup: tuple[str, ...] = ()
    random_id = "lower(hex(randomblob(8)))"

    @staticmethod
    def batches(statements: tuple[str, ...]) -> tuple[str, ...]:
        """The statements as the calls that send them: sqlite3 runs one statement per call."""
        return statements

    @staticmethod
    def in_json_list(column: str) -> str:
        """SQL true when the JSON list in ``column`` holds the parameter."""
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"

    @staticmethod
    def json_object_of(key: str, value: str) -> str:
        """SQL aggregating rows into a JSON object as text ('{}' for none)."""
        return f"json_group_object({key}, {value})"

    @staticmethod
    def append_only(table: str) -> list[str]:
        return [f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"]

    @staticmethod
    def lock_wait(wait_s: float | None) -> list[str]:
        return []  # the write gate (store.db.WriteGate) bounds SQLite's wait

    @staticmethod
    def unavailable(exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in SQLITE_UNAVAILABLE)


class PostgreSQL:
    name = "postgresql"
    begin_write = ("BEGIN", "SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    end_read = "COMMIT"
    # A transaction that wrote (it has a transaction id) moves the marker; one that only read leaves it.
    before_commit = ("SELECT nextval('change_marker') WHERE pg_current_xact_id_if_assigned() IS NOT NULL",)
    change_marker = "SELECT last_value FROM change_marker"
    change_marker_setup = ("CREATE SEQUENCE IF NOT EXISTS change_marker",)
    random_id = "substr(md5(random()::text), 1, 16)"

    @staticmethod
    def batches(statements: tuple[str, ...]) -> tuple[str, ...]:
        """All in one round trip (psycopg sends a query without parameters whole, several statements and all)."""
        return ("; ".join(statements),) if statements else ()

    @staticmethod
    def in_json_list(column: str) -> str:
        return f"? IN (SELECT jsonb_array_elements_text({column}::jsonb))"

    @staticmethod
    def json_object_of(key: str, value: str) -> str:
        return f"COALESCE(json_object_agg({key}, {value})::text, '{{}}')"

    @staticmethod
    def append_only(table: str) -> list[str]:
        return [f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"]

    @staticmethod
    def lock_wait(wait_s: float | None) -> list[str]:
        return [] if wait_s is None else [f"SET LOCAL lock_timeout = {max(1, int(wait_s * 1000))}"]

    @staticmethod
    def unavailable(exc: BaseException) -> bool:
        return isinstance(exc, POSTGRES_UNAVAILABLE)


Dialect = type[SQLite] | type[PostgreSQL]


def of(db: Any) -> Dialect:
    """The dialect of a connection made by store.db.connect."""
    return PostgreSQL if isinstance(db, postgres.Database) else SQLite


def of_target(target: str) -> Dialect:
    """The dialect of a database file or URL."""
    return PostgreSQL if is_url(target) else SQLite


def is_url(target: str) -> bool:
    """A PostgreSQL URL rather than a SQLite file."""
    return target.startswith(("postgresql://", "postgres://"))
