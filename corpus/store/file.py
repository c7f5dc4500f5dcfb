"""The store file itself: opened (WAL, schema), closed, its `meta` table, its health checks.

The read path (`reading.py`) and the write path (`writing.py`) build on `StoreFile`; `guarded` turns the
SQLite errors of any of their methods into the one-line StoreErrors of `errors.py`, and a stored record
that no longer reads back into `StoreDamaged`. Nothing is written into a file that fails SQLite's
`quick_check`: every write path (`ensure_sound`) runs it once per connection before its first write.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

from pydantic import ValidationError

from corpus.models import Paper
from corpus.store.errors import StoreError, damaged, store_error

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

    def translate(self: StoreFile, exc: sqlite3.Error | ValidationError) -> StoreError:
        if isinstance(exc, ValidationError):  # every record was validated on its way in: this one changed since
            return damaged(self.path, f"a stored record no longer reads back: {_first_error(exc)}")
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
            raise exc
        return store_error(self.path, exc)

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: StoreFile, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except (sqlite3.Error, ValidationError) as exc:
                raise translate(self, exc) from None

        return generator

    @functools.wraps(method)
    def wrapper(self: StoreFile, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, ValidationError) as exc:
            raise translate(self, exc) from None

    return wrapper


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc']) or 'record'}: {error['msg']}"[:200]


class StoreFile:
    """One connection to a store file: the schema made, the pragmas set, the `meta` table, the checks."""

    def __init__(self, path: Path | str, timeout: float = 30.0):
        self.path = Path(path)
        self._sound = False  # quick_check passed on this connection (`ensure_sound`)
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
        """For modules that keep their own tables in the same file (corpus.feedback): they write, so checked first."""
        self.ensure_sound()
        return self._db

    @guarded
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @guarded
    def set_meta(self, key: str, value: str) -> None:
        self.ensure_sound()
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

        A file that fails `quick_check` is refused first (StoreDamaged), as every write path refuses it.
        BEGIN IMMEDIATE alone succeeds on a read-only file in WAL mode; a write inside a
        transaction that is rolled back proves it without changing anything.
        Raises StoreBusy when another writer holds the lock longer than the timeout.
        """
        self.ensure_sound()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write-probe', '1')")
        finally:
            self._db.execute("ROLLBACK")

    def ensure_sound(self) -> None:
        """Raise StoreDamaged unless the file passes SQLite's `quick_check`; run once per connection, before writing.

        Writing into a damaged file spreads the damage (SQLite may reuse a bad page) and hides it until a read
        fails; refusing costs one `quick_check` per command that writes (about 1 s per 400 MB, measured).
        """
        if not self._sound:
            self.check()

    def check(self, deep: bool = False) -> float:
        """Raise StoreDamaged unless SQLite's `quick_check` passes (`integrity_check` and every record, if `deep`).

        `deep` also reads every stored record back and compares it with the hash stored beside it: a flipped
        byte inside a record's text passes both of SQLite's checks. Returns the seconds it took.
        """
        started = time.perf_counter()
        pragma = "integrity_check" if deep else "quick_check"
        try:
            rows = [row[0] for row in self._db.execute(f"PRAGMA {pragma}(20)")]
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, f"{pragma}: {exc}") from None
        if rows != ["ok"]:
            more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
            raise damaged(self.path, f"{pragma} failed: {rows[0][:200]}{more}")
        if deep:
            self._check_records()
        self._sound = True
        return time.perf_counter() - started

    def _check_records(self) -> None:
        """Every record read back, parsed and hashed as it was stored: StoreDamaged naming the first that is not."""
        bad: list[str] = []
        rowid = 0
        while True:
            try:
                rows = self._db.execute(
                    "SELECT rowid, id, hash, CAST(record AS BLOB) FROM papers WHERE rowid > ? ORDER BY rowid LIMIT 2000",
                    (rowid,),
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise damaged(self.path, f"reading the papers after row {rowid}: {exc}") from None
            if not rows:
                break
            rowid = rows[-1][0]
            for _, paper_id, digest, record in rows:
                try:
                    if Paper.model_validate_json(bytes(record).decode("utf-8")).content_hash() != digest:
                        bad.append(str(paper_id))
                except (UnicodeDecodeError, ValidationError, TypeError):
                    bad.append(str(paper_id))
        if bad:
            listed = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise damaged(self.path, f"records that do not read back as stored: {listed}")
