"""Building the saved index straight to disk in bounded memory: a first ingest of a million papers.

`SearchIndex.build` keeps every chunk's postings, then their concatenation, then the impacts,
all in memory: about twice the final index at once (2.0 GB peak for a million abstracts, whose
index is 1.2 GB). A command that only has to leave a fresh index on disk (`paperbot ingest`,
a first start) does not need it in memory at all. Here:

1. each chunk of documents is analyzed (in worker processes) and turned into its postings,
   which are appended to two scratch files; what stays in memory is the vocabulary, a few
   bytes per document (length, year) and, per chunk, the terms it holds and how often;
2. the chunks are then merged term block by term block (a counting merge: every posting's
   final place is known from the per-chunk counts), and each block's documents, term
   frequencies and impacts are appended to the final `.npy` files.

Peak memory is the vocabulary plus one chunk plus one block, whatever the corpus size. The
folder written is the same, byte for byte, as `SearchIndex.save` writes for the same documents
(tests/retrieval/test_index_build.py), and it is published the same way (`publish`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy

from retrieval.lexical.analyzer import Analyzer
from retrieval.lexical.bm25 import BM25Params, Postings, impacts_of, length_norm
from retrieval.lexical.index import TOKENS, IndexDoc, analyzed_chunks, index_config
from retrieval.lexical.saved import ARRAY_TYPES, publish

BLOCK = 2_000_000  # postings merged at a time: ~40 MB of buffers
SCRATCH_PREFIX = "build-"


def build_saved(
    docs: Iterable[IndexDoc],
    folder: Path,
    seq: Callable[[], int],
    analyzer: Analyzer | None = None,
    params: BM25Params | None = None,
    workers: int = 1,
    replace: bool = True,
) -> bool:
    """Write the index of `docs` as a new version of `folder` without holding it in memory; True if published.

    `docs` must name each paper once (the store's rows do). `seq()` is read after the last
    document: the change number the index is at (the store stream notes it as it goes).
    The files are written to a scratch folder beside `folder` without the index lock (this takes
    minutes for a big corpus, and the bot must still be able to save meanwhile), then moved in
    under the lock. Raises OSError (read-only home, full disk); the scratch folder is removed.
    """
    folder = Path(folder)
    analyzer, params = analyzer or Analyzer(), params or BM25Params()
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_scratch(folder)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-{SCRATCH_PREFIX}{os.getpid()}-", dir=folder.parent))
    try:
        scratch.chmod(0o755)  # mkdtemp makes it private to this user; the bot may run as another
        _write_version(docs, scratch, seq, analyzer, params, workers)
        return publish(folder, _meta_seq(scratch), scratch, replace)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when published


def remove_stale_scratch(folder: Path) -> None:
    """Remove scratch folders of builds whose process is gone (killed mid-build); a live build's stays."""
    for entry in Path(folder).parent.glob(f".{Path(folder).name}-{SCRATCH_PREFIX}*"):
        pid = entry.name.removeprefix(f".{Path(folder).name}-{SCRATCH_PREFIX}").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _meta_seq(version: Path) -> int:
    return json.loads((version / "meta.json").read_text(encoding="utf-8"))["seq"]


class _Chunks:
    """The chunks' postings as written to the scratch files, and where each chunk's terms are."""

    def __init__(self) -> None:
        self.terms: list[np.ndarray] = []  # per chunk: the term ids it holds, increasing
        self.offsets: list[np.ndarray] = []  # per chunk: where each such term's postings start (+ the end)
        self.starts: list[int] = []  # per chunk: its first posting in the scratch files
        self.total = 0

    def add(self, part: Postings) -> None:
        held = np.flatnonzero(part.df)  # a fresh chunk's df is its postings per term
        counts = part.df[held]
        self.terms.append(held.astype(np.int64))
        self.offsets.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
        self.starts.append(self.total)
        self.total += len(part.docs)

    def df(self, n_terms: int) -> np.ndarray:
        df = np.zeros(n_terms, np.int64)
        for terms, offsets in zip(self.terms, self.offsets, strict=True):
            df[terms] += np.diff(offsets)
        return df


def _write_version(
    docs: Iterable[IndexDoc], target: Path, seq: Callable[[], int], analyzer: Analyzer, params: BM25Params, workers: int
) -> int:
    """Write every file of one index version into `target` (meta.json last); returns how many papers."""
    vocab: dict[str, int] = {}
    terms: list[str] = []
    chunks = _Chunks()
    lengths: list[np.ndarray] = []
    years: list[np.ndarray] = []
    n_docs = 0
    n_tokens = 0
    with (
        (target / "chunk-docs.bin").open("wb") as chunk_docs,
        (target / "chunk-tfs.bin").open("wb") as chunk_tfs,
        (target / "paper_ids.txt").open("w", encoding="utf-8") as ids,
        (target / TOKENS).open("wb") as tokens,
    ):
        _tokens_header(tokens, 1 << 62)  # the real length once known: the header's size does not depend on it
        for batch, (local_terms, local_ids, doc_lengths) in analyzed_chunks(docs, analyzer, workers):
            known = len(terms)
            remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in local_terms), np.int64, len(local_terms))
            terms.extend(t for t, g in zip(local_terms, remap, strict=False) if g >= known)
            flat = remap[local_ids]
            flat.astype(np.uint32).tofile(tokens)  # each paper's terms in order, for the word-pair order
            n_tokens += len(flat)
            part = Postings.from_flat(flat, doc_lengths, len(vocab), n_docs)
            part.docs.tofile(chunk_docs)
            part.tfs.tofile(chunk_tfs)
            chunks.add(part)
            lengths.append(part.doc_len)
            years.append(np.fromiter((doc.year for doc in batch), np.int16, len(batch)))
            ids.write(("\n" if n_docs else "") + "\n".join(doc.paper_id for doc in batch))
            n_docs += len(batch)
        tokens.seek(0)
        _tokens_header(tokens, n_tokens)
    del vocab
    df = chunks.df(len(terms))
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    doc_len = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    alive = np.ones(n_docs, bool)
    _, _, norm = length_norm(doc_len, alive, params)
    _merge(chunks, indptr, norm, params.k1, target)
    (target / "chunk-docs.bin").unlink()
    (target / "chunk-tfs.bin").unlink()
    for name, array in {
        "indptr": indptr,
        "doc_len": doc_len,
        "alive": alive,
        "df": df,
        "years": np.concatenate(years) if years else np.zeros(0, np.int16),
    }.items():
        np.save(target / f"{name}.npy", array.astype(ARRAY_TYPES[name], copy=False), allow_pickle=False)
    (target / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
    # meta.json last: a version folder with it is complete
    meta = {**index_config(analyzer, params), "seq": seq(), "papers": n_docs}
    (target / "meta.json").write_text(json.dumps(meta))
    return n_docs


def _merge(chunks: _Chunks, indptr: np.ndarray, norm: np.ndarray, k1: float, target: Path) -> None:
    """Write docs.npy, tfs.npy and impacts.npy: the chunks' postings merged, a block of terms at a time.

    Within a term, documents stay increasing: chunks hold consecutive documents and are taken in order.
    """
    n_terms, total = len(indptr) - 1, int(indptr[-1])
    with contextlib.ExitStack() as files:
        chunk_docs = files.enter_context((target / "chunk-docs.bin").open("rb"))
        chunk_tfs = files.enter_context((target / "chunk-tfs.bin").open("rb"))
        outputs = {
            name: files.enter_context(_npy_writer(target / f"{name}.npy", name, total))
            for name in ("docs", "tfs", "impacts")
        }
        first = 0
        while first < n_terms:
            last = int(np.searchsorted(indptr, indptr[first] + BLOCK, side="right")) - 1
            last = min(n_terms, max(first + 1, last))
            base = int(indptr[first])
            size = int(indptr[last]) - base
            docs = np.empty(size, np.int32)
            tfs = np.empty(size, np.uint16)
            cursor = indptr[first:last] - base  # where each term's next posting goes in the block
            for terms, offsets, start in zip(chunks.terms, chunks.offsets, chunks.starts, strict=True):
                lo, hi = np.searchsorted(terms, [first, last])
                if lo == hi:
                    continue
                begin, end = int(offsets[lo]), int(offsets[hi])
                counts = np.diff(offsets[lo : hi + 1])
                local = terms[lo:hi] - first
                place = np.repeat(cursor[local] - (offsets[lo:hi] - begin), counts) + np.arange(end - begin)
                docs[place] = _read(chunk_docs, np.int32, start + begin, end - begin)
                tfs[place] = _read(chunk_tfs, np.uint16, start + begin, end - begin)
                cursor[local] += counts
            docs.tofile(outputs["docs"])
            tfs.tofile(outputs["tfs"])
            impacts_of(tfs, docs, norm, k1).tofile(outputs["impacts"])
            first = last


def _tokens_header(handle: BinaryIO, length: int) -> None:
    """np.save's header for `length` uint32 values (128 bytes for any length below 10**18)."""
    start = handle.tell()
    npy.write_array_header_1_0(
        handle, {"descr": npy.dtype_to_descr(np.dtype(np.uint32)), "fortran_order": False, "shape": (length,)}
    )
    if handle.tell() - start != 128:
        raise OSError(f"{handle.name}: unexpected .npy header size {handle.tell() - start}")


def _read(handle: BinaryIO, dtype: type, first: int, count: int) -> np.ndarray:
    handle.seek(first * np.dtype(dtype).itemsize)
    array = np.fromfile(handle, dtype, count)
    if len(array) != count:
        raise OSError(f"{handle.name}: cut short while building the index")
    return array


@contextlib.contextmanager
def _npy_writer(path: Path, name: str, length: int) -> Iterator[BinaryIO]:
    """An open .npy file for a 1-D array of `length`, with np.save's header: the caller appends the values."""
    dtype = np.dtype(ARRAY_TYPES[name])
    with path.open("wb") as handle:
        npy.write_array_header_1_0(
            handle, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": (length,)}
        )
        start = handle.tell()
        yield handle
        if handle.tell() - start != length * dtype.itemsize:
            raise OSError(f"{path}: wrote {handle.tell() - start} bytes of values, expected {length * dtype.itemsize}")
