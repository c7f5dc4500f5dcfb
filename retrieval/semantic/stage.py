"""The fused order: BM25's top `DEPTH` candidates re-scored by `(1 - WEIGHT) * minmax(bm25) + WEIGHT * cosine`.

A query costs BM25's top 1,000 (as row numbers and scores: no Hit is made for a candidate that is not
shown), their vectors gathered from the memory-mapped matrix (retrieval/semantic/vectors.py), one
matrix-vector product and the fusion; the query's own vector is kept for the last QUERY_CACHE queries,
so asking and then searching the same words encodes them once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np

from retrieval.semantic.encoder import Encoder, shared_encoder

if TYPE_CHECKING:
    from retrieval.lexical.index import Hit, SearchIndex
    from retrieval.semantic.vectors import VectorStore


# Fitted on SciFact train claims only, grouped 5-fold cross-validation by cited paper (training/train_fusion.py):
# min-max normalised BM25 over the candidates, weight 0.75 on the cosine (README, "Semantic stage").
WEIGHT = 0.75
DEPTH = 1000
QUERY_CACHE = 4096  # query vectors kept (1.5 kB each; more than a benchmark batch of 1,109 claims): a repeated query is not encoded again


def fuse(bm25: np.ndarray, cosine: np.ndarray, have: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """The fused score of each candidate: `(1 - weight) * minmax(bm25) + weight * cosine`.

    `have` marks candidates whose vector exists. A candidate without one (not encoded yet) gets the cosine
    its BM25 share predicts — a least-squares line of cosine on share over this query's encoded candidates,
    flat if its slope would be negative — so its score is a function of BM25 alone and it is neither favoured nor buried. (Cosine 0 instead buried
    new papers: SciFact train nDCG@10 with half the vectors missing 0.384; the line 0.711; BM25 alone 0.697.)
    """
    if len(bm25) == 0:
        return np.zeros(0)
    low, high = float(bm25.min()), float(bm25.max())
    share = (bm25 - low) / ((high - low) or 1.0)
    if not have.all():
        known = share[have]
        if len(known) >= 3 and float(known.std()) > 0:
            slope, intercept = np.polyfit(known, cosine[have], 1)
            if slope < 0:  # keep it monotone: a higher BM25 score never predicts a lower fused score
                slope, intercept = 0.0, float(cosine[have].mean())
        else:
            slope, intercept = 0.0, float(cosine[have].mean()) if have.any() else 0.0
        cosine = np.where(have, cosine, slope * share + intercept)
    return (1 - weight) * share + weight * cosine


class SemanticStage:
    """The switchable stage: an encoder and the vectors of one home, applied to BM25's candidates."""

    def __init__(self, encoder: Encoder, vectors: VectorStore, weight: float = WEIGHT, depth: int = DEPTH):
        self.encoder, self.vectors, self.weight, self.depth = encoder, vectors, weight, depth
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    def query_vector(self, query: str) -> np.ndarray:
        """The query's unit vector, encoded once for the last QUERY_CACHE queries (read-only)."""
        found = self._queries.get(query)
        if found is None:
            found = self.encoder.encode([query])[0]
            found.setflags(write=False)
            self._queries[query] = found
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        else:
            self._queries.move_to_end(query)
        return found

    def forget_queries(self) -> None:
        """Empty the query vectors kept (a benchmark timing the encoding of every query)."""
        self._queries.clear()

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The hits re-ordered by the fused score, which replaces the BM25 score in each Hit.

        Needs no paper records (reading 1,000 from SQLite cost ~65 ms a query): a candidate without a vector is
        scored from its BM25 score alone (`fuse`); an updated paper keeps its previous vector until the
        builder (retrieval/semantic/vectors.py), which compares content hashes, has encoded its new text.
        """
        return list(self.rank(query, hits).hits)

    def rank(self, query: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Ranking:
        """The fused order with what answers need beside it: each candidate's BM25 score and cosine."""
        return self._rank(query, [h.paper_id for h in hits], np.array([h.score for h in hits]), query_vector)

    def rank_rows(
        self,
        query: str,
        index: SearchIndex,
        rows: np.ndarray,
        scores: np.ndarray,
        query_vector: np.ndarray | None = None,
    ) -> Ranking:
        """`rank` of BM25's candidates given as index rows and scores (`SearchIndex.search_rows`), best first.

        The candidates' vectors come by index row (`VectorStore.rows_for`: one gather), their paper ids only
        for the candidates read.
        """
        mapped = self.vectors.rows_for(index)
        if mapped is None:
            paper_ids = index.paper_ids
            return self._rank(query, [paper_ids[row] for row in rows.tolist()], scores, query_vector)
        return self._rank(query, _RowIds(index.paper_ids, rows, index.rows), scores, query_vector, mapped[rows])

    def _rank(
        self,
        query: str,
        ids: Sequence[str],
        bm25: np.ndarray,
        query_vector: np.ndarray | None,
        vector_rows: np.ndarray | None = None,
    ) -> Ranking:
        if not len(ids):
            return Ranking([], np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, bool))
        if vector_rows is None:
            vectors, have = self.vectors.lookup(list(ids))
        else:
            vectors, have = self.vectors.gather(vector_rows)
        cosine = vectors @ (self.query_vector(query) if query_vector is None else query_vector)
        scores = fuse(bm25, cosine, have, self.weight) if len(ids) > 1 else np.ones(1)
        order = np.lexsort((np.arange(len(ids)), -scores))
        return Ranking(ids, bm25, order, scores, cosine, have)


