"""The quality measurements behind `paperbot eval`: retrieval, evidence sentences and TLDRs.

Each builds an in-memory index over the benchmark's own corpus, so nothing touches the
user's home. Figures and the commands that produce them are in the README.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel

from corpus.loaders import load_path
from corpus.models import Paper
from retrieval.answer import AnswerOptions, choose_sentences, score_sentences, select_mmr
from retrieval.evaluate import RetrievalScores, evaluate
from retrieval.index import SearchIndex
from retrieval.rerank import RerankOptions, search_papers
from retrieval.tldr import tldr_for


@lru_cache(maxsize=4)
def _corpus(path: str) -> tuple[list[Paper], SearchIndex]:
    papers = load_path(path)
    return papers, SearchIndex.build(papers)


class RetrievalReport(BaseModel):
    """Both stages on the same claims: BM25 alone, and BM25's top `depth` re-ranked (retrieval/rerank.py)."""

    split: str
    queries: int
    bm25: RetrievalScores
    reranked: RetrievalScores
    depth: int


def eval_retrieval(data_dir: Path, split: str = "test", depth: int = 200) -> RetrievalReport:
    papers, index = _corpus(str(data_dir / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    options = RerankOptions(depth=depth)

    def lookup(ids: list[str]) -> dict[str, Paper]:
        return {i: by_id[i] for i in ids}

    first = evaluate(lambda q: [h.paper_id for h in index.search(q, 100)], data_dir, split)
    second = evaluate(lambda q: [h.paper_id for h in search_papers(q, 100, index, lookup, options)[0]], data_dir, split)
    return RetrievalReport(split=split, queries=first.queries, bm25=first, reranked=second, depth=depth)


class PRF(BaseModel):
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, correct: int, predicted: int, gold: int) -> PRF:
        p = correct / predicted if predicted else 0.0
        r = correct / gold if gold else 0.0
        return cls(precision=round(p, 4), recall=round(r, 4), f1=round(2 * p * r / (p + r), 4) if p + r else 0.0)


class EvidenceScores(BaseModel):
    split: str
    claims: int
    given_gold_abstract: PRF
    end_to_end: PRF
    answered: int


def eval_evidence(data_dir: Path, split: str = "dev", options: AnswerOptions | None = None) -> EvidenceScores:
    """Sentence-level P/R/F1 (micro) of answer sentences against SciFact's rationale sentences."""
    options = options or AnswerOptions()
    papers, index = _corpus(str(data_dir / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    claims = [json.loads(line) for line in (data_dir / "scifact" / f"claims_{split}.jsonl").read_text().splitlines()]
    claims = [c for c in claims if c["evidence"]]
    gold_counts = [0, 0, 0]  # correct, predicted, gold   (a) given the gold abstract
    e2e_counts = [0, 0, 0]  # (b) end to end
    answered = 0
    for claim in claims:
        gold = {(doc, i) for doc, ev in claim["evidence"].items() for r in ev["rationales"] for i in r}
        # (a) sentences chosen from each gold abstract alone
        for doc in claim["evidence"]:
            paper = by_id[doc]
            picked = select_mmr(score_sentences(claim["claim"], [(paper, 1.0)], index, options), options)
            predicted = {(doc, c.position) for c in picked}
            doc_gold = {g for g in gold if g[0] == doc}
            gold_counts[0] += len(predicted & doc_gold)
            gold_counts[1] += len(predicted)
            gold_counts[2] += len(doc_gold)
        # (b) the full pipeline over the whole corpus
        hits = index.search(claim["claim"], options.papers)
        chosen = choose_sentences(claim["claim"], [(by_id[h.paper_id], h.score) for h in hits], index, options)
        predicted = set()
        if chosen is not None:
            answered += 1
            predicted = {(c.paper_id, c.position) for c in chosen}
        e2e_counts[0] += len(predicted & gold)
        e2e_counts[1] += len(predicted)
        e2e_counts[2] += len(gold)
    return EvidenceScores(
        split=split,
        claims=len(claims),
        given_gold_abstract=PRF.of(*gold_counts),
        end_to_end=PRF.of(*e2e_counts),
        answered=answered,
    )


class TldrScores(BaseModel):
    split: str
    papers: int
    rouge1: float
    rouge2: float
    rougeL: float


def eval_tldr(data_dir: Path, split: str = "test") -> TldrScores:
    """ROUGE F (stemmed) of our TLDR against the best-matching gold TLDR of each SciTLDR-A paper."""
    from rouge_score import rouge_scorer

    path = data_dir / "scitldr" / f"{split}.jsonl"
    papers, index = _corpus(str(path))
    records = {r["paper_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for paper in papers:
        summary = tldr_for(paper, index) or ""
        scores = [scorer.score(target, summary) for target in records[paper.id]["target"]]
        for key in totals:
            totals[key] += max(s[key].fmeasure for s in scores)
    n = len(papers)
    return TldrScores(split=split, papers=n, **{k: round(100 * v / n, 2) for k, v in totals.items()})
