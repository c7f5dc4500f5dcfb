"""The search index: analyzer + BM25 postings + paper ids, saved under the home and kept in step with the store.

`open_index` is the only entry point the bot and CLI need: it loads the saved index,
applies whatever the store changed since (new papers, replaced versions) without a
rebuild, and saves the result, so the index is never stale.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import NamedTuple

import numpy as np

from corpus.models import Paper
from corpus.store import Store
from retrieval.analyzer import Analyzer, clip_query
from retrieval.bm25 import BM25Params, BM25Scorer, Postings

INDEX_DIR = "index"
FORMAT_VERSION = 2
CHUNK = 20_000


@dataclass(frozen=True)
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


_WORKER_ANALYZER: Analyzer | None = None


def _default_analyzer() -> Analyzer:
    """One analyzer per process, so its word cache stays warm across chunks."""
    global _WORKER_ANALYZER
    if _WORKER_ANALYZER is None:
        _WORKER_ANALYZER = Analyzer()
    return _WORKER_ANALYZER


class _ChunkIds(dict):
    """word -> chunk-local term id (-1 for a stop word); `terms` grows as new terms appear."""

    def __init__(self, analyzer: Analyzer):
        super().__init__()
        self.analyzer = analyzer
        self.terms: dict[str, int] = {}

    def __missing__(self, word: str) -> int:
        term = self.analyzer.term_of(word)
        value = self[word] = self.terms.setdefault(term, len(self.terms)) if term else -1
        return value


def _analyze_chunk(texts: list[str], analyzer: Analyzer | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Analyze texts into a chunk-local vocabulary, flat local term ids and lengths (runs in a worker).

    The hot loop is one dict lookup per word (word -> local term id); equivalent to
    `analyzer(text)`, which the rank-bm25 equality tests check.
    """
    analyzer = analyzer or _default_analyzer()
    table = _ChunkIds(analyzer)
    parts: list[np.ndarray] = []
    lengths = np.empty(len(texts), np.int64)
    for i, text in enumerate(texts):
        if analyzer.compounds:  # compound tokens are not single words: no word cache
            ids = np.asarray([table.terms.setdefault(t, len(table.terms)) for t in analyzer(text)], np.int64)
            lengths[i] = len(ids)
            parts.append(ids)
            continue
        words = analyzer.words(text)
        ids = np.fromiter(map(table.__getitem__, words), np.int64, len(words))
        ids = ids[ids >= 0]
        lengths[i] = len(ids)
        parts.append(ids)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return list(table.terms), flat, lengths


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
        for batch, (local_terms, local_ids, lengths) in self._analyzed_chunks(docs, workers):
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
            parts.append(Postings.from_flat(remap[local_ids], lengths, len(self.vocab), first))
            first += len(batch)
            added += len(batch)
            years = np.fromiter((doc.year for doc in batch), np.int16, len(batch))
            self.years = np.concatenate([self.years, years])
        if not parts:
            return 0
        self.postings = Postings.concat([self.postings, *parts]) if self.postings.n_docs else Postings.concat(parts)
        if replaced:
            self.postings.kill(np.asarray(replaced, np.int64))
        self.scorer = BM25Scorer(self.postings, self.params)
        return added

    def _analyzed_chunks(self, docs: Iterable[IndexDoc], workers: int) -> Iterator[tuple[list[IndexDoc], tuple]]:
        iterator = iter(docs)
        chunks = iter(lambda: list(islice(iterator, CHUNK)), [])
        if workers <= 1 or self.analyzer.config() != Analyzer().config():  # workers use the default analyzer
            for batch in chunks:
                yield batch, _analyze_chunk([doc.text for doc in batch], self.analyzer)
            return
        with ProcessPoolExecutor(workers) as pool:
            pending = []
            for batch in chunks:
                pending.append((batch, pool.submit(_analyze_chunk, [doc.text for doc in batch])))
                if len(pending) > workers * 2:
                    done_batch, future = pending.pop(0)
                    yield done_batch, future.result()
            for done_batch, future in pending:
                yield done_batch, future.result()

    # ------------------------------------------------------------------ searching

    def __len__(self) -> int:
        return self.scorer.n_docs

    def catch_up(self, store: Store, folder: Path | None = None) -> int:
        """Add what the store changed since this index was made (new papers, replaced versions); save if anything did."""
        current = store.sequence
        if self.seq >= current:
            return 0
        added = self.add([IndexDoc(*row) for _, row in store.index_rows(after_seq=self.seq)])
        self.seq = current
        if folder is not None:
            self.save(folder)
        return added

    def warm(self) -> SearchIndex:
        """Compute what the first query would otherwise pay for (the float32 impacts)."""
        _ = self.scorer.impacts
        return self

    def query_terms(self, query: str) -> dict[int, int]:
        counts = Counter(self.analyzer(clip_query(query)))
        return {self.vocab[t]: c for t, c in counts.items() if t in self.vocab}

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
        terms = self.query_terms(query)
        if not terms or k <= 0:
            return []
        allowed = allowed_rows
        if year_from is not None or year_to is not None:
            span = (self.years >= (year_from or -32768)) & (self.years <= (year_to or 32767)) & (self.years > 0)
            allowed = span if allowed is None else (allowed & span)
        ranked = self.scorer.top(terms, k, allowed)
        return [Hit(self.paper_ids[row], score) for row, score in ranked]

    # ------------------------------------------------------------------ saving

    def config(self) -> dict:
        return {"format": FORMAT_VERSION, "analyzer": self.analyzer.config(), "params": vars(self.params)}

    def save(self, folder: Path) -> None:
        """Write to a fresh folder, then swap it in, so a crash never leaves half an index."""
        folder = Path(folder)
        temp = folder.with_name(folder.name + ".new")
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
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
            np.save(temp / f"{name}.npy", array)
        (temp / "terms.txt").write_text("\n".join(self.terms), encoding="utf-8")
        (temp / "paper_ids.txt").write_text("\n".join(self.paper_ids), encoding="utf-8")
        (temp / "meta.json").write_text(json.dumps({**self.config(), "seq": self.seq, "papers": len(self)}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(temp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(
        cls, folder: Path, analyzer: Analyzer | None = None, params: BM25Params | None = None
    ) -> SearchIndex | None:
        """The saved index, or None when there is none or it was made with other settings."""
        folder = Path(folder)
        analyzer, params = analyzer or Analyzer(), params or BM25Params()
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if (
                meta.get("format") != FORMAT_VERSION
                or meta.get("analyzer") != analyzer.config()
                or meta.get("params") != vars(params)
            ):
                return None
            arrays = {
                name: np.load(folder / f"{name}.npy")
                for name in ("indptr", "docs", "tfs", "doc_len", "alive", "df", "years")
            }
            terms = _read_lines(folder / "terms.txt")
            paper_ids = _read_lines(folder / "paper_ids.txt")
        except (OSError, ValueError, KeyError):
            return None
        years = arrays.pop("years")
        postings = Postings(**arrays)
        if len(paper_ids) != postings.n_docs or len(terms) != postings.n_terms:
            return None
        index = cls(analyzer, params, terms, paper_ids, years, postings, meta["seq"])
        try:
            impacts = np.load(folder / "impacts.npy")
        except (OSError, ValueError):
            impacts = None
        if impacts is not None and len(impacts) == len(postings.docs):
            index.scorer.use_impacts(impacts)
        return index


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.split("\n") if text else []


def open_index(
    home: Path, store: Store, analyzer: Analyzer | None = None, params: BM25Params | None = None, workers: int = 1
) -> SearchIndex:
    """Load the home's index and bring it up to the store's state, building it if needed."""
    folder = Path(home) / INDEX_DIR
    index = SearchIndex.load(folder, analyzer, params)
    current = store.sequence
    if index is None or index.seq > current:
        docs = (IndexDoc(*row) for _, row in store.index_rows())
        index = SearchIndex.build(docs, analyzer, params, seq=current, workers=workers)
        index.save(folder)
    else:
        index.catch_up(store, folder)
    return index


def rank_bm25_reference(documents: Sequence[str], analyzer: Analyzer, params: BM25Params):
    """rank_bm25.BM25Okapi over the same analyzed documents: the definition our scores must match."""
    from rank_bm25 import BM25Okapi

    return BM25Okapi([analyzer(text) for text in documents], k1=params.k1, b=params.b, epsilon=params.epsilon)
