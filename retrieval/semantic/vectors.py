"""Paper vectors for the semantic stage, kept beside the index: HOME/vectors/<model id>/.

One float16 matrix, memory-mapped, so a query reads its 1,000 candidates' rows without opening a file:

    vectors-G.f16   every vector, DIM float16 values a row, in the order they were added (appended)
    keys-G.tsv      a line per row: paper id, a tab, the content hash of the text the model read
    state.json      {"format", "generation": G, "rows", "keys_bytes"}: how much of the two files is whole

A writer appends under `.lock` (fcntl.flock): it first cuts both files back to what state.json covers
(a writer killed midway leaves a tail), appends, flushes and fsyncs, then replaces state.json
atomically. A reader takes state.json's rows and never sees half a row; other processes' additions
are read by `refresh` (the new key lines, the longer mapping). A later row wins for a paper it repeats
(an updated abstract: search uses the previous vector until the builder has encoded the new text).
When superseded rows are the larger part, `compact` writes the live rows as generation G + 1 and
removes G (a reader still mapping G keeps reading it: the files go when it lets go).

Damage is repaired once, with one warning, so it is not met again by every command: a state.json that
cannot be read, files shorter than it says, or key lines that cannot be read keep the rows that are
whole and drop the rest, on disk, and the papers dropped count as missing, so the builder encodes them
again. `vectors_problem` (for `paperbot check`) says what is wrong without changing anything, rows
that are not unit vectors included (a full read of the matrix).

Segments of earlier versions (seg-*.npz, each batch a file) are taken into the matrix the first time
the folder is opened by this version, then removed; a damaged one is removed with one warning. In a
folder that cannot be written they are read into memory instead.

`VectorBuilder` encodes the papers that have no vector in a background thread, with progress in the
log; search never waits for it: a paper without a vector is ranked by BM25 alone
(retrieval/semantic/stage.py `fuse`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import weakref
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from retrieval.semantic.encoder import DIM, Encoder, document_text

if TYPE_CHECKING:
    from retrieval.lexical.index import SearchIndex

log = logging.getLogger(__name__)

VECTORS_DIR = "vectors"
SEGMENT_GLOB = "seg-*.npz"  # the layout of earlier versions, taken into the matrix on first open
STATE = "state.json"
FORMAT = 1
ROW_BYTES = DIM * 2  # float16
EXTRA = 1 << 40  # rows held in memory only (segments of a folder that cannot be written) are numbered from here
COMPACT_FRACTION = 0.5  # superseded rows, as a share of all rows, above which `add` compacts
COMPACT_MIN = 1_000  # ... and at least this many
UNIT = (0.9, 1.1)  # norms outside this (or not finite) mark a damaged row: the model's vectors are unit vectors
SCAN_BLOCK = 65_536  # rows read at a time when every row is checked
MAP_AFTER = 16  # queries against one index before its rows are mapped to vector rows (`rows_for`)
LOG_LIMIT = 200_000  # rows read since the maps were brought up to date, beyond which a map is made again


def content_hash(title: str, abstract: str) -> str:
    """What identifies the text a vector was made from (16 hex digits of SHA-256)."""
    return hashlib.sha256(document_text(title, abstract).encode()).hexdigest()[:16]


class State(NamedTuple):
    generation: int
    rows: int
    keys_bytes: int

    def vectors(self, folder: Path) -> Path:
        return folder / f"vectors-{self.generation}.f16"

    def keys(self, folder: Path) -> Path:
        return folder / f"keys-{self.generation}.tsv"


class Damaged(Exception):
    """The folder's files disagree with state.json, or cannot be read; the message says how."""


