"""Retrieval quality on SciFact (BEIR's scifact task): nDCG@10 and Recall@100.

Relevance judgements are binary, so nDCG uses gain 1 for a relevant paper, as in
BEIR's pytrec_eval setup. Tune on `train`; report `test` (the 300 dev claims).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel


class RetrievalScores(BaseModel):
    split: str
    queries: int
    ndcg_at_10: float
    recall_at_100: float


def data_dir_candidates(cwd: Path | None = None, project: Path | None = None) -> list[Path]:
    """Where the benchmark data may be, in order: beside this checkout, then beside or under the working folder.

    From a checkout, `retrieval/` sits in the project folder and the data in ../shared/data.
    From an installed package `retrieval/` sits in site-packages, where a parent's shared/data
    means nothing (the bug was `…/lib/python3.11/shared/data`), so that candidate only counts
    when the folder above `retrieval/` is a checkout (has pyproject.toml).
    """
    cwd = cwd or Path.cwd()
    project = project or Path(__file__).resolve().parents[2]
    candidates = [project.parent / "shared" / "data"] if (project / "pyproject.toml").is_file() else []
    candidates += [cwd.parent / "shared" / "data", cwd / "shared" / "data", cwd / "data"]
    return list(dict.fromkeys(candidates))


def find_data_dir(cwd: Path | None = None, project: Path | None = None) -> Path | None:
    """The first candidate that holds the benchmarks (a scifact/ folder), or None."""
    return next((path for path in data_dir_candidates(cwd, project) if (path / "scifact").is_dir()), None)


def default_data_dir() -> Path:
    """../shared/data beside the project checkout, where tests and benchmarks read it (or the first found)."""
    return find_data_dir() or Path(__file__).resolve().parents[3] / "shared" / "data"


def load_qrels(data_dir: Path, split: str) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = defaultdict(set)
    lines = (data_dir / "scifact" / "qrels" / f"{split}.tsv").read_text().splitlines()
    for line in lines[1:]:
        query_id, doc_id, score = line.split("\t")
        if int(score) > 0:
            qrels[query_id].add(doc_id)
    return dict(qrels)


def load_queries(data_dir: Path) -> dict[str, str]:
    path = data_dir / "scifact" / "queries.jsonl"
    return {r["query_id"]: r["text"] for r in map(json.loads, path.read_text().splitlines())}


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], relevant: set[str], k: int = 100) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def evaluate(rank: Callable[[str], list[str]], data_dir: Path, split: str) -> RetrievalScores:
    """Run `rank(query) -> paper ids best first` over a split's judged queries."""
    qrels = load_qrels(data_dir, split)
    queries = load_queries(data_dir)
    ndcg = recall = 0.0
    for query_id, relevant in qrels.items():
        ranked = rank(queries[query_id])
        ndcg += ndcg_at(ranked, relevant)
        recall += recall_at(ranked, relevant)
    n = len(qrels)
    return RetrievalScores(split=split, queries=n, ndcg_at_10=round(ndcg / n, 4), recall_at_100=round(recall / n, 4))
