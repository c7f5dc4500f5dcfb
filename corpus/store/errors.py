"""How the store fails: each state of the file (busy, read-only, full, damaged) as one exception with one line.

Apart from the store's code so that both its read and write paths raise the same errors, and callers (the CLI,
the bot, corpus.digests) catch them without knowing SQLite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from corpus.models import Problem


class RecordsRejected(Exception):
    """Some records of an input are bad, so none of it was stored: `problems` says which and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} bad records; nothing stored")


class StoreError(Exception):
    """The store file cannot be opened, read or written: one line naming the file and what to do."""


class StoreDamaged(StoreError):
    """The file fails SQLite's check, or a stored record cannot be read back: nothing is written into it."""


DAMAGED_ADVICE = (
    "restore papers.sqlite3 from a backup (docs/operations.md, Backup / restore), and run `paperbot check --deep`"
    " to see what is damaged"
)


def damaged(path: Path, detail: str) -> StoreDamaged:
    """The one line for a damaged store: what is wrong (in short, so the advice is never cut off), then what to do."""
    if "could not decode" in detail.lower():  # SQLite's message quotes the record: a page of it
        detail = "a stored record is not valid UTF-8 text"
    detail = detail if len(detail) <= 160 else detail[:160] + "…"
    return StoreDamaged(f"{path}: the paper store is damaged ({detail}); {DAMAGED_ADVICE}")


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
    if "could not decode" in lowered or "malformed" in lowered or "not a database" in lowered:
        return damaged(path, text)
    if isinstance(exc, sqlite3.OperationalError | OSError):
        return StoreError(f"{path}: cannot use the paper store ({text}); check the file and its folder")
    return damaged(path, text)