def read_state(folder: Path) -> State | None:
    """state.json as written, or None when there is none; Damaged when it cannot be read or does not fit its files."""
    path = folder / STATE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if any(folder.glob("vectors-*.f16")) or any(folder.glob("keys-*.tsv")):
            raise Damaged("state.json is missing") from None
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise Damaged(f"state.json cannot be read ({type(exc).__name__})") from None
    try:
        if raw["format"] != FORMAT:
            raise Damaged(f"state.json: format {raw['format']!r}, this paperbot reads {FORMAT}")
        state = State(int(raw["generation"]), int(raw["rows"]), int(raw["keys_bytes"]))
    except (KeyError, TypeError, ValueError):
        raise Damaged("state.json does not hold a generation, rows and keys_bytes") from None
    if state.rows < 0 or state.keys_bytes < 0 or state.generation < 0:
        raise Damaged("state.json holds negative numbers")
    try:
        vector_bytes = state.vectors(folder).stat().st_size
        key_bytes = state.keys(folder).stat().st_size
    except FileNotFoundError as exc:
        raise Damaged(f"{Path(exc.filename).name} is missing") from None
    if vector_bytes < state.rows * ROW_BYTES:
        raise Damaged(f"{state.rows} vectors recorded, {vector_bytes // ROW_BYTES} in the file")
    if key_bytes < state.keys_bytes:
        raise Damaged(f"the keys file holds {key_bytes} bytes, {state.keys_bytes} recorded")
    return state


def parse_keys(data: bytes) -> list[tuple[str, str] | None]:
    """The (paper id, content hash) of each line of a keys file; None for a line that cannot be read."""
    out: list[tuple[str, str] | None] = []
    for line in data.split(b"\n")[:-1] if data else []:
        paper_id, tab, digest = line.partition(b"\t")
        try:
            key = (paper_id.decode("utf-8"), digest.decode("ascii"))
        except UnicodeDecodeError:
            key = None
        if key is None or not tab or not paper_id or not digest or b"\t" in digest:
            out.append(None)
        else:
            out.append(key)
    return out


def key_lines(paper_ids: list[str], hashes: list[str]) -> bytes:
    for paper_id, digest in zip(paper_ids, hashes, strict=True):
        if "\t" in paper_id or "\n" in paper_id or not paper_id:
            raise ValueError(f"paper id {paper_id!r} cannot be kept in a keys file")
        if not digest or not digest.isascii() or "\t" in digest or "\n" in digest:
            raise ValueError(f"content hash {digest!r} cannot be kept in a keys file")
    return "".join(f"{p}\t{h}\n" for p, h in zip(paper_ids, hashes, strict=True)).encode("utf-8")


