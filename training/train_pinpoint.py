"""Fit the pinpoint model (retrieval/answers/pinpoint.py): which sentence gives what a question asks, and whether any does.

Data: ../shared/data/natural_questions over SciTLDR. For each answerable question, the sentences of its
paper (`expect[0]`), labelled 1 where they hold the verbatim `fragment` (both sentences when it spans two);
the same abstract with those sentences removed, all 0 (the abstract no longer states the fact: a
missing-detail case made from a real one); for each `missing-detail` question, its `near` paper, all 0.
Questions the model cannot read a form from (keyword queries) are left out: the answer path does not use
the model for them.

Folds are the set's own (`fold`, by paper). For each fold a model is fitted without it, and its bar
(`second`: further sentences quoted at or above it) is chosen on the other folds' out-of-fold predictions
(nested), so `paperbot eval natural` reports every figure out of fold. The shipped model is fitted on all
folds, its bar chosen on the out-of-fold predictions of all. The script also prints how a bar on the best
sentence's probability would separate answerable from missing-detail papers (`threshold`, not used by the
product: out of fold it caught no more missing details than the rules in pinpoint.states_asked).

    python training/train_pinpoint.py            # writes retrieval/answers/pinpoint_model.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.answers import pinpoint  # noqa: E402
from retrieval.answers.evidence import evidence_probability, sentence_features  # noqa: E402
from retrieval.answers.question import question_form  # noqa: E402
from retrieval.quality.benchmarks import AnswerabilityCorpora  # noqa: E402
from retrieval.quality.evaluate import default_data_dir  # noqa: E402
from retrieval.quality.natural import fold_text, natural_questions  # noqa: E402
from training.provenance import made_by  # noqa: E402
from training.train_selector import flatten_tree  # noqa: E402

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": 7,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 150
# a third reply given to an answerable question costs more than a missed one caught: the bar is the highest
# that leaves at most this share of answerable papers (out of fold) under it
REFUSE_BUDGET = 0.02
EXTRA_SENTENCE_COST = (
    0.01  # holds-fact gain a further quoted sentence must buy (answers stay within 3 sentences, 600 characters)
)


class Group:
    """One question against one abstract: feature rows, labels, and what kind of case it is."""

    def __init__(self, q: dict, kind: str, x: np.ndarray, y: np.ndarray):
        self.q, self.kind, self.x, self.y = q, kind, x, y
        self.fold = q["fold"]


def rows_for(q: dict, sentences: list[str], title: str, index) -> np.ndarray:
    """pinpoint.features for one question over one abstract, computed as the answer path computes them."""
    analyzer = index.analyzer
    question_terms = analyzer(q["question"])
    weights = {t: float(index.scorer.idf[index.vocab[t]]) if t in index.vocab else 0.0 for t in Counter(question_terms)}
    sentence_terms = [analyzer(s) for s in sentences]
    ev_rows, _ = sentence_features(question_terms, weights, sentences, sentence_terms)
    form = question_form(q["question"])
    return pinpoint.features(
        q["question"],
        form,
        weights,
        pinpoint.asked_terms(q["question"], form, analyzer),
        sentences,
        sentence_terms,
        set(analyzer(title)),
        ev_rows,
        evidence_probability(ev_rows),
    )


def labels(fragment: str, sentences: list[str]) -> np.ndarray:
    f = fold_text(fragment)
    y = np.array([f in fold_text(s) for s in sentences], float)
    if not y.any():  # the fragment spans sentences: label the run that holds it
        for i in range(len(sentences)):
            for j in range(i + 1, min(i + 4, len(sentences))):
                if f in fold_text(" ".join(sentences[i : j + 1])):
                    y[i : j + 1] = 1
                    return y
    return y


def groups(data: Path) -> list[Group]:
    corpora = AnswerabilityCorpora(data)
    by_id, index = corpora.corpus("scitldr")
    out = []
    for q in natural_questions(data):
        if question_form(q["question"]) is None:
            continue
        if q["kind"] == "answerable":
            paper = by_id[q["expect"][0]]
            y = labels(q["fragment"], paper.sentences)
            if not y.any():
                continue
            out.append(Group(q, "answerable", rows_for(q, paper.sentences, paper.title, index), y))
            rest = [s for s, label in zip(paper.sentences, y, strict=True) if not label]
            if rest:
                out.append(Group(q, "removed", rows_for(q, rest, paper.title, index), np.zeros(len(rest))))
        elif q["kind"] == "missing-detail":
            paper = by_id[q["near"]]
            out.append(
                Group(q, "missing", rows_for(q, paper.sentences, paper.title, index), np.zeros(len(paper.sentences)))
            )
    return out


def fit(gs: list[Group]):
    import lightgbm

    x = np.vstack([g.x for g in gs])
    y = np.concatenate([g.y for g in gs])
    w = np.concatenate([np.full(len(g.y), 0.5 if g.kind == "removed" else 1.0) for g in gs])
    return lightgbm.train(PARAMS, lightgbm.Dataset(x, y, weight=w), ROUNDS)


def to_json(booster) -> dict:
    return {"trees": [flatten_tree(info["tree_structure"]) for info in booster.dump_model()["tree_info"]]}


def bars(gs: list[Group], p: list[np.ndarray]) -> tuple[float, float]:
    """(threshold, second) chosen on out-of-fold probabilities `p` (one array per group)."""
    answerable = sorted(float(pi.max()) for g, pi in zip(gs, p, strict=True) if g.kind == "answerable")
    threshold = answerable[int(REFUSE_BUDGET * len(answerable))] if answerable else 0.5
    threshold = max(threshold - 1e-9, 0.0)
    best, second = -1.0, 1.0
    for bar in np.arange(0.0, 1.0, 0.025):
        held = extra = 0
        for g, pi in zip(gs, p, strict=True):
            if g.kind != "answerable":
                continue
            order = np.argsort(-pi, kind="stable")
            picked = [order[0]] + [i for i in order[1:3] if pi[i] >= bar]
            held += bool(g.y[picked].sum() == g.y.sum()) or bool(g.y[order[0]])  # the fragment quoted
            extra += len(picked) - 1
        gain = held - EXTRA_SENTENCE_COST * extra
        if gain > best:
            best, second = gain, float(bar)
    return round(float(threshold), 6), round(second, 6)


def out_of_fold(gs: list[Group], folds: list[int]) -> list[np.ndarray]:
    p: list[np.ndarray] = [np.zeros(0)] * len(gs)
    for k in folds:
        model = fit([g for g in gs if g.fold != k and g.fold in folds])
        for i, g in enumerate(gs):
            if g.fold == k:
                p[i] = model.predict(g.x)
    return p


def report(gs: list[Group], p: list[np.ndarray], threshold: float, label: str) -> None:
    def caught(kind: str) -> str:
        sel = [pi for g, pi in zip(gs, p, strict=True) if g.kind == kind]
        return f"{sum(float(pi.max()) < threshold for pi in sel)}/{len(sel)}"

    ans = [(g, pi) for g, pi in zip(gs, p, strict=True) if g.kind == "answerable"]
    top1 = sum(bool(g.y[int(np.argmax(pi))]) for g, pi in ans)
    print(
        f"{label}: answer sentence ranked first {top1}/{len(ans)}; under the bar: answerable {caught('answerable')},"
        f" missing-detail {caught('missing')}, answer removed {caught('removed')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=pinpoint.MODEL_PATH)
    args = parser.parse_args()
    gs = groups(args.data)
    print(f"{len(gs)} (question, abstract) groups, {sum(len(g.y) for g in gs)} sentences")
    folds = sorted({g.fold for g in gs})
    oof = out_of_fold(gs, folds)
    fold_models = []
    for k in folds:
        inner = [f for f in folds if f != k]
        inner_gs = [g for g in gs if g.fold != k]
        inner_p = out_of_fold(inner_gs, inner)
        threshold, second = bars(inner_gs, inner_p)
        booster = fit(inner_gs)
        fold_models.append({**to_json(booster), "threshold": threshold, "second": second})
        print(f"fold {k}: threshold {threshold:.3f}, second {second:.3f}")
    nested = [fold_models[folds.index(g.fold)]["threshold"] for g in gs]  # each group judged by its own fold's bar
    ans = [(g, pi, t) for g, pi, t in zip(gs, oof, nested, strict=True)]
    for kind in ("answerable", "missing", "removed"):
        sel = [(pi, t) for g, pi, t in ans if g.kind == kind]
        print(
            f"out of fold, own fold's bar: {kind} under the bar {sum(float(pi.max()) < t for pi, t in sel)}/{len(sel)}"
        )
    threshold, second = bars(gs, oof)
    report(gs, oof, threshold, "out of fold, pooled bar")
    booster = fit(gs)
    model = {
        "features": list(pinpoint.FEATURES),
        "params": PARAMS,
        "rounds": ROUNDS,
        **to_json(booster),
        "threshold": threshold,
        "second": second,
        "folds": {str(k): m for k, m in zip(folds, fold_models, strict=True)},
    }
    sample = gs[0].x[:8]
    model["check"] = {"features": sample.tolist(), "probability": booster.predict(sample).tolist()}
    model["made_by"] = made_by(
        "train_pinpoint.py",
        "natural_questions (answerable, missing-detail; answering sentences removed) over SciTLDR",
        sys.argv[1:],
    )
    mine = pinpoint.PinpointModel(model).probability(sample)
    print(f"numpy trees vs LightGBM: max difference {np.abs(mine - booster.predict(sample)).max():.1e}")
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} (threshold {threshold:.3f}, second {second:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
