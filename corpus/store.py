"""The SQLite store: one file under the paperbot home holds every paper.

Each ingest of one file is one transaction, so a file is stored whole or not at all.
Every insert or change bumps a sequence number; the retrieval index remembers the
last number it saw and asks only for what changed since (`index_rows(after_seq)`).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel

from corpus.models import Paper

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


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            added=self.added + other.added,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
        )


class CorpusStats(BaseModel):
    papers: int
    earliest: dt.date | None
    latest: dt.date | None
    sources: dict[str, int]


class StoreError(Exception):
    """The store file cannot be opened, read or written: one line naming the file and what to do."""


class StoreBusy(StoreError):
    """Another process held the write lock longer than this connection waits (its `timeout`).

    The bot opens its store with a ~2 s timeout and tells the user to try again,
    rather than freezing past Discord's 3 s while a long ingest holds the lock.
    """


def store_error(path: Path, exc: BaseException) -> StoreError:
    """The one-line StoreError for a SQLite failure on `path`: busy, read-only, full, or damaged."""
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreBusy(f"{path}: the store is busy (another process is writing); try again in a moment")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(
            f"{path}: the store is read-only ({text}); give this user write access to the file, its folder"
            " and its -wal/-shm files"
        )
    if "full" in lowered:
        return StoreError(f"{path}: {text}; free some disk space and run the command again (nothing was lost)")
    if isinstance(exc, sqlite3.OperationalError | OSError):
        return StoreError(f"{path}: cannot use the paper store ({text}); check the file and its folder")
    return StoreError(
        f"{path}: the paper store is damaged ({text}); restore the home from a backup (README, Operations),"
        " or move the file aside to start afresh"
    )


def _guarded(method: Callable) -> Callable:
    """Turn SQLite errors inside a Store method (or generator) into one-line StoreErrors.

    Integrity and programming errors are bugs, not states of the file, so they pass through.
    """

    def translate(self: Store, exc: sqlite3.Error) -> StoreError:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
            raise exc
        return store_error(self.path, exc)

    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Store, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise translate(self, exc) from None

        return generator

    @functools.wraps(method)
    def wrapper(self: Store, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise translate(self, exc) from None

    return wrapper


class Store:
    """A SQLite file of papers. Use as a context manager or call close().

    `timeout` is how long a write waits for another process's write lock before
    StoreBusy: long for the CLI (an ingest may wait for another), ~2 s for the bot.
    """

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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ writing

    @_guarded
    def ingest(self, papers: Iterable[Paper]) -> IngestReport:
        """Store papers in one transaction: new ids added, newer versions or changed records updated.

        The write lock is taken first (BEGIN IMMEDIATE) and the sequence read inside it, so two
        writers never hand out the same numbers (the index's catch-up relies on that) and never
        both insert one id.
        """
        report = IngestReport()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._db:  # commits on success, rolls back on any exception
            self._db.execute("BEGIN IMMEDIATE")
            seq = self.sequence
            for paper in papers:
                digest = paper.content_hash()
                row = self._db.execute("SELECT version, hash FROM papers WHERE id = ?", (paper.id,)).fetchone()
                if row is not None:
                    old_version, old_hash = row
                    if old_hash == digest or _is_older(paper.version, old_version):
                        report.unchanged += 1
                        continue
                seq += 1
                values = (paper.version, digest, paper.model_dump_json(), _iso(paper.published), paper.source, seq)
                if row is None:
                    self._db.execute(
                        "INSERT INTO papers (version, hash, record, published, source, seq, added_at, id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (*values, now, paper.id),
                    )
                    report.added += 1
                else:
                    self._db.execute(
                        "UPDATE papers SET version=?, hash=?, record=?, published=?, source=?, seq=? WHERE id=?",
                        (*values, paper.id),
                    )
                    report.updated += 1
            self._set_meta("seq", str(seq))
        return report

    @_guarded
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @_guarded
    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ------------------------------------------------------------------ reading

    @property
    @_guarded
    def sequence(self) -> int:
        """Bumped by every insert or update: the index compares it with its own."""
        value = self.get_meta("seq")
        return int(value) if value else 0

    @_guarded
    def state(self) -> tuple[int, int]:
        """(change counter, number of papers), read in one statement so they belong together."""
        seq, count = self._db.execute(
            "SELECT (SELECT value FROM meta WHERE key = 'seq'), (SELECT COUNT(*) FROM papers)"
        ).fetchone()
        return int(seq or 0), count

    @_guarded
    def get(self, paper_id: str) -> Paper | None:
        row = self._db.execute("SELECT record FROM papers WHERE id = ?", (paper_id,)).fetchone()
        return Paper.model_validate_json(row[0]) if row else None

    @_guarded
    def get_many(self, paper_ids: list[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for start in range(0, len(paper_ids), 500):
            chunk = paper_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for (record,) in self._db.execute(f"SELECT record FROM papers WHERE id IN ({marks})", chunk):
                paper = Paper.model_validate_json(record)
                found[paper.id] = paper
        return found

    @_guarded
    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM papers").fetchone()[0]

    @_guarded
    def papers(self) -> Iterator[Paper]:
        for (record,) in self._db.execute("SELECT record FROM papers ORDER BY seq"):
            yield Paper.model_validate_json(record)

    @property
    def connection(self) -> sqlite3.Connection:
        """For modules that keep their own tables in the same file (corpus.digests)."""
        return self._db

    @_guarded
    def max_row(self) -> int:
        """The highest row number: rows are given at insert and kept when a newer version replaces a paper."""
        return self._db.execute("SELECT COALESCE(MAX(rowid), 0) FROM papers").fetchone()[0]

    @_guarded
    def added_after(self, row: int) -> list[tuple[int, Paper]]:
        """Papers first added after row number `row` (replacements of older papers are not new)."""
        rows = self._db.execute("SELECT rowid, record FROM papers WHERE rowid > ? ORDER BY rowid", (row,))
        return [(rowid, Paper.model_validate_json(record)) for rowid, record in rows]

    @_guarded
    def index_rows(self, after_seq: int = 0) -> Iterator[tuple[int, tuple[str, str, int]]]:
        """(seq, (id, title + newline + abstract, year)) for papers changed after `after_seq`.

        Read with SQLite's JSON functions, so a full rebuild of a large corpus does not build a
        Paper object per row (that costs more than analyzing the text).
        """
        rows = self._db.execute(
            "SELECT seq, id, json_extract(record, '$.title'), json_extract(record, '$.abstract'),"
            " CAST(substr(COALESCE(published, '0'), 1, 4) AS INTEGER) FROM papers WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        for seq, paper_id, title, abstract, year in rows:
            yield seq, (paper_id, f"{title}\n{abstract}", year)

    @_guarded
    def published_on(self, day: dt.date) -> list[Paper]:
        rows = self._db.execute("SELECT record FROM papers WHERE published = ? ORDER BY id", (day.isoformat(),))
        return [Paper.model_validate_json(record) for (record,) in rows]

    @_guarded
    def stats(self) -> CorpusStats:
        count, earliest, latest = self._db.execute(
            "SELECT COUNT(*), MIN(published), MAX(published) FROM papers"
        ).fetchone()
        sources = dict(self._db.execute("SELECT source, COUNT(*) FROM papers GROUP BY source ORDER BY COUNT(*) DESC"))
        return CorpusStats(
            papers=count,
            earliest=dt.date.fromisoformat(earliest) if earliest else None,
            latest=dt.date.fromisoformat(latest) if latest else None,
            sources=sources,
        )

    @_guarded
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


def _is_older(new: int | None, old: int | None) -> bool:
    return new is not None and old is not None and new < old


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
