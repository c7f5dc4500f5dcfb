"""Fit the second-stage weights of retrieval/lexical/rerank.py on SciFact train claims and print them.

    python training/train_reranker.py            # grouped 5-fold CV on train, then the weights

Pairwise logistic regression: for every train claim, each relevant paper in BM25's top
100 against each non-relevant one (claims weighted equally, L2 1e-2). Cross-validation
keeps claims that share a relevant paper in the same fold: SciFact writes several claims
(and their negations) from one citation, and splitting them apart lets a model
memorise papers instead of learning the signals. Only train claims are read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.loaders import load_path  # noqa: E402
from retrieval.lexical.index import SearchIndex  # noqa: E402
from retrieval.lexical.rerank import FEATURES, RerankOptions, rerank_features  # noqa: E402
from retrieval.quality.evaluate import load_qrels, load_queries, ndcg_at, recall_at  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DEPTH = 200
PAIR_DEPTH = 100


def claim_rows(index: SearchIndex, by_id: dict, queries: dict, qrels: dict) -> list[tuple]:
    """(claim id, BM25's top DEPTH paper ids, their features, their labels) per train claim."""
    options = RerankOptions(depth=DEPTH)
    rows = []
    for query_id, relevant in qrels.items():
        hits = index.search(queries[query_id], DEPTH)
        features = rerank_features(
            queries[query_id], hits, {h.paper_id: by_id[h.paper_id] for h in hits}, index, options
        )
        labels = np.array([float(h.paper_id in relevant) for h in hits])
        rows.append((query_id, [h.paper_id for h in hits], features, labels))
    return rows


def fit(rows: list, l2: float = 1e-2, steps: int = 2000) -> np.ndarray:
    diffs, weights = [], []
    for _, _, x, y in rows:
        x, y = x[:PAIR_DEPTH], y[:PAIR_DEPTH]
        pos, neg = x[y > 0], x[y == 0]
        if len(pos) and len(neg):
            d = (pos[:, None, :] - neg[None, :, :]).reshape(-1, x.shape[1])
            diffs.append(d)
            weights.append(np.full(len(d), 1 / len(d)))
    d, sample_weight = np.vstack(diffs), np.concatenate(weights)
    sample_weight /= sample_weight.sum()
    scale = d.std(0) + 1e-9
    z = d / scale
    w = np.zeros(z.shape[1])
    for _ in range(steps):  # gradient descent on the (convex) pairwise logistic loss
        margin = z @ w
        gradient = -(z * (sample_weight / (1 + np.exp(margin)))[:, None]).sum(0) + l2 * w
        w -= 1.0 * gradient
    return w / scale


def metrics(rows: list, qrels: dict, weights: np.ndarray | None) -> tuple[float, float]:
    """Mean nDCG@10 and Recall@100 of BM25's order (weights None) or the re-ranked one."""
    ndcg = recall = 0.0
    for query_id, ids, x, _ in rows:
        order = range(len(ids)) if weights is None else np.lexsort((np.arange(len(ids)), -(x @ weights)))
        ranked = [ids[i] for i in order]
        ndcg += ndcg_at(ranked, qrels[query_id])
        recall += recall_at(ranked, qrels[query_id])
    return ndcg / len(rows), recall / len(rows)


def claim_groups(qrels: dict) -> dict[str, str]:
    """Claims joined when they share a relevant paper (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for query_id, relevant in qrels.items():
        for doc in sorted(relevant):  # sets iterate in hash order; sorted keeps the folds reproducible
            parent[find("q" + query_id)] = find("d" + doc)
    return {query_id: find("q" + query_id) for query_id in qrels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    papers = load_path(DATA / "scifact" / "corpus.jsonl")
    by_id = {p.id: p for p in papers}
    index = SearchIndex.build(papers)
    qrels = load_qrels(DATA, "train")
    rows = claim_rows(index, by_id, load_queries(DATA), qrels)
    group_of = claim_groups(qrels)
    groups = sorted(set(group_of.values()))
    fold = {g: i % args.folds for i, g in enumerate(np.random.default_rng(0).permutation(groups))}
    base, cv = np.zeros(2), np.zeros(2)
    for f in range(args.folds):
        held = [r for r in rows if fold[group_of[r[0]]] == f]
        model = fit([r for r in rows if fold[group_of[r[0]]] != f])
        base += np.array(metrics(held, qrels, None)) * len(held)
        cv += np.array(metrics(held, qrels, model)) * len(held)
    base, cv = base / len(rows), cv / len(rows)
    print(f"# {len(rows)} train claims in {len(groups)} groups; {args.folds}-fold CV (claims sharing a paper together)")
    print(f"# BM25 alone:  nDCG@10 {base[0]:.4f}  Recall@100 {base[1]:.4f}")
    print(f"# re-ranked:   nDCG@10 {cv[0]:.4f}  Recall@100 {cv[1]:.4f}  (depth {DEPTH})")
    weights = fit(rows)
    print(f"# features: {', '.join(FEATURES)}")
    print("WEIGHTS =", np.round(weights / np.abs(weights).max(), 4).tolist())


if __name__ == "__main__":
    main()
