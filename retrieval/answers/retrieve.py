"""The papers a question is answered from, best first, and the answer-or-abstain features computed from them.

Without the semantic stage, BM25's hits in word-pair order (lexical/proximity.py); with it, BM25's top
`stage.depth` in fused order. Either way BM25's own list is kept beside (`StageView`): answer-or-abstain
reads the shape of BM25's scores whatever order the papers come in.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from corpus.models import Paper
from retrieval.answers.answerability import (
    PaperTerms,
    features,
    paper_terms,
    question_weights,
    semantic_features,
)
from retrieval.lexical import proximity
from retrieval.lexical.index import Hit, SearchIndex

if TYPE_CHECKING:
    from retrieval.semantic.stage import SemanticStage


_MAX_IDF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # scorer -> its highest idf


class StageView(NamedTuple):
    """BM25's own list, for answer-or-abstain, when the papers come in another order: the word-pair order
    (retrieval/lexical/proximity.py) or the semantic stage's fused order, which also brings the cosines."""

    bm25_top: list[float]  # BM25's own best scores, in its order (up to 5)
    bm25_top_id: str  # BM25's first paper
    cosine: dict[str, float] | None = None  # fused order: candidates' cosines to the question (those with a vector)

    @property
    def fused(self) -> bool:
        return self.cosine is not None


def retrieve(
    question: str,
    index: SearchIndex,
    get_many: Callable[[list[str]], dict[str, Paper]],
    k: int,
    stage: SemanticStage | None = None,
    query_vector: np.ndarray | None = None,
) -> tuple[list[tuple[Paper, float]], StageView | None]:
    """The top k papers, best first: BM25's, or with a semantic `stage` BM25's top `stage.depth` in fused order.

    The fused order and the semantic answer-or-abstain model are used only when the papers they weigh (the
    fused top k, BM25's top 5) all have vectors; until then the question is answered as without the stage.

    `get_many` reads paper records by id (`Store.get_many`); `query_vector`, if already encoded, saves encoding.
    """
    if stage is None:
        return _lexical(question, index.search(question, max(k, proximity.DEPTH)), index, get_many, k)
    rows, scores = index.search_rows(question, stage.depth)  # BM25's top 1,000 as arrays: a Hit only for those read
    if not len(rows):
        return [], None
    ranking = stage.rank_rows(question, index, rows, scores, query_vector)
    first = max(k, proximity.DEPTH, 5)
    bm25 = [Hit(pid, score) for pid, score in zip(ranking.ids[:first], scores[:first].tolist(), strict=True)]
    if any(h.paper_id not in ranking.cosine for h in ranking.hits[:k] + bm25[:5]):
        # a paper that matters here has no vector yet (being encoded): BM25 alone, judged by the lexical model
        return _lexical(question, bm25[: max(k, proximity.DEPTH)], index, get_many, k)
    view = StageView([h.score for h in bm25[:5]], bm25[0].paper_id, ranking.cosine)
    return ranked_papers(ranking.hits[:k], get_many), view


def _lexical(
    question: str, hits: list[Hit], index: SearchIndex, get_many: Callable[[list[str]], dict[str, Paper]], k: int
) -> tuple[list[tuple[Paper, float]], StageView | None]:
    """BM25's hits in word-pair order (retrieval/lexical/proximity.py), the top k as (paper, BM25 score), and BM25's own list."""
    if not hits:
        return [], None
    ordered = proximity.by_pairs(question, hits, None, index)[:k]  # the pairs are read from the index
    papers = get_many([h.paper_id for h in ordered])  # only the k records answered from
    view = StageView([h.score for h in hits[:5]], hits[0].paper_id)
    return [(papers[h.paper_id], h.score) for h in ordered if h.paper_id in papers], view


def answerability_row(
    question: str, ranked: list[tuple[Paper, float]], index: SearchIndex, view: StageView | None = None
) -> tuple[np.ndarray | None, dict[str, PaperTerms]]:
    """The answer-or-abstain features (None: nothing to judge) and the top papers' analyzed terms, kept for reuse.

    With a `view` the score-shape features come from BM25's own list; in fused order the semantic features
    follow (retrieval/answers/answerability.py SEMANTIC_FEATURES).
    """
    analyzer = index.analyzer
    terms = {paper.id: paper_terms(paper, analyzer) for paper, _ in ranked[:3]}
    scorer = index.scorer
    if scorer not in _MAX_IDF:  # once per index state: a full pass over the vocabulary
        _MAX_IDF[scorer] = float(scorer.idf.max()) if len(scorer.idf) else 1.0
    row = features(
        question_weights(question, analyzer),
        ranked,
        [terms[paper.id] for paper, _ in ranked[:3]],
        index.vocab,
        scorer.idf,
        _MAX_IDF[scorer],
        index.params.k1,
        index.postings.n_docs,
        None if view is None else view.bm25_top,
    )
    if row is not None and view is not None and view.cosine is not None:
        known = [view.cosine[p.id] for p, _ in ranked[:5] if p.id in view.cosine]
        fallback = float(np.mean(known)) if known else 0.0  # not encoded yet: an ordinary candidate
        cosines = [view.cosine.get(p.id, fallback) for p, _ in ranked[:5]]
        extra = semantic_features(
            cosines,
            view.cosine.get(view.bm25_top_id, fallback),
            [score for _, score in ranked[:5]],
            ranked[0][0].id == view.bm25_top_id,
        )
        row = np.concatenate([row, extra])
    return row, terms


def ranked_papers(hits: list[Hit], get_many: Callable[[list[str]], dict[str, Paper]]) -> list[tuple[Paper, float]]:
    """Hits as (paper, score), best first; a hit whose paper left the store meanwhile is dropped.

    `get_many` reads records by id (`Store.get_many`, or a dict's lookup for an in-memory corpus)."""
    papers = get_many([h.paper_id for h in hits])
    return [(papers[h.paper_id], h.score) for h in hits if h.paper_id in papers]