class _RowIds(Sequence):
    """The paper ids of index rows, each looked up when read."""

    def __init__(self, paper_ids: list[str], rows: np.ndarray, row_of: Mapping[str, int]):
        self.paper_ids, self.rows, self.row_of = paper_ids, rows, row_of

    def position(self, paper_id: str) -> int | None:
        """Where a paper is among the candidates (without a dictionary of all of them), or None."""
        row = self.row_of.get(paper_id)
        if row is None:
            return None
        found = np.flatnonzero(self.rows == row)
        return int(found[0]) if len(found) else None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self.paper_ids[row] for row in self.rows[item].tolist()]
        return self.paper_ids[int(self.rows[item])]

    def __iter__(self) -> Iterator[str]:
        paper_ids = self.paper_ids
        return (paper_ids[row] for row in self.rows.tolist())


class Ranking:
    """BM25's candidates in fused order (`hits`, fused scores), and their BM25 scores and cosines by paper id.

    `hits` makes a Hit only for the candidates read (search shows ten of a thousand); `bm25` and `cosine`
    are mappings by paper id, `cosine` holding only candidates with a vector.
    """

    def __init__(
        self,
        ids: Sequence[str],
        bm25: np.ndarray,
        order: np.ndarray,
        fused: np.ndarray,
        cosine: np.ndarray,
        have: np.ndarray,
    ):
        self.ids, self._bm25, self.order, self.fused, self._cosine, self.have = ids, bm25, order, fused, cosine, have
        self.hits = _FusedHits(self)

    def position(self, paper_id: str) -> int | None:
        """Where a paper is among the candidates (BM25's order), or None."""
        if isinstance(self.ids, _RowIds):
            return self.ids.position(paper_id)
        return self.positions.get(paper_id)

    @cached_property
    def positions(self) -> dict[str, int]:
        return {paper_id: i for i, paper_id in enumerate(self.ids)}

    @cached_property
    def bm25(self) -> dict[str, float]:
        return dict(zip(self.ids, self._bm25.tolist(), strict=True))

    @cached_property
    def cosine(self) -> Mapping[str, float]:
        return _Cosines(self)


class _FusedHits(Sequence):
    """The candidates as Hits in fused order, each made when it is read."""

    def __init__(self, ranking: Ranking):
        self.ranking = ranking

    def __len__(self) -> int:
        return len(self.ranking.order)

    def _hit(self, position: int) -> Hit:
        from retrieval.lexical.index import Hit

        i = int(self.ranking.order[position])
        return Hit(self.ranking.ids[i], round(float(self.ranking.fused[i]), 6))

    @overload
    def __getitem__(self, item: int) -> Hit: ...
    @overload
    def __getitem__(self, item: slice) -> list[Hit]: ...
    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self._hit(i) for i in range(*item.indices(len(self)))]
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self._hit(item)

    def __iter__(self) -> Iterator[Hit]:
        return (self._hit(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


class _Cosines(Mapping):
    """Paper id -> cosine with the query, for the candidates that have a vector."""

    def __init__(self, ranking: Ranking):
        self.ranking = ranking

    def __getitem__(self, paper_id: str) -> float:
        i = self.ranking.position(paper_id)
        if i is None or not self.ranking.have[i]:
            raise KeyError(paper_id)
        return float(self.ranking._cosine[i])

    def __contains__(self, paper_id: object) -> bool:
        i = self.ranking.position(paper_id)  # type: ignore[arg-type]
        return i is not None and bool(self.ranking.have[i])

    def __iter__(self) -> Iterator[str]:
        return (p for p, known in zip(self.ranking.ids, self.ranking.have.tolist(), strict=True) if known)

    def __len__(self) -> int:
        return int(self.ranking.have.sum())


def open_stage(home: Path, setting: str | None = None) -> SemanticStage | None:
    """The stage for a home, or None (after one notice) when no model is installed or named."""
    from retrieval.semantic.vectors import VectorStore

    encoder = shared_encoder(setting)
    if encoder is None:
        return None
    return SemanticStage(encoder, VectorStore.for_model(home, encoder.model_id))
