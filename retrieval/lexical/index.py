"""The search index: analyzer + BM25 postings + paper ids, saved under the home and kept in step with the store.

`open_index` is the only entry point the bot and CLI need: it loads the saved index,
applies whatever the store changed since (new papers, replaced versions) without a
rebuild, and saves the result, so the index is never stale.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
from numpy.lib import format as npy

from corpus.models import Paper
from corpus.store import Store
from corpus.workers import die_with_parent
from retrieval.lexical.acronyms import Acronyms, other_forms
from retrieval.lexical.analyzer import Analyzer, clip_query
from retrieval.lexical.bm25 import BM25Params, BM25Scorer, Postings
from retrieval.lexical.chunks import TermSequences, analyze_chunk
from retrieval.lexical.saved import (
    ARRAY_TYPES,
    IndexUnusable,
    _inconsistency,
    _load_array,
    _read_lines,
    current_version,
    publish,
)
from retrieval.lexical.spelling import Speller

INDEX_DIR = "index"
FORMAT_VERSION = 3  # 3: each paper's analyzed terms in order kept too (tokens.npy), for the word-pair order
CHUNK = 20_000
TOKENS = "tokens.npy"
QUERY_CACHE = (
    256  # queries whose analysis (spelling corrected, terms) is kept: ask and search analyze one several times
)


@dataclass(frozen=True, slots=True)  # slots: a query makes ten of them; half the cost to make
class Hit:
    paper_id: str
    score: float


class IndexDoc(NamedTuple):
    """What the index needs of a paper: its id, the text BM25 sees, and its year (0 if unknown)."""

    paper_id: str
    text: str
    year: int


def document_text(paper: Paper) -> str:
    """What BM25 sees of a paper: title and abstract, both counted."""
    return f"{paper.title}\n{paper.abstract}"


def as_doc(paper: Paper) -> IndexDoc:
    return IndexDoc(paper.id, document_text(paper), paper.year or 0)


def analyzed_chunks(
    docs: Iterable[IndexDoc], analyzer: Analyzer, workers: int
) -> Iterator[tuple[list[IndexDoc], tuple[list[str], np.ndarray, np.ndarray]]]:
    """The documents in chunks of CHUNK, each with `analyze_chunk`'s result, in order.

    With workers, chunks are analyzed in that many processes; at most `workers` + 1 chunks are
    in flight, so the texts held at once stay bounded whatever the corpus size.
    """
    iterator = iter(docs)
    chunks = iter(lambda: list(islice(iterator, CHUNK)), [])
    if workers <= 1 or analyzer.config() != Analyzer().config():  # workers use the default analyzer
        for batch in chunks:
            yield batch, analyze_chunk([doc.text for doc in batch], analyzer)
        return
    with ProcessPoolExecutor(workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        pending = []
        for batch in chunks:
            pending.append((batch, pool.submit(analyze_chunk, [doc.text for doc in batch])))
            if len(pending) > workers:
                done_batch, future = pending.pop(0)
                yield done_batch, future.result()
        for done_batch, future in pending:
            yield done_batch, future.result()


def index_config(analyzer: Analyzer, params: BM25Params) -> dict:
    """What meta.json records, and a loader checks, of the settings an index was made with."""
    return {"format": FORMAT_VERSION, "analyzer": analyzer.config(), "params": vars(params)}


class SearchIndex:
    """Paper ids, their years and BM25 postings; `search` answers a query with Hits."""

    def __init__(
        self,
        analyzer: Analyzer,
        params: BM25Params,
        terms: list[str],
        paper_ids: list[str],
        years: np.ndarray,
        postings: Postings,
        seq: int = 0,
        sequences: TermSequences | None = None,
    ):
        self.analyzer = analyzer
        self.params = params
        self.terms = terms
        self.vocab = {term: i for i, term in enumerate(terms)}
        self.paper_ids = paper_ids
        self.rows = {pid: row for row, pid in enumerate(paper_ids)}
        self.years = years
        self.postings = postings
        self.seq = seq
        self.scorer = BM25Scorer(postings, params)
        self.sequences = sequences if sequences is not None else TermSequences.empty()
        self._queries: OrderedDict[str, QueryTerms] = OrderedDict()
        self._queries_at = -1

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        papers: Iterable[Paper | IndexDoc],
        analyzer: Analyzer | None = None,
        params: BM25Params | None = None,
        seq: int = 0,
        workers: int = 1,
    ) -> SearchIndex:
        index = cls(
            analyzer or Analyzer(), params or BM25Params(), [], [], np.zeros(0, np.int16), Postings.empty(), seq
        )
        index.add(papers, workers=workers)
        return index

    def add(self, papers: Iterable[Paper | IndexDoc], workers: int = 1) -> int:
        """Index new papers; a paper whose id is already indexed replaces the old row. Returns how many.

        Takes Papers, or IndexDocs (the store streams those for a rebuild without building Paper objects).
        """
        docs = (p if isinstance(p, IndexDoc) else as_doc(p) for p in papers)
        parts: list[Postings] = []
        first = len(self.paper_ids)
        replaced: list[int] = []
        added = 0
        for batch, (local_terms, local_ids, lengths) in analyzed_chunks(docs, self.analyzer, workers):
            known = len(self.terms)
            remap = np.fromiter(
                (self.vocab.setdefault(t, len(self.vocab)) for t in local_terms), np.int64, len(local_terms)
            )
            self.terms.extend(t for t, g in zip(local_terms, remap, strict=False) if g >= known)
            for doc in batch:
                if doc.paper_id in self.rows:
                    replaced.append(self.rows[doc.paper_id])
                self.rows[doc.paper_id] = len(self.paper_ids)
                self.paper_ids.append(doc.paper_id)
            flat = remap[local_ids]
            parts.append(Postings.from_flat(flat, lengths, len(self.vocab), first))
            self.sequences.append(flat)
            first += len(batch)
            added += len(batch)
            years = np.fromiter((doc.year for doc in batch), np.int16, len(batch))
            self.years = np.concatenate([self.years, years])
        if not parts:
            return 0
        self.postings = Postings.concat([self.postings, *parts]) if self.postings.n_docs else Postings.concat(parts)
        if replaced:
            self.postings.kill(np.asarray(replaced, np.int64))
        self.sequences.set_lengths(self.postings.doc_len)
        self.scorer = BM25Scorer(self.postings, self.params)
        return added

    # ------------------------------------------------------------------ searching

    def __len__(self) -> int:
        return self.scorer.n_docs

    def catch_up(self, store: Store) -> int:
        """Add what the store changed since this index was made (new papers, replaced versions), in memory.

        The store hands out sequence numbers inside its write lock and commits them in order,
        so every change up to the highest number read is in the rows read: the index can
        move to that number (or to the counter read before, if higher) without skipping any.
        Saving is the caller's, under the index lock (retrieval/lexical/sync.py: `save_quietly`).
        """
        current = store.sequence
        if self.seq >= current:
            return 0
        seen = [current]
        added = self.add(list(_stream_rows(store, self.seq, seen)))
        self.seq = seen[0]
        return added

    def warm(self) -> SearchIndex:
        """Compute what the first query would otherwise pay for (the float32 impacts)."""
        _ = self.scorer.impacts
        return self

    @property
    def speller(self) -> Speller:
        """Corrects a query's misspelt words against this index's vocabulary (retrieval/lexical/spelling.py)."""
        if getattr(self, "_speller", None) is None:
            self._speller = Speller(self.analyzer, self._document_frequency, lambda: len(self.vocab))
        return self._speller

    def _document_frequency(self, term: str) -> int:
        row = self.vocab.get(term)
        return int(self.postings.df[row]) if row is not None and row < len(self.postings.df) else 0

    def analyzed(self, query: str) -> QueryTerms:
        """The query as searched (misspelt words corrected) and its terms, worked out once per query.

        BM25's bag also holds, at a fifth of a term's weight, the expansion of each acronym and the acronym of
        each expansion the corpus defines (retrieval/lexical/acronyms.py): "GNN" also finds "graph neural networks".

        `ask` and `search` read a query's terms three or four times (BM25, the word pairs, answer-or-abstain);
        the last QUERY_CACHE queries are kept, until the vocabulary grows (as the speller's corrections are).
        """
        if self._queries_at != len(self.vocab):
            self._queries.clear()
            self._queries_at = len(self.vocab)
            self._acronyms = Acronyms(self)
        found = self._queries.get(query)
        if found is None:
            text = self.speller(clip_query(query))
            terms = self.analyzer(text)
            counts = Counter(terms)
            vocab = self.vocab
            ids = {vocab[t]: c for t, c in counts.items() if t in vocab}
            pairs = self._acronyms.pairs(text, terms, self.analyzer)
            found = QueryTerms(text, terms, other_forms(ids, pairs) if pairs else ids)
            self._queries[query] = found
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return found

    def respell(self, query: str) -> str:
        """`query` with misspelt words corrected ("prolem" -> "problem"); see retrieval/lexical/spelling.py."""
        return self.analyzed(query).text

    def read_as(self, query: str) -> str | None:
        """The query as searched when misspelt words were corrected, else None (what answers and pages show)."""
        searched = self.respell(query)
        return searched if searched != clip_query(query) else None

    def query_terms(self, query: str) -> dict[int, int]:
        return dict(self.analyzed(query).ids)

    def scores(self, query: str) -> np.ndarray:
        """First-stage BM25 score of every row (rank-bm25's exact score)."""
        return self.scorer.scores(self.query_terms(query))

    def search(
        self,
        query: str,
        k: int = 10,
        year_from: int | None = None,
        year_to: int | None = None,
        allowed_rows: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k best papers for `query`, optionally within a year range; empty when nothing matches."""
        rows, scores = self.search_rows(query, k, year_from, year_to, allowed_rows)
        paper_ids = self.paper_ids
        return [Hit(paper_ids[row], score) for row, score in zip(rows.tolist(), scores.tolist(), strict=True)]

    def search_rows(
        self,
        query: str,
        k: int = 10,
        year_from: int | None = None,
        year_to: int | None = None,
        allowed_rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`search` as arrays: the rows of the k best papers and their BM25 scores, best first.

        What the semantic stage reads of BM25's top 1,000 (making a Hit for each cost more than scoring them).
        """
        terms = self.analyzed(query).ids
        if not terms or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        allowed = allowed_rows
        if year_from is not None or year_to is not None:
            span = (self.years >= (year_from or -32768)) & (self.years <= (year_to or 32767)) & (self.years > 0)
            allowed = span if allowed is None else (allowed & span)
        return self.scorer.top_rows(terms, k, allowed)

    # ------------------------------------------------------------------ saving

    def config(self) -> dict:
        return index_config(self.analyzer, self.params)

    def save(self, folder: Path, replace: bool = False) -> bool:
        """Publish this index as the folder's current version; False when the saved one is already as new.

        `replace`: publish even if the saved version claims to be as new (it was found damaged).

        Under an exclusive inter-process lock, the arrays are written to a private temporary
        folder, which is renamed to a version folder; then the `CURRENT` pointer file is
        replaced atomically. A reader resolves `CURRENT` once and reads that version, so it
        never sees half an index; a crash leaves at worst a temporary folder, removed by the
        next save. Raises OSError (read-only folder, full disk); sync.py's `save_quietly` tolerates that.
        """
        return publish(folder, self.seq, self._write_files, replace)

    def _write_files(self, target: Path) -> None:
        p = self.postings
        for name, array in {
            "indptr": p.indptr,
            "docs": p.docs,
            "tfs": p.tfs,
            "doc_len": p.doc_len,
            "alive": p.alive,
            "df": p.df,
            "years": self.years,
            "impacts": self.scorer.impacts,  # saved so a restart does not recompute them
        }.items():
            np.save(target / f"{name}.npy", array, allow_pickle=False)
        with npy_writer(target / TOKENS, np.uint32, len(self.sequences)) as handle:
            self.sequences.write(handle)
        (target / "terms.txt").write_text("\n".join(self.terms), encoding="utf-8")
        (target / "paper_ids.txt").write_text("\n".join(self.paper_ids), encoding="utf-8")
        # meta.json last: a version folder with it is complete
        (target / "meta.json").write_text(json.dumps({**self.config(), "seq": self.seq, "papers": len(self)}))

    @classmethod
    def load(
        cls, folder: Path, analyzer: Analyzer | None = None, params: BM25Params | None = None
    ) -> SearchIndex | None:
        """The saved index, or None when there is none or it cannot be used (`load_checked` says why)."""
        try:
            return cls.load_checked(folder, analyzer, params)
        except IndexUnusable:
            return None

    @classmethod
    def load_checked(
        cls, folder: Path, analyzer: Analyzer | None = None, params: BM25Params | None = None, mmap: bool = False
    ) -> SearchIndex | None:
        """The folder's current version; None when there is none; IndexUnusable (with the reason) when damaged.

        If a writer swaps in a newer version while this reads (and tidies away the one being
        read), the pointer has moved: read again, rather than call the index damaged.
        `mmap`: map the arrays instead of reading them (`paperbot check` validates the same files
        beside a running bot without doubling its memory).
        """
        folder = Path(folder)
        analyzer, params = analyzer or Analyzer(), params or BM25Params()
        for _ in range(5):
            version = current_version(folder)
            if version is None:
                if (folder / "meta.json").exists():  # the single-folder layout of earlier versions
                    raise IndexUnusable(f"{folder}: saved by an earlier paperbot (format 2)")
                return None
            try:
                return cls._load_version(version, analyzer, params, mmap)
            except IndexUnusable:
                if current_version(folder) == version:
                    raise
        raise IndexUnusable(f"{folder}: replaced again and again while loading")

    @classmethod
    def _load_version(cls, version: Path, analyzer: Analyzer, params: BM25Params, mmap: bool = False) -> SearchIndex:
        """Read and validate one version folder: every file present, of this format, the right types and sizes."""
        try:
            meta = json.loads((version / "meta.json").read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("meta.json is not an object")
            if meta.get("format") != FORMAT_VERSION:
                raise IndexUnusable(
                    f"{version}: index format {meta.get('format')!r}, this paperbot reads {FORMAT_VERSION}"
                )
            if meta.get("analyzer") != analyzer.config() or meta.get("params") != vars(params):
                raise IndexUnusable(f"{version}: made with other analyzer or BM25 settings")
            seq, papers = meta["seq"], meta["papers"]
            if not isinstance(seq, int) or not isinstance(papers, int):
                raise ValueError("meta.json: seq and papers must be integers")
            arrays = {name: _load_array(version, name, mmap) for name in ARRAY_TYPES}
            tokens = load_tokens(version / TOKENS)
            terms = _read_lines(version / "terms.txt")
            paper_ids = _read_lines(version / "paper_ids.txt")
        except IndexUnusable:
            raise
        except Exception as exc:  # noqa: BLE001 - any unreadable file means: rebuild from the store
            raise IndexUnusable(f"{version}: {type(exc).__name__}: {exc}") from None
        impacts = arrays.pop("impacts")
        years = arrays.pop("years")
        postings = Postings(**arrays)
        problem = _inconsistency(postings, years, impacts, terms, paper_ids, papers)
        if problem is None and len(tokens) != int(postings.doc_len.sum(dtype=np.int64)):
            problem = f"{TOKENS} holds {len(tokens)} terms, the documents {int(postings.doc_len.sum(dtype=np.int64))}"
        if problem:
            raise IndexUnusable(f"{version}: {problem}")
        index = cls(analyzer, params, terms, paper_ids, years, postings, seq, TermSequences([tokens], postings.doc_len))
        index.scorer.use_impacts(impacts)
        return index


class QueryTerms(NamedTuple):
    """A query as searched: its text with misspelt words corrected, its terms in order, and {term id: count}."""

    text: str
    terms: list[str]
    ids: dict[int, float]  # counts; the untyped form of an acronym at a share (retrieval/lexical/acronyms.py)


def load_tokens(path: Path) -> np.ndarray:
    """tokens.npy, memory-mapped (only the few papers a query orders by word pairs are read)."""
    try:
        tokens = np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError:  # an empty array cannot be mapped
        tokens = np.load(path, allow_pickle=False)
    if tokens.dtype != np.uint32 or tokens.ndim != 1:
        raise ValueError(f"{path.name} holds {tokens.dtype} with {tokens.ndim} dimensions, expected 1-D uint32")
    return tokens


@contextlib.contextmanager
def npy_writer(path: Path, dtype: type, length: int) -> Iterator[BinaryIO]:
    """An open .npy file for a 1-D array of `length`, with np.save's header: the caller appends the values."""
    dtype = np.dtype(dtype)
    with path.open("wb") as handle:
        npy.write_array_header_1_0(
            handle, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": (length,)}
        )
        start = handle.tell()
        yield handle
        if handle.tell() - start != length * dtype.itemsize:
            raise OSError(f"{path}: wrote {handle.tell() - start} bytes of values, expected {length * dtype.itemsize}")


def _stream_rows(store: Store, after_seq: int, seen: list[int]) -> Iterator[IndexDoc]:
    """The store's changed papers as IndexDocs, noting the highest sequence number streamed in `seen`."""
    for seq, row in store.index_rows(after_seq=after_seq):
        seen[0] = max(seen[0], seq)
        yield IndexDoc(*row)
