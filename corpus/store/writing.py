"""The store's write path: `ingest` stages an input's records in a scratch database, then merges them in one transaction.

The one place papers change, apart from the queries: staging in batches keeps memory flat whatever the
input's size, the merge fills a stored record and never blanks it, and it hands out the sequence numbers
the index catches up by (reading.py's `index_rows`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Iterator

from pydantic import BaseModel, Field

from corpus.models import Paper, Problem, RawRecord, merge
from corpus.store.builder import _Builder, _iso, _paper, _row
from corpus.store.errors import RecordsRejected
from corpus.store.file import guarded
from corpus.store.reading import StoreReader

# Kept outside SCHEMA (file.py) on purpose: created by the ingest path that uses them.
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


class StoreWriter(StoreReader):
    """Ingesting into a store file (`Store` is this class)."""

    @guarded
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
        that) and never both insert one id. A file that fails SQLite's `quick_check` is refused
        (StoreDamaged) before the input is read.
        """
        self.ensure_sound()  # never write into a damaged file: StoreDamaged says what to do
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
