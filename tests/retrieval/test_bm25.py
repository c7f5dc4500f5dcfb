"""Our postings give rank-bm25's BM25Okapi scores, before and after incremental updates."""

import json

import numpy as np
import pytest

from corpus.home import bundled_papers
from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.lexical.acronyms import SHARE
from retrieval.lexical.bm25 import BM25Params, rank_bm25_reference
from retrieval.lexical.index import SearchIndex, document_text
from tests.conftest import DATA, need

QUERIES = [
    "how do you train transformers without normalisation?",
    "long context multimodal model",
    "distributed machine learning research framework",
    "precipitation nowcasting radar",
    "model model model",  # repeated query terms count as in rank-bm25
    "perceiver",
]


def assert_same_scores(index: SearchIndex, papers: list[Paper], queries: list[str], params: BM25Params) -> None:
    reference = rank_bm25_reference([document_text(p) for p in papers], index.analyzer, params)
    rows = [index.rows[p.id] for p in papers]
    for query in queries:
        searched = index.analyzed(query)  # the terms search uses: respelt, and the other form of an acronym
        assert searched.terms == index.analyzer(index.respell(query))
        expected = reference.get_scores(searched.terms)
        for term, weight in searched.ids.items():
            if index.terms[term] not in searched.terms:  # added at SHARE of a use (retrieval/lexical/acronyms.py)
                assert weight == SHARE
                expected = expected + weight * reference.get_scores([index.terms[term]])
        got = index.scores(query)[rows]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=query)


@pytest.mark.parametrize("params", [BM25Params(), BM25Params(k1=0.9, b=0.4, epsilon=0.1)])
def test_bundled_corpus_scores_match_rank_bm25(params):
    papers = bundled_papers()
    assert_same_scores(SearchIndex.build(papers, params=params), papers, QUERIES, params)


def test_scifact_scores_match_rank_bm25_on_every_claim():
    papers = load_path(need(DATA / "scifact" / "corpus.jsonl"))
    queries = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    index = SearchIndex.build(papers)
    assert_same_scores(index, papers, queries[::5], BM25Params())  # every 5th of the 1,109 claims


def test_incremental_add_equals_a_rebuild():
    papers = bundled_papers()
    index = SearchIndex.build(papers[:5])
    index.add(papers[5:])
    assert_same_scores(index, papers, QUERIES, BM25Params())


def test_a_replaced_version_is_scored_as_the_new_text_only():
    papers = bundled_papers()
    index = SearchIndex.build(papers)
    old = papers[0]
    new = Paper(
        **{
            **old.model_dump(),
            "version": 2,
            "abstract": "Entirely about precipitation radar nowcasting.",
            "sentences": [],
        }
    )
    index.add([new])
    current = [new if p.id == old.id else p for p in papers]
    assert len(index) == 13
    rows = [index.rows[p.id] for p in current]
    reference = rank_bm25_reference([document_text(p) for p in current], index.analyzer, BM25Params())
    for query in QUERIES:
        np.testing.assert_allclose(index.scores(query)[rows], reference.get_scores(index.analyzer(query)), atol=1e-6)
    assert index.search("nowcasting radar", 2)[0].paper_id in {"2104.00954", old.id}
    assert all(h.paper_id == old.id for h in index.search("Entirely", 5))


@pytest.mark.parametrize(
    "query", ["", "   ", "?!.,;", "\x00\x01\x02", "a" * 100_000, "the of and", "深度学习 模型", "🦄" * 50]
)
def test_bad_queries_are_empty_or_ranked_never_a_crash(query):
    index = SearchIndex.build(bundled_papers())
    hits = index.search(query, 5)
    assert isinstance(hits, list) and len(hits) <= 5


def test_year_filter():
    index = SearchIndex.build(bundled_papers())
    hits = index.search("model", 13, year_from=2022, year_to=2023)
    assert hits and all(
        p in {"2312.11805", "2310.16764", "2302.10322", "2204.14198"} for p in (h.paper_id for h in hits)
    )


def test_fast_top_k_equals_exact_ranking_on_scifact():
    """The float32 first pass plus exact rescoring returns exactly the exact top k (ids, order, scores)."""
    from retrieval.lexical.bm25 import top_k

    papers = load_path(need(DATA / "scifact" / "corpus.jsonl"))
    queries = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    index = SearchIndex.build(papers)
    for query in queries[::7]:
        terms = index.query_terms(query)
        for k in (1, 10, 100):
            expected = top_k(index.scorer.scores(terms), k)
            got = index.scorer.top(terms, k)
            assert [row for row, _ in got] == [row for row, _ in expected], query
            np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=0, atol=1e-9)


def test_exact_scores_of_chosen_rows_equal_the_full_scores_bit_for_bit():
    """`exact_scores` (all terms at once) gives each row exactly what `scores` (every row, term by term) gives
    it: rows before, inside and past each term's documents, a repeated term, and the first and last terms."""
    index = SearchIndex.build(bundled_papers())
    scorer = index.scorer
    n_terms = scorer.postings.n_terms
    queries = [dict(index.analyzed(q).ids) for q in QUERIES]
    queries += [{0: 1, n_terms - 1: 2}, {t: 1 + t % 3 for t in range(0, n_terms, max(1, n_terms // 25))}]
    rows = np.arange(scorer.postings.n_docs)
    for terms in queries:
        if not terms:
            continue
        full = scorer.scores(terms)
        for chosen in (rows, rows[::2], rows[-1:], rows[:1]):
            got = scorer.exact_scores(list(terms.items()), chosen)
            assert np.array_equal(got, full[chosen]), terms
