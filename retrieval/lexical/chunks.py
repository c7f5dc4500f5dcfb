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
