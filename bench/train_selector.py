"""Fit the evidence model of retrieval/evidence.py on SciFact train claims and print its constants.

    python bench/train_selector.py

Plain logistic regression (gradient descent in numpy, L2 1e-3) over the features of
every sentence of every gold abstract; the label is "is a rationale sentence".
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.loaders import load_path  # noqa: E402
from retrieval.evidence import FEATURES, sentence_features  # noqa: E402
from retrieval.index import SearchIndex  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "scifact"


def main() -> None:
    papers = load_path(DATA / "corpus.jsonl")
    by_id = {p.id: p for p in papers}
    index = SearchIndex.build(papers)
    rows, labels = [], []
    for line in (DATA / "claims_train.jsonl").read_text().splitlines():
        claim = json.loads(line)
        terms = index.analyzer(claim["claim"])
        weight = {t: float(index.scorer.idf[index.vocab[t]]) if t in index.vocab else 0.0 for t in Counter(terms)}
        for doc, evidence in claim["evidence"].items():
            gold = {i for r in evidence["rationales"] for i in r}
            features, _ = sentence_features(terms, weight, by_id[doc].sentences, index.analyzer)
            rows.append(features)
            labels += [float(i in gold) for i in range(len(features))]
    x, y = np.vstack(rows), np.array(labels)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(3000):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) / len(y) + 1e-3 * w)
    print(f"# {len(y)} sentences, {int(y.sum())} rationale sentences; features: {', '.join(FEATURES)}")
    print("MEAN =", np.round(mean, 4).tolist())
    print("SCALE =", np.round(scale, 4).tolist())
    print("WEIGHTS =", np.round(w[:-1], 3).tolist())
    print("BIAS =", round(float(w[-1]), 3))


if __name__ == "__main__":
    main()
