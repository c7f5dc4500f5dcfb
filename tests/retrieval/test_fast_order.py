"""`search` and `ask` order SciFact's 1,109 claims exactly as a straightforward computation does, with and without
the semantic stage: the fast paths (BM25 scored in one pass or through float32 impacts, the word pairs read from
the index's term sequences, BM25's top 1,000 as arrays, vectors gathered from the memory-mapped matrix, the
query's vector kept) change the speed, never the papers or their scores.

The reference: every paper's BM25 score by the plain per-term loop (`BM25Scorer.scores`, held to rank-bm25's
scores in test_bm25.py), the best by a full sort, the word pairs from the papers' analyzed text, and the fused
score written out from its definition. The stage runs on stand-in vectors (a fixed random unit vector per paper,
every seventh paper without one; the query's from its text), so no model is needed: the arithmetic is the same
whatever the vectors are.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from corpus.loaders import load_path
from corpus.store import Store
from retrieval.answers.retrieve import retrieve
from retrieval.answers.search import SearchRequest, run_search
from retrieval.lexical import proximity
from retrieval.lexical.index import SearchIndex, document_text
from retrieval.semantic.encoder import DIM
from retrieval.semantic.stage import WEIGHT, SemanticStage
from retrieval.semantic.vectors import VectorStore, content_hash
from tests.conftest import DATA, need


def unit_for(text: str) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(text.encode())).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class StandInEncoder:
    model_id = "stand-in"

    def encode(self, texts):
        return np.stack([unit_for("query: " + t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


@pytest.fixture(scope="module")
def scifact(tmp_path_factory):
    papers = load_path(need(DATA / "scifact" / "corpus.jsonl"))
    claims = [json.loads(line)["text"] for line in (DATA / "scifact" / "queries.jsonl").read_text().splitlines()]
    home = tmp_path_factory.mktemp("fast-order")
    store = Store(home / "papers.sqlite3")
    store.ingest(papers)
    index = SearchIndex.build(papers)
    vectors = VectorStore.for_model(home, StandInEncoder.model_id)
    encoded = [p for n, p in enumerate(papers) if n % 7]  # every seventh paper not encoded yet
    vectors.add(
        [p.id for p in encoded],
        [content_hash(p.title, p.abstract) for p in encoded],
        np.stack([unit_for(p.id) for p in encoded]),
    )
    stage = SemanticStage(StandInEncoder(), VectorStore.for_model(home, StandInEncoder.model_id))
    by_id = {p.id: p for p in papers}
    reference_vectors = {p.id: unit_for(p.id).astype(np.float16).astype(np.float32) for p in encoded}
    yield index, store, stage, claims, by_id, reference_vectors
    store.close()


def bm25_ranking(index: SearchIndex, claim: str, k: int) -> list[tuple[str, float]]:
    """Every paper scored, sorted by score then row: the k best with a score."""
    scores = index.scorer.scores(index.query_terms(claim))
    rows = np.lexsort((np.arange(len(scores)), -scores))  # a full sort: by score, then by row
    rows = rows[scores[rows] > 0][:k]
    return [(index.paper_ids[r], float(scores[r])) for r in rows.tolist()]


def pairs_order(index: SearchIndex, claim: str, ranked: list[tuple[str, float]], by_id) -> list[tuple[str, float]]:
    """The top 5 re-ordered by BM25 share + WEIGHT x the share of the claim's word pairs in the paper's text."""
    terms = index.analyzer(index.respell(claim))
    idf = {t: float(index.scorer.idf[index.vocab[t]]) if t in index.vocab else 0.0 for t in terms}
    pairs = {(a, b): min(idf[a], idf[b]) for a, b in zip(terms, terms[1:], strict=False) if a != b}
    total = sum(pairs.values())
    head = ranked[: proximity.DEPTH]
    if len(head) < 2 or not pairs or head[0][1] <= 0 or total <= 0:
        return ranked

    def share(paper_id: str) -> float:
        text = index.analyzer(document_text(by_id[paper_id]))
        present = set(zip(text, text[1:], strict=False))
        return sum(w for pair, w in pairs.items() if pair in present) / total

    keyed = [(-(score / head[0][1] + proximity.WEIGHT * share(pid)), n) for n, (pid, score) in enumerate(head)]
    return [head[n] for _, n in sorted(keyed)] + ranked[proximity.DEPTH :]


def fused_order(claim: str, candidates: list[tuple[str, float]], vectors: dict) -> list[tuple[str, float]]:
    """(1 - WEIGHT) x min-max BM25 + WEIGHT x cosine; a paper without a vector gets the cosine its BM25 share predicts."""
    query = unit_for("query: " + claim)
    matrix = np.zeros((len(candidates), DIM), np.float32)
    have = np.array([pid in vectors for pid, _ in candidates])
    for n, (pid, _) in enumerate(candidates):
        if pid in vectors:
            matrix[n] = vectors[pid]
    cosine = matrix @ query
    bm25 = np.array([score for _, score in candidates])
    share = (bm25 - bm25.min()) / ((bm25.max() - bm25.min()) or 1.0)
    if not have.all():
        if have.sum() >= 3 and share[have].std() > 0:
            slope, intercept = np.polyfit(share[have], cosine[have], 1)
            if slope < 0:
                slope, intercept = 0.0, cosine[have].mean()
        else:
            slope, intercept = 0.0, cosine[have].mean() if have.any() else 0.0
        cosine = np.where(have, cosine, slope * share + intercept)
    fused = (1 - WEIGHT) * share + WEIGHT * cosine if len(candidates) > 1 else np.ones(1)
    order = sorted(range(len(candidates)), key=lambda n: (-fused[n], n))
    return [(candidates[n][0], round(float(fused[n]), 6)) for n in order], cosine, have


def test_search_gives_the_reference_top_10_for_every_scifact_claim_with_and_without_the_stage(scifact):
    index, store, stage, claims, by_id, vectors = scifact
    for claim in claims:
        bm25 = bm25_ranking(index, claim, 1000)
        plain = pairs_order(index, claim, bm25[:10], by_id)
        got = run_search(index, store, SearchRequest(query=claim, k=10))
        assert [(h.paper_id, h.score) for h in got] == [(p, round(s, 6)) for p, s in plain], claim
        fused = fused_order(claim, bm25, vectors)[0][:10] if bm25 else []
        got = run_search(index, store, SearchRequest(query=claim, k=10), stage)
        assert [(h.paper_id, h.score) for h in got] == fused, claim


def test_ask_reads_the_reference_papers_for_every_scifact_claim_with_and_without_the_stage(scifact):
    index, store, stage, claims, by_id, vectors = scifact
    fused_answers = lexical_answers = 0
    for claim in claims:
        bm25 = bm25_ranking(index, claim, 1000)
        ranked, view = retrieve(claim, index, store.get_many, 5)
        assert [(p.id, s) for p, s in ranked] == pairs_order(index, claim, bm25[:5], by_id), claim
        ranked, view = retrieve(claim, index, store.get_many, 5, stage)
        if not bm25:
            assert ranked == [] and view is None
            continue
        fused, cosine, have = fused_order(claim, bm25, vectors)
        if all(pid in vectors for pid, _ in fused[:5] + bm25[:5]):  # in fused order: cosines beside
            assert [(p.id, round(s, 6)) for p, s in ranked] == fused[:5], claim
            assert view.cosine is not None and view.bm25_top == [s for _, s in bm25[:5]]
            positions = {pid: n for n, (pid, _) in enumerate(bm25)}
            for pid, _ in fused[:5]:
                assert view.cosine[pid] == float(cosine[positions[pid]])
            fused_answers += 1
        else:  # a paper that matters has no vector yet: BM25's order with the word pairs
            assert [(p.id, s) for p, s in ranked] == pairs_order(index, claim, bm25[:5], by_id), claim
            assert view.cosine is None
            lexical_answers += 1
    assert fused_answers > 100 and lexical_answers > 100  # both ways taken often
