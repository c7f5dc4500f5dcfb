"""The index on disk: versions under one folder, the `CURRENT` pointer, the lock, and reading a version back.

A writer publishes a complete version folder and then moves the pointer, under the lock;
readers resolve `CURRENT` and read that version without any lock, so a reader never sees
half a save and never waits for one. Only catching up and saving take the lock
(`index_lock`), and a reader may try it without waiting (retrieval/lexical/sync.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from retrieval.lexical.bm25 import Postings


class IndexUnusable(Exception):
    """The saved index is damaged or from another format: rebuilt from the store (the message says why)."""


POINTER = "CURRENT"
ARRAY_TYPES = {
    "indptr": np.int64,
    "docs": np.int32,
    "tfs": np.uint16,
    "doc_len": np.int32,
    "alive": np.bool_,
    "df": np.int64,
    "years": np.int16,
    "impacts": np.float32,
}


def publish(folder: Path, seq: int, content: Callable[[Path], None] | Path, replace: bool = False) -> bool:
    """Make a version as the folder's current one (`SearchIndex.save`); False when the saved one is already as new.

    `content` writes the version's files into the folder it is given, under the lock; or it is a
    complete version folder written beforehand without the lock (the on-disk build, which takes
    minutes: savers must not wait that long), on the same file system, moved in here or removed.
    """
    folder = Path(folder)
    prepared = content if isinstance(content, Path) else None
    try:
        with index_lock(folder):  # at once when this thread holds it already (sync.py catching up under it)
            folder.mkdir(parents=True, exist_ok=True)
            current = current_version(folder)
            on_disk = _saved_seq(current) if current else None
            if not replace and on_disk is not None and on_disk >= seq and current is not None:
                _tidy(folder, keep={current.name})
                return False
            final = folder / f"v{seq}-{os.getpid()}-{time.time_ns()}"
            if prepared is not None:
                os.rename(prepared, final)
                prepared = None
            else:
                temp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
                try:
                    temp.chmod(0o755)  # mkdtemp makes it private to this user; the bot may run as another
                    content(temp)
                    os.rename(temp, final)
                except BaseException:
                    shutil.rmtree(temp, ignore_errors=True)
                    raise
            pointer = folder / f".{POINTER}.{os.getpid()}.tmp"
            try:
                pointer.write_text(final.name)
                os.replace(pointer, folder / POINTER)
            except BaseException:
                pointer.unlink(missing_ok=True)
                shutil.rmtree(final, ignore_errors=True)
                raise
            # keep the previous version: a reader that resolved CURRENT a moment ago may still be reading it
            _tidy(folder, keep={final.name, *([current.name] if current else [])})
            return True
    finally:
        if prepared is not None:
            shutil.rmtree(prepared, ignore_errors=True)


def lock_path(folder: Path) -> Path:
    """The lock file beside the index folder (outside it, so deleting the folder to re-index keeps it)."""
    return folder.parent / f".{folder.name}.lock"


_held = threading.local()  # .paths: the lock files this thread holds (flock would deadlock on a second open)


@contextlib.contextmanager
def index_lock(folder: Path, wait: bool = True) -> Iterator[bool]:
    """Hold the index folder's inter-process lock (flock) for the block: True once held.

    With `wait` False, yields False at once when another process holds it (the caller goes on
    without it). Held already by this thread: True at once. flock locks die with their process,
    so a kill -9 never leaves one behind. Raises OSError when the lock file cannot be opened.
    """
    path = os.path.abspath(lock_path(Path(folder)))
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if path in held:
        yield True
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)  # flock needs no write access to an existing file
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        held.add(path)
        try:
            yield True
        finally:
            held.discard(path)
    finally:
        os.close(fd)  # closing releases the lock


def current_version(folder: Path) -> Path | None:
    """The version folder `CURRENT` names, or None when there is no pointer."""
    try:
        name = (Path(folder) / POINTER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not name or "/" in name or name.startswith("."):
        return Path(folder) / ".invalid-pointer"
    return Path(folder) / name


def _saved_seq(version: Path) -> int | None:
    meta = _saved_meta(version)
    seq = meta.get("seq") if meta else None
    return seq if isinstance(seq, int) else None


def _saved_meta(version: Path) -> dict | None:
    """A version's meta.json, or None when it cannot be read as an object."""
    try:
        meta = json.loads((version / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _tidy(folder: Path, keep: set[str]) -> None:
    """Remove what no reader needs (older versions, temporary folders of killed writers, the old layout's files).

    Called with the lock held, so no temporary folder belongs to a live writer.
    """
    for entry in folder.iterdir():
        if entry.name == POINTER or entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    for leftover in (".new", ".old"):  # the fixed folders earlier versions swapped through
        shutil.rmtree(folder.with_name(folder.name + leftover), ignore_errors=True)


def _load_array(version: Path, name: str, mmap: bool = False) -> np.ndarray:
    array = np.load(version / f"{name}.npy", allow_pickle=False, mmap_mode="r" if mmap else None)
    if array.dtype != ARRAY_TYPES[name] or array.ndim != 1:
        raise ValueError(
            f"{name}.npy holds {array.dtype} with {array.ndim} dimensions, expected 1-D {np.dtype(ARRAY_TYPES[name])}"
        )
    return array


def _inconsistency(
    postings: Postings, years: np.ndarray, impacts: np.ndarray, terms: list[str], paper_ids: list[str], papers: int
) -> str | None:
    """Why these arrays cannot be one index (sizes that disagree, rows out of range), or None."""
    p = postings
    n_docs = len(p.doc_len)
    if len(p.indptr) != len(terms) + 1 or len(p.df) != len(terms):
        return f"{len(terms)} terms but {len(p.indptr) - 1} postings lists"
    if not (len(p.alive) == len(years) == len(paper_ids) == n_docs):
        return f"{len(paper_ids)} paper ids but {n_docs} document lengths"
    if p.indptr[0] != 0 or p.indptr[-1] != len(p.docs) or len(p.tfs) != len(p.docs) or len(impacts) != len(p.docs):
        return "postings arrays of different lengths"
    if len(p.indptr) > 1 and np.any(np.diff(p.indptr) < 0):
        return "postings offsets go backwards"
    if len(p.docs) and (int(p.docs.min()) < 0 or int(p.docs.max()) >= n_docs):
        return "postings name documents that do not exist"
    if int(p.alive.sum()) != papers:
        return f"meta.json says {papers} papers, the arrays hold {int(p.alive.sum())}"
    return None


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.split("\n") if text else []
