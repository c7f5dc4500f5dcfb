"""`paperbot eval tldr`: ROUGE of our TLDRs against SciTLDR's gold ones."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from retrieval.answers.tldr import tldr_for
from retrieval.quality.benchmarks.corpora import _corpus


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
