"""The fused order: BM25's top `DEPTH` candidates re-scored by `(1 - WEIGHT) * minmax(bm25) + WEIGHT * cosine`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from retrieval.semantic.encoder import Encoder, shared_encoder

if TYPE_CHECKING:
    from retrieval.lexical.index import Hit
    from retrieval.semantic.vectors import VectorStore


# Fitted on SciFact train claims only, grouped 5-fold cross-validation by cited paper (training/train_fusion.py):
# min-max normalised BM25 over the candidates, weight 0.75 on the cosine (README, "Semantic stage").
WEIGHT = 0.75
DEPTH = 1000


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

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The hits re-ordered by the fused score, which replaces the BM25 score in each Hit.

        Needs no paper records (reading 1,000 from SQLite cost ~65 ms a query): a candidate without a vector is
        scored from its BM25 score alone (`fuse`); an updated paper keeps its previous vector until the
        builder (retrieval/semantic/vectors.py), which compares content hashes, has encoded its new text.
        """
        return self.rank(query, hits).hits

    def rank(self, query: str, hits: list[Hit], query_vector: np.ndarray | None = None) -> Ranking:
        """The fused order with what answers need beside it: each candidate's BM25 score and cosine."""
        from retrieval.lexical.index import Hit

        if not hits:
            return Ranking([], {}, {})
        vectors, have = self.vectors.lookup([h.paper_id for h in hits])
        cosine = vectors @ (self.encoder.encode([query])[0] if query_vector is None else query_vector)
        bm25 = np.array([h.score for h in hits])
        scores = fuse(bm25, cosine, have, self.weight) if len(hits) > 1 else np.ones(1)
        order = np.lexsort((np.arange(len(hits)), -scores))
        return Ranking(
            [Hit(hits[i].paper_id, round(float(scores[i]), 6)) for i in order],
            {h.paper_id: h.score for h in hits},
            {h.paper_id: float(c) for h, c, known in zip(hits, cosine, have, strict=True) if known},
        )


class Ranking(NamedTuple):
    """BM25's candidates in fused order (`hits`, fused scores), and their BM25 scores and cosines by paper id.

    A candidate without a vector yet has no entry in `cosine`.
    """

    hits: list[Hit]
    bm25: dict[str, float]
    cosine: dict[str, float]


def open_stage(home: Path, setting: str | None = None) -> SemanticStage | None:
    """The stage for a home, or None (after one notice) when no model is installed or named."""
    from retrieval.semantic.vectors import VectorStore

    encoder = shared_encoder(setting)
    if encoder is None:
        return None
    return SemanticStage(encoder, VectorStore.for_model(home, encoder.model_id))
