"""Paper vectors for the semantic stage, kept beside the index: HOME/vectors/<model id>/.

Each batch of new vectors is one segment file, `seg-NNNNNNNN.npz` (paper ids, content
hashes, float16 vectors), written to a temporary file, flushed and renamed into place
while holding `.lock` (fcntl.flock), so several processes can add segments and readers
never see half a file. A later segment wins for a paper it repeats; `compact` merges
segments into one. A damaged segment is skipped with one warning; its papers then count
as missing and are encoded again. Vectors are keyed by paper id and a hash of the text
the model read, so the builder encodes an updated abstract again (search uses the previous
vector until then).

`VectorBuilder` encodes the papers that have no vector in a background thread, with
progress in the log; search never waits for it: a paper without a vector is ranked by
BM25 alone (retrieval/semantic/stage.py `fuse`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from retrieval.semantic.encoder import DIM, Encoder, document_text

log = logging.getLogger(__name__)

VECTORS_DIR = "vectors"
SEGMENT_GLOB = "seg-*.npz"
COMPACT_AFTER = 64  # segments; merging keeps load time and file count bounded


def content_hash(title: str, abstract: str) -> str:
    """What identifies the text a vector was made from (16 hex digits of SHA-256)."""
    return hashlib.sha256(document_text(title, abstract).encode()).hexdigest()[:16]


class VectorStore:
    """The vectors of one model in one folder: in memory once loaded, refreshed from disk on demand."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = threading.Lock()
        self.where: dict[str, tuple[str, int]] = {}  # paper id -> (content hash, row of `matrix`)
        self.matrix = np.zeros((0, DIM), np.float16)  # rows [0, size) in use; grown by doubling
        self.size = 0
        self.seen: set[str] = set()
        self.warned: set[str] = set()

    @classmethod
    def for_model(cls, home: Path, model_id: str) -> VectorStore:
        return cls(home / VECTORS_DIR / model_id).refresh()

    def __len__(self) -> int:
        return len(self.where)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def refresh(self) -> VectorStore:
        """Read the segments not read yet (other processes' additions included)."""
        if not self.folder.is_dir():
            return self
        for path in sorted(self.folder.glob(SEGMENT_GLOB)):
            if path.name in self.seen:
                continue
            try:
                with np.load(path, allow_pickle=False) as data:
                    ids, hashes, vectors = data["ids"], data["hashes"], data["vectors"]
                if vectors.shape != (len(ids), DIM) or len(hashes) != len(ids):
                    raise ValueError(f"shapes {vectors.shape}, {len(ids)} ids, {len(hashes)} hashes")
            except FileNotFoundError:
                continue  # merged away by another process's compact; its merged segment is read instead
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
                if path.name not in self.warned:
                    self.warned.add(path.name)
                    log.warning("%s: damaged vector file ignored (%s); its papers will be encoded again", path, exc)
                continue
            with self.lock:
                self._absorb(ids.tolist(), hashes.tolist(), vectors.astype(np.float16, copy=False))
                self.seen.add(path.name)
        return self

    @staticmethod
    def keys(folder: Path) -> dict[str, str]:
        """Paper id -> content hash of every vector kept in `folder`, without reading the vectors themselves.

        What `paperbot vectors status` and `paperbot corpus` count with: a home of millions of papers holds
        gigabytes of vectors, and only their ids and hashes are needed to say which papers have one.
        """
        found: dict[str, str] = {}
        for path in sorted(folder.glob(SEGMENT_GLOB)) if folder.is_dir() else []:
            try:
                with np.load(path, allow_pickle=False) as data:
                    ids, hashes = data["ids"].tolist(), data["hashes"].tolist()
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
                continue  # damaged (refresh warns) or merged away: its papers count as missing
            if len(ids) == len(hashes):
                found.update(zip(ids, hashes, strict=True))
        return found

    def _absorb(self, ids: list[str], hashes: list[str], vectors: np.ndarray) -> None:
        """Put a segment's vectors in the matrix: a paper already there is overwritten in its row."""
        fresh = [i for i, paper_id in enumerate(ids) if paper_id not in self.where]
        if self.size + len(fresh) > len(self.matrix):
            grown = np.zeros((max(2 * len(self.matrix), self.size + len(fresh), 1024), DIM), np.float16)
            grown[: self.size] = self.matrix[: self.size]
            self.matrix = grown
        for i, (paper_id, digest) in enumerate(zip(ids, hashes, strict=True)):
            found = self.where.get(paper_id)
            row = found[1] if found else self.size
            if not found:
                self.size += 1
            self.matrix[row] = vectors[i]
            self.where[paper_id] = (digest, row)

    def missing(self, papers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Of (paper id, content hash) pairs, those without a vector for that text."""
        where = self.where
        return [(p, h) for p, h in papers if (w := where.get(p)) is None or w[0] != h]

    def add(self, paper_ids: list[str], hashes: list[str], vectors: np.ndarray) -> Path | None:
        """Write one segment (atomically, under the folder's lock) and make it visible here."""
        if not paper_ids:
            return None
        with self._locked():
            path = self._next_path()
            self._write(path, paper_ids, hashes, vectors)
        self.refresh()
        return path

    def _next_path(self) -> Path:
        numbers = [int(p.stem[4:]) for p in self.folder.glob(SEGMENT_GLOB) if p.stem[4:].isdigit()]
        return self.folder / f"seg-{max(numbers, default=0) + 1:08d}.npz"

    def _write(self, path: Path, paper_ids: list[str], hashes: list[str], vectors: np.ndarray) -> None:
        part = path.with_name(f".{path.stem}.{os.getpid()}.part")
        with part.open("wb") as handle:
            np.savez(
                handle,
                ids=np.array(paper_ids, dtype=str),
                hashes=np.array(hashes, dtype=str),
                vectors=np.asarray(vectors, np.float16),
            )
            handle.flush()
            os.fsync(handle.fileno())
        part.replace(path)

    def compact(self) -> None:
        """Merge every readable segment into one (the newest vector of each paper), then drop the old files."""
        with self._locked():
            self.refresh()
            old = [p for p in self.folder.glob(SEGMENT_GLOB)]
            if len(old) < 2:
                return
            ids = list(self.where)
            vectors, hashes = self.get(ids)
            self._write(self._next_path(), ids, hashes, vectors)
            for path in old:
                path.unlink(missing_ok=True)
        with self.lock:
            self.where, self.seen, self.size = {}, set(), 0
            self.matrix = np.zeros((0, DIM), np.float16)
        self.refresh()

    def get(self, paper_ids: list[str]) -> tuple[np.ndarray, list[str]]:
        """Vectors (float16) and content hashes of papers that have one (caller checks with `lookup` otherwise)."""
        with self.lock:
            found = [self.where[p] for p in paper_ids]
            rows = self.matrix[[r for _, r in found]] if found else np.zeros((0, DIM), np.float16)
        return rows, [h for h, _ in found]

    def lookup(self, paper_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 vectors, has-vector mask) for the papers."""
        missing = ("", -1)
        with self.lock:
            rows = np.fromiter((self.where.get(p, missing)[1] for p in paper_ids), np.int64, len(paper_ids))
            have = rows >= 0
            out = np.zeros((len(paper_ids), DIM), np.float32)
            out[have] = self.matrix[rows[have]]
        return out, have


class StoreChanges:
    """`pending` for the bot's builder: (id, title, abstract) of the papers changed since the last finished pass.

    Reads on its own SQLite connection, opened per pass, so a pass over a large store never holds the
    bot's lock (search goes on); after the first pass only new or updated rows are read.
    """

    def __init__(self, path: Path):
        self.path = path
        self.seq = 0
        self.read_to = 0

    def __call__(self) -> list[tuple[str, str, str]]:
        from corpus.store import Store

        store = Store(self.path)
        try:
            out = []
            for seq, (paper_id, text, _) in store.index_rows(self.seq):
                title, _, abstract = text.partition("\n")
                out.append((paper_id, title, abstract))
                self.read_to = max(self.read_to, seq)
            return out
        finally:
            store.close()

    def done(self) -> None:
        """The rows read so far are encoded: the next pass starts after them."""
        self.seq = self.read_to


class VectorBuilder(threading.Thread):
    """Encodes papers without vectors in the background, a batch at a time, logging progress.

    `pending()` returns (paper id, title, abstract) of the papers to consider; `poke()` asks for another pass
    (e.g. after new papers arrive). Search keeps working throughout: it reads whatever vectors exist.
    """

    def __init__(
        self,
        vectors: VectorStore,
        encoder: Encoder,
        pending: Callable[[], Iterable[tuple[str, str, str]]],
        batch: int = 64,
    ):
        super().__init__(name="paperbot-vectors", daemon=True)
        self.vectors, self.encoder, self.pending, self.batch = vectors, encoder, pending, batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.idle = threading.Event()
        self.encoded = 0
        self.wake.set()

    def poke(self) -> None:
        self.idle.clear()
        self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait()
            self.wake.clear()
            try:
                self.build_once()
                if not self.stopping.is_set() and hasattr(self.pending, "done"):
                    self.pending.done()
            except Exception:  # a background thread must not die silently
                log.exception("vector building failed; search goes on with the vectors it has")
            if not self.wake.is_set():
                self.idle.set()

    def build_once(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Encode every paper that lacks a vector for its current text; returns how many were encoded.

        `progress(encoded, to encode)` is called once the papers to encode are known, then after each batch
        (`paperbot vectors build` and `paperbot eval vectors` draw their progress bar with it).
        """
        self.vectors.refresh()
        texts = {pid: (title, abstract) for pid, title, abstract in self.pending()}
        todo = self.vectors.missing((pid, content_hash(*text)) for pid, text in texts.items())
        if progress is not None:
            progress(0, len(todo))
        if not todo:
            return 0
        started, done = time.perf_counter(), 0
        for start in range(0, len(todo), self.batch):
            if self.stopping.is_set():
                break
            chunk = todo[start : start + self.batch]
            vectors = self.encoder.encode([document_text(*texts[pid]) for pid, _ in chunk])
            self.vectors.add([pid for pid, _ in chunk], [h for _, h in chunk], vectors)
            done += len(chunk)
            self.encoded += len(chunk)
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("vectors: %d/%d encoded (%.1f papers/s)", done, len(todo), rate)
            if progress is not None:
                progress(done, len(todo))
        if len(list(self.vectors.folder.glob(SEGMENT_GLOB))) > COMPACT_AFTER:
            self.vectors.compact()
        return done
