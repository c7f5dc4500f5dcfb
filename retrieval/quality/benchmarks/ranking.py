"""`paperbot eval retrieval`: nDCG@10 and Recall@100 of each ranking stage on SciFact's claims.

BM25 alone, BM25 with word pairs, BM25 re-ranked, and BM25 fused with the semantic stage, on the same claims.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from corpus.models import Paper
from retrieval.lexical import proximity
from retrieval.lexical.rerank import RerankOptions, search_papers
from retrieval.quality.benchmarks.corpora import _corpus, _eval_stage
from retrieval.quality.evaluate import RetrievalScores, evaluate


class RetrievalReport(BaseModel):
    """The stages on the same claims: BM25 alone, BM25's top `depth` re-ranked (retrieval/lexical/rerank.py), and
    BM25's top 1,000 fused with the embedding model (retrieval/semantic/stage.py; None when no model is installed)."""

    split: str
    queries: int
    bm25: RetrievalScores
    paired: RetrievalScores | None = None  # BM25 with its top few in word-pair order, as `ask` and `search` rank
    reranked: RetrievalScores
    depth: int
    fused: RetrievalScores | None = None
    semantic: str = ""


def eval_retrieval(data_dir: Path, split: str = "test", depth: int = 200, semantic: bool = True) -> RetrievalReport:
    papers, index = _corpus(str(data_dir / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    options = RerankOptions(depth=depth)

    def lookup(ids: list[str]) -> dict[str, Paper]:
        return {i: by_id[i] for i in ids}

    first = evaluate(lambda q: [h.paper_id for h in index.search(q, 100)], data_dir, split)

    def paired(q: str) -> list[str]:
        hits = index.search(q, 100)
        return [
            h.paper_id
            for h in proximity.by_pairs(q, hits, lookup([h.paper_id for h in hits[: proximity.DEPTH]]), index)
        ]

    second = evaluate(lambda q: [h.paper_id for h in search_papers(q, 100, index, lookup, options)[0]], data_dir, split)
    report = RetrievalReport(
        split=split,
        queries=first.queries,
        bm25=first,
        paired=evaluate(paired, data_dir, split),
        reranked=second,
        depth=depth,
    )
    if semantic:
        stage, report.semantic = _eval_stage(papers)
        if stage is not None:
            report.fused = evaluate(
                lambda q: [h.paper_id for h in stage.rerank(q, index.search(q, stage.depth))][:100],
                data_dir,
                split,
            )
    return report
