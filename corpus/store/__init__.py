"""The SQLite store: one file under the paperbot home holds every paper.

Each ingest of one file is staged, then merged in one transaction, so a file is stored
whole or not at all, and a record that lacks a field never erases the stored value.
Every insert or change bumps a sequence number; the retrieval index remembers the
last number it saw and asks only for what changed since (`index_rows(after_seq)`).

By job: `file.py` opens the file (schema, `meta`, checks), `reading.py` answers queries,
`writing.py` ingests (stage, then merge), `builder.py` builds records into rows (in forked
workers for a big input), and `errors.py` holds the one-line errors of them all.
"""

from __future__ import annotations

from corpus.store.errors import RecordsRejected, StoreBusy, StoreDamaged, StoreError, store_error
from corpus.store.file import SCHEMA
from corpus.store.reading import CorpusStats
from corpus.store.writing import MERGE_CACHE_KIB, STAGE_CACHE_KIB, IngestReport, StoreWriter

__all__ = [
    "MERGE_CACHE_KIB",
    "SCHEMA",
    "STAGE_CACHE_KIB",
    "CorpusStats",
    "IngestReport",
    "RecordsRejected",
    "Store",
    "StoreBusy",
    "StoreDamaged",
    "StoreError",
    "store_error",
]


class Store(StoreWriter):
    """A SQLite file of papers. Use as a context manager or call close().

    `timeout` is how long a write waits for another process's write lock before
    StoreBusy: long for the CLI (an ingest may wait for another), ~2 s for the bot.
    """
