"""Run a command (the test suite) against PostgreSQL: ``python -m tests.postgres_server COMMAND…``.

The command gets ``DATABASE_URL``: the one already set, else the server on 127.0.0.1:5432 when it answers (these
machines run one, trust auth, database ``test``), else a server of our own started for the command's duration
from Debian's ``postgresql`` package (installed with apt-get when missing) in a temporary folder, on a free port.
The command's exit status is ours.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
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


def main(command: list[str]) -> int:
    url, stop = os.environ.get("DATABASE_URL", ""), None
    if not url:
        if answers(LOCAL):
            url = LOCAL
        else:
            url, stop = own_server()
            print(f"started a PostgreSQL server of our own at {url}", file=sys.stderr)
    try:
        return subprocess.run(command, env={**os.environ, "DATABASE_URL": url}).returncode
    finally:
        if stop is not None:
            stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
