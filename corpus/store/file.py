"""The store file itself: opened (WAL, schema), closed, its `meta` table, its health checks.

The read path (`reading.py`) and the write path (`writing.py`) build on `StoreFile`; `guarded` turns the
SQLite errors of any of their methods into the one-line StoreErrors of `errors.py`.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Self

from corpus.store.errors import StoreError, store_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id        TEXT PRIMARY KEY,
    version   INTEGER,
    hash      TEXT NOT NULL,
    record    TEXT NOT NULL,
    published TEXT,
    source    TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    seq       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_seq ON papers(seq);
CREATE INDEX IF NOT EXISTS papers_published ON papers(published);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def guarded(method: Callable) -> Callable:
    """Turn SQLite errors inside a Store method (or generator) into one-line StoreErrors.

    Integrity and programming errors are bugs, not states of the file, so they pass through.
    """

    def translate(self: StoreFile, exc: sqlite3.Error) -> StoreError:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
            raise exc
        return store_error(self.path, exc)

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: StoreFile, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise translate(self, exc) from None

        return generator

    @functools.wraps(method)
    def wrapper(self: StoreFile, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(self, exc) from None

    return wrapper


class StoreFile:
    """One connection to a store file: the schema made, the pragmas set, the `meta` table, the checks."""

    def __init__(self, path: Path | str, timeout: float = 30.0):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise store_error(self.path, exc) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """For modules that keep their own tables in the same file (corpus.digests)."""
        return self._db

    @guarded
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @guarded
    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @guarded
    def probe_writable(self) -> None:
        """Raise StoreError unless this process can really write the file (and its -wal/-shm).

        BEGIN IMMEDIATE alone succeeds on a read-only file in WAL mode; a write inside a
        transaction that is rolled back proves it without changing anything.
        Raises StoreBusy when another writer holds the lock longer than the timeout.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write-probe', '1')")
        finally:
            self._db.execute("ROLLBACK")

    def check(self) -> None:
        """Raise StoreError unless SQLite's integrity check passes."""
        try:
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        if result != "ok":
            raise StoreError(f"{self.path}: integrity check failed: {result}")
