"""Second stage, switchable: re-rank BM25's top hits with five lexical signals and a linear model.

BM25 alone scores a paper by its term counts. Reading the candidates' titles and
sentences adds what the bag of words misses: whether one sentence holds most of the
question (not the words scattered over the abstract), whether the title names it, and
whether the paper shares vocabulary with the other top papers (RM3 pseudo-relevance
feedback, scored on the candidates only). The weights are a pairwise logistic model
fitted on SciFact's train claims by `training/train_reranker.py`, which prints the
constants below and its cross-validated effect. No neural model, nothing per-corpus.

The first stage (retrieval/lexical/bm25.py) stays rank-bm25's exact score; this stage only
re-orders its top `depth` hits, and `enabled=False` turns it off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, Field

from corpus.models import Paper
from retrieval.lexical.index import Hit, SearchIndex

FEATURES = ("bm25_share", "paper_coverage", "best_sentence_coverage", "feedback_share", "title_coverage")
# Fitted on SciFact train (training/train_reranker.py), one weight per feature; the score is features @ WEIGHTS.
WEIGHTS = np.array([1.0, 0.4483, 0.7334, 0.9756, 0.7496])


class RerankOptions(BaseModel):
    enabled: bool = True
    depth: int = Field(default=50, ge=1, le=1000, description="how many first-stage hits are re-ranked")
    feedback_docs: int = Field(default=5, ge=1, le=50)
    feedback_terms: int = Field(default=10, ge=1, le=100)
    original_weight: float = Field(default=0.7, ge=0, le=1, description="the question's share of the RM3 query")


PaperLookup = Callable[[list[str]], dict[str, Paper]]


def rerank_features(
    query: str, hits: list[Hit], papers: dict[str, Paper], index: SearchIndex, options: RerankOptions
) -> np.ndarray:
    """One row of FEATURES per hit (hits best first, each paper present in `papers`)."""
    analyzer, vocab, idf = index.analyzer, index.vocab, index.scorer.idf
    query_terms = analyzer(query)
    weight = {t: float(idf[vocab[t]]) for t in dict.fromkeys(query_terms) if t in vocab}
    total = sum(weight.values()) or 1.0
    best = hits[0].score or 1.0

    def coverage(terms: set[str]) -> float:
        return sum(w for t, w in weight.items() if t in terms) / total

    rows, analyzed = [], []
    for hit in hits:
        paper = papers[hit.paper_id]
        title_terms = analyzer(paper.title)
        sentence_terms = [analyzer(s) for s in paper.sentences]
        if len(analyzed) < options.feedback_docs:
            analyzed.append(Counter(title_terms + [t for terms in sentence_terms for t in terms]))
        title, sentences = set(title_terms), [set(terms) for terms in sentence_terms]
        rows.append(
            [
                hit.score / best,
                coverage(title.union(*sentences)),
                max((coverage(s) for s in sentences), default=0.0),
                0.0,
                coverage(title),
            ]
        )
    features = np.array(rows, dtype=np.float64).reshape(len(hits), len(FEATURES))
    feedback = _feedback_scores(query_terms, hits, analyzed, index, options)
    features[:, 3] = feedback / (feedback.max() or 1.0)
    return features


def _feedback_scores(
    query_terms: list[str], hits: list[Hit], top_counts: list[Counter], index: SearchIndex, options: RerankOptions
) -> np.ndarray:
    """RM3: a query of the question's terms and the top papers' commonest terms, BM25-scored on the hits only.

    `top_counts` holds the term counts of the first hits (title and sentences), already analyzed by the caller.
    """
    vocab, idf = index.vocab, index.scorer.idf
    best = hits[0].score
    model: Counter[str] = Counter()
    for hit, counts in zip(hits, top_counts, strict=False):
        length = sum(counts.values()) or 1
        doc_weight = float(np.exp(hit.score - best))
        for term, n in counts.items():
            if term in vocab and idf[vocab[term]] > 0:
                model[term] += doc_weight * n / length
    expansion = model.most_common(options.feedback_terms)
    mass = sum(v for _, v in expansion) or 1.0
    question = Counter(t for t in query_terms if t in vocab)
    size = sum(question.values()) or 1
    weights: Counter[int] = Counter()
    for term, n in question.items():
        weights[vocab[term]] += options.original_weight * n / size
    for term, v in expansion:
        weights[vocab[term]] += (1 - options.original_weight) * v / mass
    rows = np.array([index.rows[h.paper_id] for h in hits], np.int64)
    order = np.argsort(rows, kind="stable")
    scores = np.empty(len(hits))
    scores[order] = index.scorer.exact_scores(list(weights.items()), rows[order])
    return scores


def rerank(
    query: str, hits: list[Hit], papers: dict[str, Paper], index: SearchIndex, options: RerankOptions | None = None
) -> list[Hit]:
    """The hits re-ordered by the second-stage score, which replaces the BM25 score in each Hit."""
    options = options or RerankOptions()
    hits = [h for h in hits if h.paper_id in papers]
    if not options.enabled or len(hits) < 2:
        return hits
    scores = rerank_features(query, hits, papers, index, options) @ WEIGHTS
    order = np.lexsort((np.arange(len(hits)), -scores))
    return [Hit(hits[i].paper_id, round(float(scores[i]), 6)) for i in order]


def search_papers(
    query: str,
    k: int,
    index: SearchIndex,
    lookup: PaperLookup,
    options: RerankOptions | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
) -> tuple[list[Hit], dict[str, Paper]]:
    """First stage for max(k, depth) hits, their papers, then the second stage; the k best and their papers."""
    options = options or RerankOptions()
    wanted = max(k, options.depth) if options.enabled else k
    hits = index.search(query, wanted, year_from, year_to)
    papers = lookup([h.paper_id for h in hits])
    hits = rerank(query, hits, papers, index, options)[:k]
    return hits, papers
