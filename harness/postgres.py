"""A PostgreSQL server for the tests and benchmarks; ``python -m harness.postgres COMMAND…`` runs a command (the test
suite) against one.

``server()`` gives a database URL: the one given (``DATABASE_URL``), else the server on 127.0.0.1:5432 when it answers (these
machines run one, trust auth, database ``test``), else a server of our own started for the command's duration
from Debian's ``postgresql`` package (installed with apt-get when missing) in a temporary folder, on a free port.
The command gets it as ``DATABASE_URL``; its exit status is ours.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

LOCAL = "postgresql://postgres@127.0.0.1:5432/test"


def answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        print("installing Debian package postgresql", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the ``postgres`` user the package creates."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def own_server() -> tuple[str, Callable[[], None]]:
    """Start a private server; returns its URL and a function that stops it and removes its files."""
    binaries = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="cc-postgres-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
                   check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                                 f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]),
                   check=True, stdout=subprocess.DEVNULL)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE test")

    def stop() -> None:
        subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), check=False,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/test", stop


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``schema`` as its search path: a database of its own on a shared server (see create_schema)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def create_schema(url: str, schema: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return schema_url(url, schema)


def drop_schemas(url: str, schemas: Iterable[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextmanager
def server(url: str = "") -> Iterator[str]:
    """``url`` if given, else the machine's server when it answers, else one of our own for the block's duration."""
    if url:
        yield url
    elif answers(LOCAL):
        yield LOCAL
    else:
        url, stop = own_server()
        print(f"started a PostgreSQL server of our own at {url}", file=sys.stderr)
        try:
            yield url
        finally:
            stop()


def main(command: list[str]) -> int:
    with server(os.environ.get("DATABASE_URL", "")) as url:
        return subprocess.run(command, env={**os.environ, "DATABASE_URL": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
