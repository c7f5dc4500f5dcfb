"""The second stage only re-orders the first stage's hits, and its feedback scores are BM25's."""

from collections import Counter

import numpy as np
import pytest

from corpus.home import open_store
from retrieval.answers.search import SearchRequest, run_search
from retrieval.lexical.rerank import FEATURES, RerankOptions, _feedback_scores, rerank_features, search_papers


@pytest.fixture
def bundled(home):
    from retrieval.lexical.sync import open_index

    store = open_store(home)
    yield open_index(home, store), store
    store.close()


QUERY = "long context multimodal model retrieval"


def test_rerank_reorders_the_same_papers(bundled):
    index, store = bundled
    first = index.search(QUERY, 10)
    hits, papers = search_papers(QUERY, 10, index, store.get_many, RerankOptions(depth=10))
    assert len(first) >= 3
    assert sorted(h.paper_id for h in hits) == sorted(h.paper_id for h in first)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    off, _ = search_papers(QUERY, 10, index, store.get_many, RerankOptions(enabled=False))
    assert [(h.paper_id, h.score) for h in off] == [(h.paper_id, h.score) for h in first]


def test_features_are_shares_between_zero_and_one(bundled):
    index, store = bundled
    hits = index.search(QUERY, 10)
    papers = store.get_many([h.paper_id for h in hits])
    features = rerank_features(QUERY, hits, papers, index, RerankOptions())
    assert features.shape == (len(hits), len(FEATURES))
    assert (features >= 0).all() and (features <= 1 + 1e-12).all()
    assert features[0, 0] == 1.0 and features[:, 3].max() == 1.0


def test_feedback_scores_equal_full_bm25_scoring_of_the_expanded_query(bundled):
    index, store = bundled
    hits = index.search(QUERY, 10)
    papers = store.get_many([h.paper_id for h in hits])
    options = RerankOptions(original_weight=1.0)  # the question alone: plain BM25 with weights 1/len
    counts = [Counter(index.analyzer(f"{papers[h.paper_id].title} {papers[h.paper_id].abstract}")) for h in hits[:5]]
    scores = _feedback_scores(index.analyzer(QUERY), hits, counts, index, options)
    terms = index.query_terms(QUERY)
    size = sum(terms.values())
    full = index.scorer.scores({t: c / size for t, c in terms.items()})
    expected = np.array([full[index.rows[h.paper_id]] for h in hits])
    assert np.allclose(scores, expected, rtol=1e-12)


def test_search_request_switches_the_stage_on(bundled):
    index, store = bundled
    plain = run_search(index, store, SearchRequest(query=QUERY, k=5))
    reranked = run_search(index, store, SearchRequest(query=QUERY, k=5, rerank=True))
    assert {h.paper_id for h in reranked} <= {h.paper_id for h in index.search(QUERY, 50)}
    assert [h.score for h in plain] == [round(h.score, 6) for h in index.search(QUERY, 5)]
