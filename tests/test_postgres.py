"""Beyond one machine: a SQLite center moved into PostgreSQL (`flask --app app db migrate-to-postgres`), the lease of
the work one node does for all, and /healthz saying which backend and which node holds it. These run in both passes
of `make test` against a real PostgreSQL (the suite's, else 127.0.0.1:5432, else a server of their own)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests

from core.clock import iso
from harness import postgres as harness_postgres
from store import leases
from store.db import connect
from store.migrations import MIGRATIONS, applied, migrate
from store.postgres import masked
from tests.conftest import ROOT, Server
from tests.databases import POSTGRES, backend, connect_db, target


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server's database URL: the suite's, else the machine's, else one started for these tests."""
    with harness_postgres.server(POSTGRES) as url:
        yield url


@pytest.fixture
def empty_database(postgres: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (as an operator creates one for the move), dropped afterwards."""
    name = "cc_move_" + secrets.token_hex(4)
    admin = postgres.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def test_a_sqlite_center_moves_into_an_empty_postgresql_database_verified_by_row_counts(empty_database, tmp_path):
    """The demo center, with a real call in it, on SQLite; then copied as an operator would."""
    source = tmp_path / "server.db"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_PATH": str(source), "DATABASE_URL": "",
           "OPENING_HOURS": "mon-sun 00:00-24:00", "HOLIDAYS_FILE": ""}
    assert flask("init-db", env=env).returncode == 0
    assert flask("seed-demo", env=env).returncode == 0
    center = Server(tmp_path, {"DATABASE_URL": ""}).start()
    try:
        assert center.call("+15551230002", [{"keys": "2"}])["ended"]  # the demo's Russian caller, to billing
    finally:
        center.stop()
    moved = flask("db", "migrate-to-postgres", empty_database, env=env)
    assert moved.returncode == 0, moved.stderr
    assert "row counts verified" in moved.stdout

    sqlite, pg = connect(str(source)), connect(empty_database)
    for table in sqlite.table_names():
        assert pg[table].count == sqlite[table].count, table
    assert pg["calls"].count > 0 and pg["agents"].count > 0 and pg["call_events"].count > 0
    for sid in [row["sid"] for row in sqlite.query("SELECT sid FROM calls")]:
        assert pg["calls"].get(sid) == sqlite["calls"].get(sid)
    assert [r["id"] for r in pg.query("SELECT id FROM routing_instance")] == [
        r["id"] for r in sqlite.query("SELECT id FROM routing_instance")]
    # the next generated ids follow the copied ones
    highest = max(r["id"] for r in sqlite.query("SELECT id FROM call_events"))
    pg.execute("INSERT INTO call_events (call_sid, at, kind, data) VALUES (?, ?, 'note', '{}')",
               [sid, iso(datetime.now(UTC))])
    assert max(r["id"] for r in pg.query("SELECT id FROM call_events")) == highest + 1

    again = flask("db", "migrate-to-postgres", empty_database, env=env)
    assert again.returncode != 0 and "not empty" in again.stderr and "nothing was copied" in again.stderr
    assert pg["calls"].count == sqlite["calls"].count
    wrong = flask("db", "migrate-to-postgres", "mysql://somewhere/db", env=env)
    assert wrong.returncode != 0 and "postgresql://" in wrong.stderr and "Traceback" not in wrong.stderr



def test_the_housekeeping_lease_is_held_by_one_node_and_taken_over_when_it_is_not_renewed(tmp_path):
    db = connect_db(tmp_path / "lease.db")
    migrate(db)
    t0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def claim(node: str, at: datetime) -> bool:
        return leases.claim(db, "housekeeping", node, iso(at), iso(at + timedelta(seconds=30)))

    assert claim("node-a", t0)
    assert not claim("node-b", t0 + timedelta(seconds=10))  # a's lease runs
    assert claim("node-a", t0 + timedelta(seconds=20))  # renewed: until t0 + 50 s
    assert not claim("node-b", t0 + timedelta(seconds=45))
    assert claim("node-b", t0 + timedelta(seconds=51))  # a stopped renewing: b takes it
    assert not claim("node-a", t0 + timedelta(seconds=52))  # and a, back, does not take it back while b renews
    assert leases.current(db, "housekeeping") == {"holder": "node-b", "until": iso(t0 + timedelta(seconds=81))}


def test_healthz_says_which_backend_and_which_node_holds_the_lease(server):
    def health() -> dict:
        return requests.get(server.base_url + "/healthz", timeout=5).json()

    body = health()
    assert body["database"]["backend"] == backend()
    assert body["database"]["path"] == masked(server.database)
    assert masked("postgresql://cc:s3cret@db.example:5432/cc") == "postgresql://cc:***@db.example:5432/cc"
    assert body["lease"]["name"] == "housekeeping" and body["lease"]["holder"] == body["lease"]["node"]
    assert body["lease"]["until"] > iso(datetime.now(UTC))


def test_processes_starting_at_once_on_a_new_database_all_migrate_it(tmp_path):
    """gunicorn's workers (and a second node) start together: each migrates the empty database, none may fail."""
    database = target(tmp_path / "race.db")
    code = "import sys; from store.db import connect; from store.migrations import migrate; migrate(connect(sys.argv[1]))"
    starting = [subprocess.Popen([sys.executable, "-c", code, database], cwd=ROOT, stderr=subprocess.PIPE, text=True)
                for _ in range(6)]  # fmt: skip
    failures = [(p.wait(120), p.stderr.read()[-600:]) for p in starting]
    assert [code for code, _ in failures] == [0] * 6, failures
    db = connect_db(tmp_path / "race.db")
    assert sorted(applied(db)) == sorted(name for name, _ in MIGRATIONS)