def _fsync_write(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    with part.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    part.replace(path)


def _write_state(folder: Path, state: State) -> None:
    payload = {"format": FORMAT, "generation": state.generation, "rows": state.rows, "keys_bytes": state.keys_bytes}
    _fsync_write(folder / STATE, json.dumps(payload).encode())


class VectorStore:
    """The vectors of one model in one folder: the matrix mapped, the keys in memory, refreshed from disk on demand."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.lock = threading.RLock()
        self.row_of: dict[str, int] = {}  # paper id -> its newest row (a file row, or EXTRA + an in-memory row)
        self.hashes = np.zeros(0, "S16")  # content hash of each file row
        self.generation: int | None = None
        self.rows = 0  # file rows read
        self.keys_bytes = 0  # bytes of the keys file read
        self.mapped = np.zeros((0, DIM), np.float16)  # the file's rows, memory-mapped
        self.extra = np.zeros((0, DIM), np.float16)  # rows of segments that could not be taken into the file
        self.extra_hashes: list[str] = []
        self.seen: set[str] = set()  # segments read into `extra`
        self.warned: set[str] = set()
        self.superseded = 0  # file rows whose paper has a newer row
        self.scanned = 0  # file rows checked to be unit vectors (`drop_damaged`)
        self._held = 0  # how deep this object holds the folder's lock (fcntl locks are not re-entrant)
        self.epoch = 0  # moves on whenever rows are renumbered (a new generation, rows held in memory)
        self.log: list[tuple[str, int]] = []  # (paper id, row) of the rows read, for the maps to catch up
        self.logged = 0  # rows read before the first entry of `log`
        self._maps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # index -> _RowMap

    @classmethod
    def for_model(cls, home: Path, model_id: str) -> VectorStore:
        return cls(home / VECTORS_DIR / model_id).refresh()

    def __len__(self) -> int:
        return len(self.row_of)

    @property
    def where(self) -> dict[str, tuple[str, int]]:
        """Paper id -> (content hash, row) of every paper with a vector (built on demand: for tests and tools)."""
        return {paper_id: (self._hash_of(row), row) for paper_id, row in self.row_of.items()}

    def _hash_of(self, row: int) -> str:
        return self.extra_hashes[row - EXTRA] if row >= EXTRA else self.hashes[row].decode("ascii")

    # ------------------------------------------------------------------ reading

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The folder's lock, across processes; re-entrant within this object (its callers hold `self.lock`)."""
        with self.lock:
            if self._held:
                self._held += 1
                try:
                    yield
                finally:
                    self._held -= 1
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / ".lock", "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._held = 1
                try:
                    yield
                finally:
                    self._held = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def refresh(self) -> VectorStore:
        """Read what was added since (other processes' rows included); take in segments of earlier versions."""
        if not self.folder.is_dir():
            return self
        with self.lock:
            if any(self.folder.glob(SEGMENT_GLOB)):
                self._take_in_segments()
            for _ in range(5):
                try:
                    state = read_state(self.folder)
                except Damaged as exc:
                    if self.generation == -1:
                        return self  # damaged and read-only: what could be used is in memory already
                    state = self._repair(str(exc))
                if state is None:
                    return self
                try:
                    if state.generation != self.generation:
                        self._forget_file()
                        self.generation = state.generation
                    if state.rows > self.rows:
                        self._read_rows(state)
                    return self
                except FileNotFoundError:
                    continue  # compacted by another process since state.json was read: read it again
        return self

    def _forget_file(self) -> None:
        self.epoch += 1
        self.row_of = {p: r for p, r in self.row_of.items() if r >= EXTRA}
        self.hashes = np.zeros(0, "S16")
        self.rows = self.keys_bytes = self.superseded = self.scanned = 0
        self.mapped = np.zeros((0, DIM), np.float16)

    def _read_rows(self, state: State) -> None:
        """Take in the rows [self.rows, state.rows): their keys read, the longer file mapped."""
        with state.keys(self.folder).open("rb") as handle:
            handle.seek(self.keys_bytes)
            data = handle.read(state.keys_bytes - self.keys_bytes)
        keys = parse_keys(data)
        if len(keys) != state.rows - self.rows or not data.endswith(b"\n") or None in keys:
            self._repair("key lines that cannot be read")
            return
        # a plain view of the mapping: indexing a np.memmap costs twice as much
        self.mapped = np.asarray(np.memmap(state.vectors(self.folder), np.float16, "r", shape=(state.rows, DIM)))
        self.hashes = np.concatenate([self.hashes, np.array([h for _, h in keys], "S")])
        row_of = self.row_of
        superseded = 0
        for row, (paper_id, _) in enumerate(keys, self.rows):
            superseded += row_of.get(paper_id, EXTRA) < EXTRA
            row_of[paper_id] = row
        self.superseded += superseded
        self.log.extend((paper_id, row) for row, (paper_id, _) in enumerate(keys, self.rows))
        if len(self.log) > LOG_LIMIT:
            self.logged += len(self.log)
            self.log = []
        self.rows, self.keys_bytes = state.rows, state.keys_bytes

    def _repair(self, reason: str) -> State | None:
        """Keep the whole rows of a damaged folder and drop the rest, on disk if it can be written; warn once."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._locked())
                writable = True
            except OSError:
                writable = False
            try:
                state = read_state(self.folder)  # another process may have repaired it meanwhile
                if self._readable(state):
                    self._forget_file()
                    self.generation = state.generation if state is not None else None
                    if state is not None and state.rows:
                        self._read_rows(state)
                    return state
            except (Damaged, OSError):
                pass
            rows, keys = self._salvage()
            kept = [i for i, key in enumerate(keys) if key is not None]
            dropped = len(keys) - len(kept)
            state = None
            if writable:
                with contextlib.suppress(OSError):
                    state = self._rewrite(rows, keys, kept)
            if str(self.folder) not in self.warned:
                self.warned.add(str(self.folder))
                how = "repaired" if state is not None else "cannot be repaired here (read-only), used as far as whole"
                log.warning(
                    "%s: damaged vectors (%s): %s; %d vectors kept (%d unreadable dropped), papers without one"
                    " are encoded again",
                    self.folder,
                    reason,
                    how,
                    len(kept),
                    dropped,
                )
            if state is None:
                self._use_in_memory(rows, keys, kept)
            else:
                self._forget_file()
                self.generation = state.generation
                if state.rows:
                    self._read_rows(state)
            return None if state is None or state.rows == 0 else state

    def _readable(self, state: State | None) -> bool:
        if state is None:
            return True
        with state.keys(self.folder).open("rb") as handle:
            data = handle.read(state.keys_bytes)
        keys = parse_keys(data)
        return len(keys) == state.rows and (not data or data.endswith(b"\n")) and None not in keys

    def _salvage(self) -> tuple[np.ndarray, list[tuple[str, str] | None]]:
        """The rows of the newest generation's files that are whole (a vector and a key line each)."""
        generations = sorted(
            (int(p.stem.split("-")[1]) for p in self.folder.glob("vectors-*.f16") if p.stem.split("-")[1].isdigit()),
            reverse=True,
        )
        for generation in generations:
            state = State(generation, 0, 0)
            try:
                data = state.keys(self.folder).read_bytes()
                size = state.vectors(self.folder).stat().st_size
            except OSError:
                continue
            keys = parse_keys(data)[: size // ROW_BYTES]
            if not keys:
                return np.zeros((0, DIM), np.float16), []
            return np.memmap(state.vectors(self.folder), np.float16, "r", shape=(len(keys), DIM)), keys
        return np.zeros((0, DIM), np.float16), []

    def _rewrite(self, vectors: np.ndarray, keys: list[tuple[str, str] | None], kept: list[int]) -> State:
        """Write the kept rows as a new generation and make it current (lock held); the old files go."""
        old = [*self.folder.glob("vectors-*.f16"), *self.folder.glob("keys-*.tsv")]
        numbers = [int(p.stem.split("-")[1]) for p in old if p.stem.split("-")[1].isdigit()]
        state = State(max(numbers, default=-1) + 1, 0, 0)
        lines = key_lines([keys[i][0] for i in kept], [keys[i][1] for i in kept])  # type: ignore[index]
        with state.vectors(self.folder).open("wb") as handle:
            for start in range(0, len(kept), SCAN_BLOCK):  # a block at a time: a million rows are 768 MB
                np.ascontiguousarray(vectors[kept[start : start + SCAN_BLOCK]], np.float16).tofile(handle)
            handle.flush()
            os.fsync(handle.fileno())
        with state.keys(self.folder).open("wb") as handle:
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
        state = State(state.generation, len(kept), len(lines))
        _write_state(self.folder, state)
        for path in old:
            if path.name not in (state.vectors(self.folder).name, state.keys(self.folder).name):
                path.unlink(missing_ok=True)
        return state

    def _use_in_memory(self, vectors: np.ndarray, keys: list[tuple[str, str] | None], kept: list[int]) -> None:
        """A damaged folder that cannot be written: its whole rows, held in memory."""
        self._forget_file()
        self.generation = -1
        self.epoch += 1
        base = len(self.extra)
        self.extra = np.concatenate([self.extra, vectors]) if base else vectors  # (mapped, when alone)
        self.extra_hashes.extend(key[1] if key is not None else "" for key in keys)
        for i in kept:
            self.row_of[keys[i][0]] = EXTRA + base + i  # type: ignore[index]

    def _take_in_segments(self) -> None:
        """Segments of earlier versions: appended to the matrix and removed (a damaged one removed with a warning).

        In a folder that cannot be written they are read into memory instead, once per process.
        """
        try:
            with self._locked():
                for path in sorted(self.folder.glob(SEGMENT_GLOB)):
                    segment = self._read_segment(path)
                    if segment is not None:
                        self._append(*segment)
                    path.unlink(missing_ok=True)
                return
        except OSError:
            pass
        for path in sorted(self.folder.glob(SEGMENT_GLOB)):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            segment = self._read_segment(path)
            if segment is None:
                continue
            ids, hashes, vectors = segment
            self.epoch += 1
            base = len(self.extra)
            self.extra = np.concatenate([self.extra, vectors])
            self.extra_hashes.extend(hashes)
            for n, paper_id in enumerate(ids):
                self.row_of[paper_id] = EXTRA + base + n

    def _read_segment(self, path: Path) -> tuple[list[str], list[str], np.ndarray] | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                ids, hashes, vectors = data["ids"], data["hashes"], data["vectors"]
            if vectors.shape != (len(ids), DIM) or len(hashes) != len(ids):
                raise ValueError(f"shapes {vectors.shape}, {len(ids)} ids, {len(hashes)} hashes")
            return ids.tolist(), hashes.tolist(), vectors.astype(np.float16, copy=False)
        except FileNotFoundError:
            return None  # taken in by another process meanwhile
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            if path.name not in self.warned:
                self.warned.add(path.name)
                log.warning("%s: damaged vector file removed (%s); its papers will be encoded again", path, exc)
            return None

    @staticmethod
    def keys(folder: Path) -> dict[str, str]:
        """Paper id -> content hash of every vector kept in `folder`, without reading the vectors themselves.

        What `paperbot vectors status` and `paperbot corpus` count with: a home of millions of papers holds
        gigabytes of vectors, and only their ids and hashes are needed to say which papers have one.
        """
        found: dict[str, str] = {}
        if not folder.is_dir():
            return found
        try:
            state = read_state(folder)
            if state is not None:
                with state.keys(folder).open("rb") as handle:
                    data = handle.read(state.keys_bytes)
                found.update(key for key in parse_keys(data)[: state.rows] if key is not None)
        except (Damaged, OSError):
            pass  # counted as missing; the next command that opens the vectors repairs them
        for path in sorted(folder.glob(SEGMENT_GLOB)):
            try:
                with np.load(path, allow_pickle=False) as data:
                    ids, hashes = data["ids"].tolist(), data["hashes"].tolist()
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
                continue  # damaged (removed when opened) or taken in: its papers count as missing
            if len(ids) == len(hashes):
                found.update(zip(ids, hashes, strict=True))
        return found

    # ------------------------------------------------------------------ writing

    def missing(self, papers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Of (paper id, content hash) pairs, those without a vector for that text."""
        row_of, hashes, extra = self.row_of, self.hashes, self.extra_hashes
        out = []
        for p, h in papers:
            r = row_of.get(p)
            if r is None or (hashes[r] != h.encode("ascii") if r < EXTRA else extra[r - EXTRA] != h):
                out.append((p, h))
        return out

    def add(self, paper_ids: list[str], hashes: list[str], vectors: np.ndarray) -> Path | None:
        """Append rows (under the folder's lock, then state.json replaced atomically) and make them visible here."""
        if not paper_ids:
            return None
        with self._locked():
            path = self._append(paper_ids, hashes, np.asarray(vectors))
            self.refresh()
        if self.superseded >= max(COMPACT_MIN, COMPACT_FRACTION * self.rows):
            self.compact()
        return path

    def _append(self, paper_ids: list[str], hashes: list[str], vectors: np.ndarray) -> Path:
        """Append rows to the current generation (lock held): both files cut back to state.json first."""
        if vectors.shape != (len(paper_ids), DIM):
            raise ValueError(f"{len(paper_ids)} papers but vectors of shape {vectors.shape}")
        lines = key_lines(paper_ids, hashes)
        try:
            state = read_state(self.folder)
        except Damaged as exc:
            self._repair(str(exc))
            state = read_state(self.folder)
        if state is None:
            state = State(0, 0, 0)
            for path in (state.vectors(self.folder), state.keys(self.folder)):
                path.touch()
        target = state.vectors(self.folder)
        with target.open("r+b") as handle:
            handle.truncate(state.rows * ROW_BYTES)
            handle.seek(state.rows * ROW_BYTES)
            np.ascontiguousarray(vectors, np.float16).tofile(handle)
            handle.flush()
            os.fsync(handle.fileno())
        with state.keys(self.folder).open("r+b") as handle:
            handle.truncate(state.keys_bytes)
            handle.seek(state.keys_bytes)
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
        _write_state(self.folder, State(state.generation, state.rows + len(paper_ids), state.keys_bytes + len(lines)))
        return target

    def compact(self) -> None:
        """Rewrite the folder with only each paper's newest row (a new generation); the superseded rows go."""
        with self.lock:
            with self._locked():
                self.refresh()
                try:
                    state = read_state(self.folder)
                except Damaged:
                    return  # refresh repaired what it could; nothing more to do here
                if state is None:
                    return
                live = sorted(r for r in self.row_of.values() if r < EXTRA)
                if len(live) == state.rows and state.generation == self.generation:
                    return
                keys: list[tuple[str, str] | None] = [None] * state.rows
                for paper_id, row in self.row_of.items():
                    if row < EXTRA:
                        keys[row] = (paper_id, self._hash_of(row))
                self._rewrite(self.mapped, keys, live)
            self.refresh()

    def drop_damaged(self) -> int:
        """Check the rows not checked yet are unit vectors; rewrite the folder without those that are not.

        Their papers then count as missing, so the builder encodes them again (`build_once` calls this first:
        the first pass reads the whole matrix, later ones only the rows added since). Returns how many were dropped.
        """
        with self.lock:
            self.refresh()
            bad = _odd_rows(self.mapped, self.scanned)
            self.scanned = self.rows
            if not bad:
                return 0
            log.warning(
                "%s: %d damaged vectors (not unit vectors) dropped; encoding their papers again", self.folder, len(bad)
            )
            with self._locked():
                state = read_state(self.folder)
                if state is None or state.generation != self.generation:
                    return 0  # changed meanwhile: the next pass checks it again
                drop = set(bad)
                keys: list[tuple[str, str] | None] = [None] * state.rows
                for paper_id, row in self.row_of.items():
                    if row < EXTRA and row not in drop:
                        keys[row] = (paper_id, self._hash_of(row))
                self._rewrite(self.mapped, keys, [i for i, key in enumerate(keys) if key is not None])
            self.refresh()
            return len(bad)

    # ------------------------------------------------------------------ looking up

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        """float16 vectors of rows (file rows and in-memory rows alike), in the order given."""
        if not len(self.extra):
            return np.take(self.mapped, rows, axis=0)
        out = np.empty((len(rows), DIM), np.float16)
        in_file = rows < EXTRA
        out[in_file] = self.mapped[rows[in_file]]
        out[~in_file] = self.extra[rows[~in_file] - EXTRA]
        return out

    def get(self, paper_ids: list[str]) -> tuple[np.ndarray, list[str]]:
        """Vectors (float16) and content hashes of papers that have one (caller checks with `lookup` otherwise)."""
        with self.lock:
            rows = np.array([self.row_of[p] for p in paper_ids], np.int64)
            found = self._gather(rows) if len(rows) else np.zeros((0, DIM), np.float16)
            return found, [self._hash_of(int(r)) for r in rows]

    def rows_for(self, index: SearchIndex) -> np.ndarray | None:
        """Each row of `index` -> the row of its paper's vector (-1: none yet), kept up to date as both grow.

        None for the first MAP_AFTER queries against an index: a command that asks once does not pay for
        mapping a million rows (`lookup` by paper id serves it); a bot or a batch then reads its candidates'
        vectors with one gather instead of a thousand dictionary lookups.
        """
        with self.lock:
            found = self._maps.get(index)
            if found is None:
                found = self._maps[index] = _RowMap()
            found.uses += 1
            if found.uses <= MAP_AFTER:
                return None
            paper_ids, row_of = index.paper_ids, self.row_of
            if found.rows is None or found.epoch != self.epoch or found.seen < self.logged:
                found.rows = np.fromiter(map(row_of.get, paper_ids, _minus_ones(len(paper_ids))), np.int64)
                found.epoch, found.seen, found.indexed = self.epoch, self.logged + len(self.log), len(paper_ids)
                return found.rows
            if len(paper_ids) > found.indexed:  # papers indexed since: their vectors, if any
                new = paper_ids[found.indexed :]
                found.rows = np.concatenate(
                    [found.rows, np.fromiter(map(row_of.get, new, _minus_ones(len(new))), np.int64)]
                )
                found.indexed = len(paper_ids)
            if found.seen < self.logged + len(self.log):  # vectors read since: the rows of their papers
                index_rows = index.rows
                for paper_id, row in self.log[found.seen - self.logged :]:
                    at = index_rows.get(paper_id)
                    if at is not None and at < found.indexed:
                        found.rows[at] = row
                found.seen = self.logged + len(self.log)
            return found.rows

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 vectors, has-vector mask) for vector rows as `rows_for` gives them (-1: none)."""
        with self.lock:
            have = rows >= 0
            if have.all():  # the usual case: no zero rows to fill in
                return as_float32(self._gather(rows)), have
            out = np.zeros((len(rows), DIM), np.float32)
            if have.any():
                out[have] = as_float32(self._gather(rows[have]))
        return out, have

    def lookup(self, paper_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(float32 vectors, has-vector mask) for the papers; a paper without one gets zeros."""
        with self.lock:
            rows = np.fromiter(map(self.row_of.get, paper_ids, _minus_ones(len(paper_ids))), np.int64, len(paper_ids))
            have = rows >= 0
            out = np.zeros((len(paper_ids), DIM), np.float32)
            if have.any():
                out[have] = as_float32(self._gather(rows[have]))
        return out, have


@functools.cache
def _float32_of_float16() -> np.ndarray:
    """The float32 value of each of the 65,536 float16 bit patterns (256 kB)."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def as_float32(vectors: np.ndarray) -> np.ndarray:
    """float16 vectors as float32, looked up by bit pattern: the same values as `astype(np.float32)` (every
    float16 is exact in float32), about twice as fast as numpy's own conversion, most of a query's gather.
    """
    return np.take(_float32_of_float16(), vectors.view(np.uint16))


class _RowMap:
    """`VectorStore.rows_for`'s state for one index."""

    def __init__(self) -> None:
        self.uses = 0
        self.rows: np.ndarray | None = None
        self.epoch = -1
        self.seen = 0  # rows of the store's log applied
        self.indexed = 0  # index rows mapped


def _minus_ones(n: int) -> Iterator[int]:
    return itertools.repeat(-1, n)


def vectors_problem(home: Path, model_id: str | None = None) -> str | None:
    """What is wrong with the home's vectors, in one line, or None (for `paperbot check`); nothing is changed.

    Every model's folder under HOME/vectors (or only `model_id`'s): state.json and the files it covers,
    the key lines, every row a unit vector (the whole matrix is read, a block at a time), and segments of
    earlier versions that cannot be read. The next command that opens the vectors repairs what is found
    (`VectorStore.refresh`), and the papers dropped are encoded again.
    """
    root = Path(home) / VECTORS_DIR
    folders = (
        [root / model_id] if model_id else sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    )
    for folder in folders:
        if not folder.is_dir():
            continue
        problem = _folder_problem(folder)
        if problem:
            return f"vectors {folder}: {problem}"
    return None


def _odd_rows(matrix: np.ndarray, start: int = 0) -> list[int]:
    """Rows from `start` on that are not unit vectors (non-finite, or a norm outside UNIT), read a block at a time."""
    odd: list[int] = []
    for first in range(start, len(matrix), SCAN_BLOCK):
        block = np.asarray(matrix[first : first + SCAN_BLOCK], np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        odd += (np.flatnonzero(~((norms >= UNIT[0]) & (norms <= UNIT[1]))) + first).tolist()
    return odd


def _folder_problem(folder: Path) -> str | None:
    for path in sorted(folder.glob(SEGMENT_GLOB)):
        try:
            with np.load(path, allow_pickle=False) as data:
                if data["vectors"].shape != (len(data["ids"]), DIM) or len(data["hashes"]) != len(data["ids"]):
                    raise ValueError("shapes disagree")
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            return f"{path.name} cannot be read ({type(exc).__name__}); it is removed and its papers encoded again"
    try:
        state = read_state(folder)
    except Damaged as exc:
        return f"damaged ({exc}); the next command keeps the whole rows and the rest are encoded again"
    if state is None:
        return None
    try:
        with state.keys(folder).open("rb") as handle:
            data = handle.read(state.keys_bytes)
    except OSError as exc:
        return f"the keys file cannot be read ({exc.strerror or exc})"
    keys = parse_keys(data)
    bad = sum(key is None for key in keys) + abs(len(keys) - state.rows)
    if bad or (data and not data.endswith(b"\n")):
        return f"{bad} key lines cannot be read; the next command drops them and their papers are encoded again"
    if state.rows:
        odd = _odd_rows(np.memmap(state.vectors(folder), np.float16, "r", shape=(state.rows, DIM)))
        if odd:
            return (
                f"{len(odd)} of {state.rows} vectors are not unit vectors (a damaged file); the next"
                " `paperbot vectors build` (or the bot's builder) drops them and encodes their papers again"
            )
    return None


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
        self.vectors.drop_damaged()
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
        return done
