"""PostgreSQL (psycopg 3) behind the small part of sqlite-utils' ``Database`` that store/ uses, so that every query
of store/ runs on both engines unchanged: ``?`` and ``:name`` parameters, ``execute``/``query``, ``db[table]``'s
insert/upsert/update/get/count/rows, and the few schema calls the migrations make. What the engines do differently
(locks, the change marker, JSON functions) is in ``store.dialect``; this module only speaks PostgreSQL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import adapt
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import Int8Dumper

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
TYPES = {int: "BIGINT", str: "TEXT", float: "DOUBLE PRECISION", bytes: "BYTEA"}
# A quoted literal or identifier (left as it is), a ``?`` or ``:name`` parameter, or a bare ``%`` (psycopg's marker).
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\?|(?<![:\w]):([A-Za-z_]\w*)|%""")


class NotFoundError(LookupError):
    """No row with that primary key (sqlite-utils raises its own NotFoundError, a subclass of this via store.db)."""


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's parameter style (``?``, ``:name``) in psycopg's (``%s``, ``%(name)s``), literal ``%`` escaped."""

    def token(match: re.Match) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return text.replace("%", "%%")

    return _TOKENS.sub(token, sql)


class _BoolAsInt(Int8Dumper):
    """True/False as 1/0: the schema keeps flags in integer columns, as SQLite does."""

    def dump(self, obj: bool) -> bytes:
        return super().dump(int(obj))


class _Numeric(adapt.Loader):
    """NUMERIC (what SUM and AVG of integers give) as int when whole, else float: as SQLite answers."""

    def load(self, data: bytes) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


def masked(url: str) -> str:
    """The URL without its password, for logs and /healthz."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Connection:
    """One psycopg connection in autocommit mode (transactions are begun and ended explicitly by store.db), with the
    sqlite3-like ``execute`` store/ calls; reconnects when the server dropped it between transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pg: psycopg.Connection | None = None
        self._open()

    def _open(self) -> None:
        self._pg = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        self._pg.adapters.register_dumper(bool, _BoolAsInt)
        self._pg.adapters.register_loader("numeric", _Numeric)

    @property
    def in_transaction(self) -> bool:
        return self._pg is not None and self._pg.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> psycopg.Cursor:
        if self._pg is None or (self._pg.broken or self._pg.closed) and not self.in_transaction:
            log.info("reconnecting to %s", masked(self.url))
            self._open()
        if params is None or (not params and "?" not in sql and ":" not in sql):
            return self._pg.execute(sql)
        return self._pg.execute(translate(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence | Mapping]) -> psycopg.Cursor:
        cursor = self._pg.cursor()
        cursor.executemany(translate(sql), list(rows))
        return cursor

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()


def _rows(cursor: psycopg.Cursor) -> Iterator[dict[str, Any]]:
    if cursor.description is None:
        return
    columns = [column.name for column in cursor.description]
    for row in cursor:
        yield dict(zip(columns, row, strict=True))


class Database:
    """A PostgreSQL database as store/ uses it (the same calls as a ``sqlite_utils.Database``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = Connection(url)
        self._keys: dict[str, tuple[list[str], str | None]] = {}

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence | Mapping | None = None) -> Iterator[dict[str, Any]]:
        return _rows(self.conn.execute(sql, params))

    def table_names(self) -> list[str]:
        return [row["table_name"] for row in self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")]

    def __getitem__(self, name: str) -> Table:
        return Table(self, name)

    def keys(self, table: str) -> tuple[list[str], str | None]:
        """The table's primary key columns and its identity (generated id) column, if any."""
        if table not in self._keys:
            primary = [row["column_name"] for row in self.query(
                """SELECT a.attname AS column_name FROM pg_index i
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
                [table])]
            identity = next(self.query(
                """SELECT column_name FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'""", [table]), None)
            if not primary:
                return [], None  # not cached: a table being created now
            self._keys[table] = (primary, identity["column_name"] if identity else None)
        return self._keys[table]

    def insert_row(self, table: str, row: Mapping[str, Any]) -> Any:
        """INSERT one row; returns its generated id (or its primary key)."""
        primary, identity = self.keys(table)
        returning = identity or (primary[0] if len(primary) == 1 else None)
        columns = ", ".join(row)
        values = ", ".join("%s" for _ in row)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({values})" if row else f"INSERT INTO {table} DEFAULT VALUES"
        if returning is None:
            self.conn._pg.execute(sql, list(row.values()))
            return None
        return self.conn._pg.execute(f"{sql} RETURNING {returning}", list(row.values())).fetchone()[0]


class _Inserted:
    def __init__(self, last_pk: Any) -> None:
        self.last_pk = last_pk


class Table:
    """``db[name]``: the sqlite-utils table calls store/ and the tests make."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    def _pk(self) -> list[str]:
        primary, _ = self.db.keys(self.name)
        if not primary:
            raise psycopg.ProgrammingError(f"table {self.name} has no primary key")
        return primary

    def _where_pk(self, value: Any) -> tuple[str, list[Any]]:
        primary = self._pk()
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        return " AND ".join(f"{column} = %s" for column in primary), values

    def get(self, value: Any) -> dict[str, Any]:
        where, values = self._where_pk(value)
        row = next(_rows(self.db.conn._pg.execute(f"SELECT * FROM {self.name} WHERE {where}", values)), None)
        if row is None:
            raise NotFoundError(f"no row {value!r} in {self.name}")
        return row

    def insert(self, row: Mapping[str, Any], **_: Any) -> _Inserted:
        return _Inserted(self.db.insert_row(self.name, row))

    def insert_all(self, rows: Iterable[Mapping[str, Any]], **_: Any) -> Table:
        for row in rows:
            self.db.insert_row(self.name, row)
        return self

    def update(self, value: Any, fields: Mapping[str, Any]) -> Table:
        if fields:
            where, values = self._where_pk(value)
            assignments = ", ".join(f"{column} = %s" for column in fields)
            self.db.conn._pg.execute(f"UPDATE {self.name} SET {assignments} WHERE {where}", [*fields.values(), *values])
        return self

    def upsert(self, row: Mapping[str, Any], pk: str | Sequence[str] | None = None, **_: Any) -> Table:
        keys = [pk] if isinstance(pk, str) else list(pk or self._pk())
        columns = ", ".join(row)
        values = ", ".join("%s" for _ in row)
        changes = [column for column in row if column not in keys]
        action = ("DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in changes)) if changes else "DO NOTHING"
        self.db.conn._pg.execute(
            f"INSERT INTO {self.name} ({columns}) VALUES ({values}) ON CONFLICT ({', '.join(keys)}) {action}",
            list(row.values()))
        return self

    @property
    def count(self) -> int:
        return self.db.conn._pg.execute(f"SELECT COUNT(*) FROM {self.name}").fetchone()[0]

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return _rows(self.db.conn._pg.execute(f"SELECT * FROM {self.name}"))

    # The schema calls of store/schema.py, in PostgreSQL's DDL.

    def create(self, columns: Mapping[str, type], pk: str | Sequence[str] | None = None,
               foreign_keys: Sequence[tuple[str, str, str]] = (), defaults: Mapping[str, Any] | None = None,
               if_not_exists: bool = False) -> Table:
        keys = [pk] if isinstance(pk, str) else list(pk or [])
        lines = []
        for column, kind in columns.items():
            if keys == [column] and kind is int:
                lines.append(f"{column} BIGINT GENERATED BY DEFAULT AS IDENTITY")
                continue
            default = (defaults or {}).get(column)
            lines.append(f"{column} {TYPES[kind]}" + ("" if default is None else f" DEFAULT {_literal(default)}"))
        if keys:
            lines.append(f"PRIMARY KEY ({', '.join(keys)})")
        lines.extend(f"FOREIGN KEY ({column}) REFERENCES {other} ({other_column})"
                     for column, other, other_column in foreign_keys)
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.execute(f"CREATE TABLE {exists}{self.name} ({', '.join(lines)})")
        return self

    def create_index(self, columns: Sequence[str], unique: bool = False) -> Table:
        name = f"idx_{self.name}_{'_'.join(columns)}"
        self.db.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {self.name} ({', '.join(columns)})")
        return self

    def add_column(self, name: str, kind: type, not_null_default: Any = None) -> Table:
        suffix = "" if not_null_default is None else f" NOT NULL DEFAULT {_literal(not_null_default)}"
        self.db.execute(f"ALTER TABLE {self.name} ADD COLUMN {name} {TYPES[kind]}{suffix}")
        return self


def _literal(value: Any) -> str:
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
