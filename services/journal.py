"""The webhook journal: Twilio's reports that arrived while the database could not be written, kept on disk and
applied when it can be written again, so no call, status or hang-up is lost from the records.

An append-only file of JSON lines (``JOURNAL_PATH``; put it on another filesystem than the database if a full
disk is to be survived), each line written and fsynced under an ``flock`` by any process of the center. A line
holds the webhook as it arrived (path, query, form) and the call as the webhook left it (``call``), so that the
call's next webhooks, which come while the first is not yet applied, are decided on what the caller lived
(``pending_call``) rather than on a database that does not know the call yet.

The routing ticker drains the journal (``drain``) when it is not empty: each webhook is replayed in order,
through the same view, and marked applied in its own transaction (``journal_replayed``), so a replay that is
interrupted and started again applies nothing twice. Once every line is applied the file is emptied.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One webhook as it arrived, and the call as its decision left it (None: it did not touch a call row)."""

    id: str
    at: str
    sid: str
    path: str
    query: str
    form: list[tuple[str, str]]
    call: dict[str, Any] | None

    @classmethod
    def of(cls, at: str, sid: str, path: str, query: str, form: list[tuple[str, str]],
           call: dict[str, Any] | None) -> Entry:
        return cls(uuid.uuid4().hex, at, sid, path, query, [tuple(pair) for pair in form], call)


class StillUnavailable(Exception):
    """A replay found the database still unwritable: the drain stops and is tried again later."""


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path
        self._file: tuple[int, int] = (0, 0)  # (inode, bytes read) of the journal file as last read
        self._entries: list[Entry] = []
        self._calls: dict[str, dict[str, Any] | None] = {}  # call sid → its row as the latest entry left it

    @contextmanager
    def _current(self) -> Iterator[int]:
        """The journal file, open and locked (exclusively), the one at ``path`` now: a drain may have removed the
        one opened before the lock was had."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            yield fd
        finally:
            os.close(fd)

    def append(self, entry: Entry) -> None:
        """Keep ``entry`` durably (written and fsynced before the webhook answers)."""
        line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode()
        with self._current() as fd:
            os.write(fd, line)
            os.fsync(fd)
        log.warning("kept %s for call %s in the journal (the database cannot be written now)", entry.path, entry.sid)

    def entries(self) -> list[Entry]:
        """What the journal holds, in order: what was added since the last look is read (all of it after a drain)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._file, self._entries, self._calls = (0, 0), [], {}
            return self._entries
        inode, read = self._file
        if inode != stat.st_ino:  # a new file: the last one was drained
            self._entries, self._calls, read = [], {}, 0
        if stat.st_size > read:
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return self._entries
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                if os.fstat(fd).st_ino != stat.st_ino:
                    return self._entries  # drained meanwhile: read again next time
                data = os.pread(fd, os.fstat(fd).st_size - read, read)
            finally:
                os.close(fd)
            complete = data[: data.rfind(b"\n") + 1]
            for line in complete.splitlines():
                self._add(_entry(line))
            read += len(complete)
        self._file = (stat.st_ino, read)
        return self._entries

    def _add(self, entry: Entry) -> None:
        self._entries.append(entry)
        if entry.call is not None or entry.sid not in self._calls:
            self._calls[entry.sid] = entry.call

    def has(self, sid: str) -> bool:
        """Are reports of call ``sid`` waiting in the journal?"""
        self.entries()
        return sid in self._calls

    def pending_call(self, sid: str) -> dict[str, Any] | None:
        """The call row as the latest journaled webhook of ``sid`` left it, if any."""
        self.entries()
        return self._calls.get(sid)

    def pending(self) -> bool:
        return bool(self.entries())

    def drain(self, replay: Callable[[Entry], None], forget: Callable[[], None]) -> int:
        """Replay every entry in order (``replay`` raises StillUnavailable to stop); remove the file when all are
        applied (``forget``: the store drops its record of applied ids). One drain at a time across the center's
        processes (``flock`` on ``<journal>.drain``). How many were replayed."""
        if not os.path.exists(self.path):
            return 0
        fd = os.open(self.path + ".drain", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is draining
            entries = list(self.entries())
            read = self._file
            for done, entry in enumerate(entries):
                try:
                    replay(entry)
                except StillUnavailable:
                    log.info("journal: %s of %s replayed; the database still cannot be written", done, len(entries))
                    return done
            with self._current() as journal:
                stat = os.fstat(journal)
                if (stat.st_ino, stat.st_size) == read:  # nothing was added meanwhile: all of it is applied
                    forget()
                    os.unlink(self.path)
            if entries:
                log.info("journal: %s webhook(s) replayed into the database", len(entries))
            return len(entries)
        finally:
            os.close(fd)

def _entry(line: bytes) -> Entry:
    raw = json.loads(line)
    return Entry(**{**raw, "form": [tuple(pair) for pair in raw["form"]]})
