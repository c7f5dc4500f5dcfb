"""One chunk of texts analyzed at once into chunk-local term ids: the hot loop of every index build.

Apart from the index because it runs in worker processes: `analyzed_chunks` (index.py) cuts the corpus
into chunks of `CHUNK` documents for the in-memory index and the on-disk build (build.py) alike, and
hands each chunk here, in this process or in a worker.
"""

from __future__ import annotations

import numpy as np

from retrieval.lexical.analyzer import Analyzer, normalise, words_of_normalised

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

    def __missing__(self, word: str | bytes) -> int:
        term = self.analyzer.term_of(word.decode("ascii") if isinstance(word, bytes) else word)
        value = self[word] = self.terms.setdefault(term, len(self.terms)) if term else -1
        return value


def analyze_chunk(texts: list[str], analyzer: Analyzer | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
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
        words = words_of_normalised(normalise(text))  # == analyzer.words(text), faster for ASCII
        ids = np.fromiter(map(table.__getitem__, words), np.int64, len(words))
        ids = ids[ids >= 0]
        lengths[i] = len(ids)
        parts.append(ids)
    flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return list(table.terms), flat, lengths


class TermSequences:
    """Every document's analyzed terms in order, as term ids: what the word-pair order reads instead of the text.

    One flat uint32 array of the documents one after another (the saved index's tokens.npy, memory-mapped
    when loaded: a query reads a few hundred bytes of its top papers); a document's terms start where the
    lengths before it (Postings.doc_len, the same counts) add up to. Documents added later come as more
    parts, so appending never copies the loaded array.
    """

    MERGE_BELOW = 1 << 20  # a new part this small is joined to the last part instead (the bot adds a few at a time)

    def __init__(self, parts: list[np.ndarray], doc_len: np.ndarray):
        # a memory-mapped part is kept as a plain view of the mapping: slicing a np.memmap costs several times more
        self.parts = [np.asarray(p) for p in parts if len(p)]
        self.bounds = np.cumsum([0, *(len(p) for p in self.parts)]).astype(np.int64)
        self.starts = np.concatenate(([0], np.cumsum(doc_len, dtype=np.int64)))

    @classmethod
    def empty(cls) -> TermSequences:
        return cls([], np.zeros(0, np.int32))

    def __len__(self) -> int:
        """How many terms in all."""
        return int(self.bounds[-1])

    def append(self, part: np.ndarray) -> None:
        """Add the terms of documents that follow the last one (then `set_lengths` with every document's length)."""
        part = np.asarray(part, np.uint32)
        if not len(part):
            return
        last = self.parts[-1] if self.parts else None
        if last is not None and len(last) + len(part) <= self.MERGE_BELOW:  # (never a big loaded part: copied)
            self.parts[-1] = np.concatenate([last, part])
        else:
            self.parts.append(part)
        self.bounds = np.cumsum([0, *(len(p) for p in self.parts)]).astype(np.int64)

    def set_lengths(self, doc_len: np.ndarray) -> None:
        """Where each document's terms start, from every document's length (Postings.doc_len)."""
        self.starts = np.concatenate(([0], np.cumsum(doc_len, dtype=np.int64)))

    def of(self, row: int) -> np.ndarray:
        """Document `row`'s term ids, in order."""
        start, end = int(self.starts[row]), int(self.starts[row + 1])
        if len(self.parts) == 1:
            return self.parts[0][start:end]
        if start == end:
            return np.zeros(0, np.uint32)
        part = int(np.searchsorted(self.bounds, start, side="right")) - 1
        base = int(self.bounds[part])
        return self.parts[part][start - base : end - base]

    def write(self, handle) -> None:
        """Append every term id to an open file, part by part (a memory-mapped part a block at a time)."""
        step = 1 << 24
        for part in self.parts:
            for start in range(0, len(part), step):
                np.ascontiguousarray(part[start : start + step], np.uint32).tofile(handle)
