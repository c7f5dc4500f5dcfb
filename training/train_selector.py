"""Fit the evidence model of retrieval/answers/evidence.py on SciFact train claims and write evidence_model.json.

    pip install '.[bench]'              # LightGBM is needed to train, never to answer
    python training/train_selector.py      # grouped 5-fold CV on train, then fits on all of train and writes the model

Gradient-boosted trees (LightGBM, binary objective) over the features of every sentence
of every gold abstract; the label is "is a rationale sentence". Cross-validation keeps
the claims citing one abstract in the same fold (SciFact writes several claims from one
citation), and reports the sentence F1 of the answer's selection rule for several
probability thresholds. Only train claims are read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.loaders import load_path  # noqa: E402
from retrieval.answers.evidence import FEATURES, MODEL_PATH, TreeEnsemble, sentence_features  # noqa: E402
from retrieval.lexical.index import SearchIndex  # noqa: E402
from training.provenance import made_by  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "scifact"
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 7,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 200
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4)
MAX_SENTENCES = 3


def abstracts() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(doc id, features, labels) for each (train claim, gold abstract)."""
    papers = load_path(DATA / "corpus.jsonl")
    by_id = {p.id: p for p in papers}
    index = SearchIndex.build(papers)
    out = []
    for line in (DATA / "claims_train.jsonl").read_text().splitlines():
        claim = json.loads(line)
        terms = index.analyzer(claim["claim"])
        weight = {t: float(index.scorer.idf[index.vocab[t]]) if t in index.vocab else 0.0 for t in Counter(terms)}
        for doc, evidence in claim["evidence"].items():
            gold = {i for r in evidence["rationales"] for i in r}
            sentences = by_id[doc].sentences
            features, _ = sentence_features(terms, weight, sentences, [index.analyzer(s) for s in sentences])
            out.append((doc, features, np.array([float(i in gold) for i in range(len(features))])))
    return out


def train(items: list) -> object:
    import lightgbm

    x = np.vstack([f for _, f, _ in items])
    y = np.concatenate([labels for _, _, labels in items])
    return lightgbm.train(PARAMS, lightgbm.Dataset(x, y), ROUNDS)


def selection_f1(items: list, probabilities: list[np.ndarray], threshold: float) -> float:
    """The answer's rule on one abstract: the best sentence, then up to two more with probability >= threshold."""
    correct = predicted = gold = 0
    for (_, _, labels), p in zip(items, probabilities, strict=True):
        order = np.argsort(-p, kind="stable")
        picked = [order[0]] + [i for i in order[1:MAX_SENTENCES] if p[i] >= threshold]
        correct += labels[picked].sum()
        predicted += len(picked)
        gold += labels.sum()
    precision, recall = correct / predicted, correct / gold
    return 2 * precision * recall / (precision + recall)


def flatten_tree(root: dict) -> dict:
    """One LightGBM tree (nested dict) as the arrays TreeEnsemble reads: children < 0 are leaves (~index)."""
    tree: dict[str, list] = {"feature": [], "threshold": [], "left": [], "right": [], "leaf": []}

    def walk(node: dict) -> int:
        if "leaf_value" in node:
            tree["leaf"].append(node["leaf_value"])
            return ~(len(tree["leaf"]) - 1)
        if node["decision_type"] != "<=":
            raise ValueError(f"unsupported split {node['decision_type']}")
        at = len(tree["feature"])
        tree["feature"].append(node["split_feature"])
        tree["threshold"].append(node["threshold"])
        tree["left"].append(0)
        tree["right"].append(0)
        tree["left"][at] = walk(node["left_child"])
        tree["right"][at] = walk(node["right_child"])
        return at

    walk(root)
    return tree


def to_json(booster) -> dict:
    trees = [flatten_tree(info["tree_structure"]) for info in booster.dump_model()["tree_info"]]
    return {"features": list(FEATURES), "params": PARAMS, "rounds": ROUNDS, "trees": trees}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    items = abstracts()
    docs = sorted({doc for doc, _, _ in items})
    fold = {d: i % args.folds for i, d in enumerate(np.random.default_rng(0).permutation(docs))}
    probabilities: list[np.ndarray] = [np.zeros(0)] * len(items)
    for f in range(args.folds):
        model = train([it for it in items if fold[it[0]] != f])
        for i, it in enumerate(items):
            if fold[it[0]] == f:
                probabilities[i] = model.predict(it[1])
    n_sentences = sum(len(labels) for _, _, labels in items)
    n_gold = int(sum(labels.sum() for _, _, labels in items))
    print(f"# {len(items)} (claim, abstract) pairs, {n_sentences} sentences, {n_gold} rationale sentences")
    print(f"# grouped {args.folds}-fold CV, sentence F1 of the selection rule by threshold:")
    for threshold in THRESHOLDS:
        print(f"#   {threshold:.2f}: {selection_f1(items, probabilities, threshold):.4f}")
    booster = train(items)
    model = to_json(booster)
    sample = np.vstack([f for _, f, _ in items[:20]])
    mine = 1 / (1 + np.exp(-TreeEnsemble.from_json(model).margin(sample)))
    theirs = booster.predict(sample)
    print(f"# numpy evaluator vs LightGBM on {len(sample)} sentences: max difference {np.abs(mine - theirs).max():.2e}")
    model["check"] = {"features": sample[:8].tolist(), "probability": theirs[:8].tolist()}
    model["made_by"] = made_by("train_selector.py", "SciFact train claims with their rationale sentences", sys.argv[1:])
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"# wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(model['trees'])} trees)")


if __name__ == "__main__":
    main()
