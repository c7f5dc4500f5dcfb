"""Records built into staging rows (decoded, cleaned, split into sentences): here, or for a big input in forked workers.

Building is most of an ingest's time, so it is apart from the staging and merging (`writing.py`), which
stays in one process while the workers build the next batch.
"""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

from corpus.models import Paper, Problem, RecordError
from corpus.workers import die_with_parent


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


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
