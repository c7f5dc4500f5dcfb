"""The SQLite store: one file under the paperbot home holds every paper.

Each ingest of one file is staged, then merged in one transaction, so a file is stored
whole or not at all, and a record that lacks a field never erases the stored value.
Every insert or change bumps a sequence number; the retrieval index remembers the
last number it saw and asks only for what changed since (`index_rows(after_seq)`).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydantic import BaseModel, Field

from corpus.models import Paper, Problem, RawRecord, RecordError, merge
from corpus.workers import die_with_parent

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


# Kept outside SCHEMA on purpose: created by the ingest path that uses them.
_RAW_DIGESTS = "CREATE TABLE IF NOT EXISTS raw_digests (id TEXT PRIMARY KEY, digest TEXT NOT NULL)"
_STAGING = (
    "CREATE TABLE IF NOT EXISTS stage.staging (id TEXT PRIMARY KEY, version INTEGER, hash TEXT NOT NULL,"
    " record TEXT NOT NULL, published TEXT, source TEXT NOT NULL, digest TEXT)"
)


STAGE_CACHE_KIB = 16 * 1024  # page cache of the scratch database that holds an ingest's staged records
MERGE_CACHE_KIB = 64 * 1024  # page cache of the store file while staged records are merged into it


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = Field(default=0, description="records left out by skip_bad")
    problems: list[Problem] = Field(default_factory=list, exclude=True)

    def __add__(self, other: IngestReport) -> IngestReport:
        return IngestReport(
            added=self.added + other.added,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            rejected=self.rejected + other.rejected,
            problems=self.problems + other.problems,
        )


class CorpusStats(BaseModel):
    papers: int
    earliest: dt.date | None
    latest: dt.date | None
    sources: dict[str, int]


class RecordsRejected(Exception):
    """Some records of an input are bad, so none of it was stored: `problems` says which and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} bad records; nothing stored")


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
    def ingest(
        self,
        items: Iterable[Paper | RawRecord | Problem],
        *,
        skip_bad: bool = False,
        batch_size: int = 2000,
        workers: int = 1,
    ) -> IngestReport:
        """Store papers as one change: new ids added, others merged (a new record fills, never blanks).

        Records are staged in a temporary table in batches, so memory stays flat whatever the
        input's size and the store is not locked while the input is read; the staged records
        are then merged into `papers` in one transaction. A problem anywhere (a bad record, or
        an exception from the input) leaves the store exactly as it was, unless `skip_bad`:
        then the good records are stored and the problems come back in `report.problems`.
        A RawRecord whose raw text the store saw last time for the same id is counted
        unchanged without being built at all, which is what makes re-ingesting a dump cheap.
        With `workers` > 1, a big input's records are built (decoded, cleaned, split into
        sentences: most of the time) in that many forked processes while this one stores.
        The merge takes the write lock first (BEGIN IMMEDIATE) and reads the sequence inside
        it, so two writers never hand out the same numbers (the index's catch-up relies on
        that) and never both insert one id.
        """
        report = IngestReport()
        problems: list[Problem] = []
        self._db.execute(_RAW_DIGESTS)
        self._db.commit()
        self._open_stage()
        builder = _Builder(workers)
        try:
            batch: list[Paper | RawRecord] = []
            in_flight = None  # one batch being built by the workers while the next one is read
            for item in items:
                if isinstance(item, Problem):
                    problems.append(item)
                    continue
                batch.append(item)
                if len(batch) >= batch_size:
                    prepared = self._prepare(batch, report, builder)
                    if in_flight:
                        self._stage(*in_flight, problems, skip_bad)
                    in_flight, batch = prepared, []
            if in_flight:
                self._stage(*in_flight, problems, skip_bad)
            self._stage(*self._prepare(batch, report, builder), problems, skip_bad)
            if problems and not skip_bad:
                raise RecordsRejected(problems)
            report.rejected = len(problems)
            report.problems = problems
            self._merge_staged(report, batch_size)
        finally:
            builder.close()
            self._db.rollback()  # only ever an unfinished batch: the merge commits on its own
            self._close_stage()
        return report

    def _open_stage(self) -> None:
        """Attach a private scratch database for the staged records, with an empty staging table.

        `ATTACH ''` is a temporary file SQLite deletes by itself (at detach, close or crash), so
        detaching drops a million staged records at once; emptying a table instead walks every
        page of it (3.7 s of a 100k ingest, profiled). Its own 16 MB page cache keeps the
        lookups of ids already staged off the disk.
        """
        if not any(row[1] == "stage" for row in self._db.execute("PRAGMA database_list")):
            self._db.execute("ATTACH DATABASE '' AS stage")
            # 16 kB pages hold five ~3 kB records where 4 kB pages held one (a quarter of each page unused):
            # staging a batch cost 40% less CPU and scanning the staged records half the time (measured)
            self._db.execute("PRAGMA stage.page_size = 16384")
            self._db.execute(f"PRAGMA stage.cache_size = -{STAGE_CACHE_KIB}")
            # nothing staged outlives the ingest and a crash deletes the file: its rollback journal can stay in memory
            self._db.execute("PRAGMA stage.journal_mode = MEMORY")
        self._db.execute(_STAGING)
        self._db.execute("DELETE FROM stage.staging")  # empty unless an earlier detach failed
        self._db.commit()

    def _close_stage(self) -> None:
        try:
            self._db.execute("DETACH DATABASE stage")
        except sqlite3.OperationalError:  # still in use: emptied instead, and reused by the next ingest
            self._db.execute("DELETE FROM stage.staging")
            self._db.commit()

    def _prepare(self, batch: list, report: IngestReport, builder: _Builder) -> tuple[list, Iterator]:
        """Set the batch's records building (all but those unchanged since last time); returns what _stage needs."""
        if not batch:
            return [], iter(())
        keys = [item.id for item in batch if isinstance(item, RawRecord) and item.id and item.digest]
        known = dict(self._select_in("SELECT id, digest FROM raw_digests WHERE id IN ({})", keys)) if keys else {}
        pending: list[tuple[str | None, Paper | Callable[[], Paper]]] = []
        for item in batch:
            if isinstance(item, RawRecord):
                if item.id and item.digest and known.get(item.id) == item.digest:
                    report.unchanged += 1
                else:
                    pending.append((item.digest, item.build))
            else:
                pending.append((None, item))
        return pending, builder.rows([thing for _, thing in pending if not isinstance(thing, Paper)])

    def _stage(self, pending: list, built: Iterator, problems: list[Problem], skip_bad: bool) -> None:
        """Put a prepared batch's built records in the staging table, merging any id seen twice."""
        staged: dict[str, tuple[tuple, str | None]] = {}
        for digest, thing in pending:
            row, errors = (_row(thing), []) if isinstance(thing, Paper) else next(built)
            if errors:
                problems.extend(errors)
                continue
            if problems and not skip_bad:
                continue  # the file is rejected anyway: only look for further problems
            if row[0] in staged:  # the same paper twice in one input: one record, merged
                row = _row(merge(_paper(staged[row[0]][0]), _paper(row)))
            staged[row[0]] = (row, digest)
        if not staged:
            return
        for paper_id, record in self._select_in("SELECT id, record FROM stage.staging WHERE id IN ({})", list(staged)):
            row, digest = staged[paper_id]
            staged[paper_id] = (_row(merge(Paper.model_validate_json(record), _paper(row))), digest)
        self._db.executemany(
            "INSERT OR REPLACE INTO stage.staging (id, version, hash, record, published, source, digest)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row, digest) for row, digest in staged.values()],
        )
        self._db.commit()

    def _merge_staged(self, report: IngestReport, batch_size: int) -> None:
        """Move the staged records into `papers` in one transaction: insert the new, merge the known.

        The main file's page cache is raised to MERGE_CACHE_KIB for the merge (SQLite's default
        2 MB keeps too few pages of the `published` index, which a big ingest updates at random
        places), and set back after.
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        cache = self._db.execute("PRAGMA main.cache_size").fetchone()[0]
        self._db.execute(f"PRAGMA main.cache_size = -{MERGE_CACHE_KIB}")
        try:
            self._merge_staged_rows(report, batch_size, now)
        finally:
            self._db.execute(f"PRAGMA main.cache_size = {int(cache)}")

    def _merge_staged_rows(self, report: IngestReport, batch_size: int, now: str) -> None:
        with self._db:  # commits on success, rolls back on any exception
            self._db.execute("BEGIN IMMEDIATE")
            seq = self.sequence
            report.unchanged += self._db.execute(
                "SELECT COUNT(*) FROM stage.staging s JOIN papers p ON p.id = s.id WHERE p.hash = s.hash"
            ).fetchone()[0]
            # The new ids first, numbered in staging order by the rowid of a small table. Selecting the
            # new records straight into `papers` (NOT EXISTS on papers) made SQLite copy every staged
            # record into a scratch table first, as a SELECT that reads the table it inserts into must.
            self._db.execute("DROP TABLE IF EXISTS stage.fresh")
            self._db.execute("CREATE TABLE stage.fresh (n INTEGER PRIMARY KEY, staged INTEGER NOT NULL)")
            self._db.execute(
                "INSERT INTO stage.fresh (staged) SELECT s.rowid FROM stage.staging s"
                " WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.id = s.id) ORDER BY s.rowid"
            )
            cursor = self._db.execute(
                "INSERT INTO papers (id, version, hash, record, published, source, added_at, seq)"
                " SELECT s.id, s.version, s.hash, s.record, s.published, s.source, ?, ? + f.n"
                " FROM stage.fresh f JOIN stage.staging s ON s.rowid = f.staged ORDER BY f.n",
                (now, seq),
            )
            report.added += cursor.rowcount
            seq += cursor.rowcount
            last = 0
            while True:
                rows = self._db.execute(
                    "SELECT s.rowid, s.record, p.record, p.hash FROM stage.staging s JOIN papers p ON p.id = s.id"
                    " WHERE s.rowid > ? AND p.hash != s.hash ORDER BY s.rowid LIMIT ?",
                    (last, batch_size),
                ).fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                updates = []
                for _, new_record, old_record, old_hash in rows:
                    merged = merge(Paper.model_validate_json(old_record), Paper.model_validate_json(new_record))
                    digest = merged.content_hash()
                    if digest == old_hash:
                        report.unchanged += 1
                        continue
                    seq += 1
                    updates.append(
                        (
                            merged.version,
                            digest,
                            merged.model_dump_json(),
                            _iso(merged.published),
                            merged.source,
                            seq,
                            merged.id,
                        )
                    )
                self._db.executemany(
                    "UPDATE papers SET version=?, hash=?, record=?, published=?, source=?, seq=? WHERE id=?", updates
                )
                report.updated += len(updates)
            self._db.execute(
                "INSERT OR REPLACE INTO raw_digests (id, digest) SELECT id, digest FROM stage.staging WHERE digest IS NOT NULL"
            )
            self._set_meta("seq", str(seq))

    def _select_in(self, sql: str, keys: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows.extend(self._db.execute(sql.format(",".join("?" * len(chunk))), chunk))
        return rows

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
    def changed_since(self, seq: int) -> int:
        """How many papers were added or changed after change number `seq` (what an index at `seq` lacks)."""
        return self._db.execute("SELECT COUNT(*) FROM papers WHERE seq > ?", (seq,)).fetchone()[0]

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


def _row(paper: Paper) -> tuple:
    """A paper as the staging table holds it: (id, version, hash, record, published, source)."""
    return (paper.id, paper.version, paper.content_hash(), paper.model_dump_json(), _iso(paper.published), paper.source)


def _paper(row: tuple) -> Paper:
    return Paper.model_validate_json(row[3])


def _build_row(build: Callable[[], Paper]) -> tuple[tuple | None, list[Problem]]:
    """Build one record into a staging row; in a worker process when there are workers."""
    try:
        return _row(build()), []
    except RecordError as exc:
        return None, exc.problems


class _Builder:
    """Builds records in this process, or, for big inputs, in forked worker processes.

    Only builds that can be pickled (functools.partial of a module-level function, as the JSON
    Lines reader makes them) go to the workers; the pool starts with the first full batch, so a
    small file never pays for it. Fork, not spawn: `python -m bot.cli` would run again in a
    spawned child. Where fork is missing (Windows, macOS default), records are built here.
    """

    MIN_PARALLEL = 256

    def __init__(self, workers: int):
        self.workers = workers if "fork" in multiprocessing.get_all_start_methods() else 1
        self.pool: ProcessPoolExecutor | None = None

    def rows(self, builds: list) -> Iterator[tuple[tuple | None, list[Problem]]]:
        parallel = (
            self.workers > 1
            and len(builds) >= self.MIN_PARALLEL
            and all(isinstance(b, functools.partial) for b in builds)
        )
        if not parallel:
            return iter([_build_row(b) for b in builds])  # now: the caller relies on the order of effects
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self.pool.map(_build_row, builds, chunksize=max(16, len(builds) // (self.workers * 4)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


def _is_older(new: int | None, old: int | None) -> bool:
    return new is not None and old is not None and new < old


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
