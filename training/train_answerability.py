"""Fit the answer-or-abstain model (retrieval/answers/answerability.py) on training splits only.

    python training/train_answerability.py            # grouped CV report, then writes retrieval/answerability_model.json
    python training/train_answerability.py --cv-only  # report only
    python training/train_answerability.py --semantic # the model for the semantic stage's fused order
                                                   # (retrieval/answerability_semantic_model.json; needs
                                                   # the eval vectors: paperbot eval vectors)

Examples, each a (question, corpus) pair:
- answer:  SciFact train claims that have evidence, against SciFact's corpus;
           SciTLDR train and dev TLDRs ("I remember a paper that …"), against the SciTLDR corpus (all 3,229 papers).
- abstain: NQ-open questions (the `tune` half; the other half is held out) against the bundled 13 papers,
           SciTLDR and SciFact; SciFact train claims against SciTLDR; SciTLDR train/dev TLDRs against SciFact.
- answer:  the natural questions' answerable questions (../shared/data/natural_questions, written the way
           researchers type them) against SciTLDR; abstain: their `post2020` and `adjacent` questions. Their
           `missing-detail` questions are left out (the paper is there: the third reply, pinpoint.states_asked,
           decides them) and so are `aggregate` ones (answer.about_collection decides them before any model).
           They keep the set's own folds (by paper), the TLDRs of the same papers with them, and the file keeps
           each fold's trees so `paperbot eval natural` is out of fold.
Keyword queries made from titles ("multimodal models") were tried as extra positives: they cost 4 points
of TLDRs answered at the same NQ level, so they are not used; such queries get the closest papers instead.
Folds keep together what belongs together: an NQ question on every corpus; SciFact claims that share a
cited paper (and the same claims as negatives elsewhere); a paper's TLDRs.

Never read here: SciFact dev claims, SciTLDR test TLDRs, the held-out half of NQ-open — `paperbot eval
answerability` reports on those.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval.answers.answerability import (
    FEATURES,
    MODEL_PATH,
    SEMANTIC_FEATURES,
    SEMANTIC_MODEL_PATH,
    AnswerabilityModel,
)
from retrieval.quality.benchmarks import AnswerabilityCorpora, nq_questions, scifact_claims, scitldr_questions
from retrieval.quality.evaluate import default_data_dir  # noqa: E402
from retrieval.quality.natural import natural_questions  # noqa: E402
from training.provenance import made_by  # noqa: E402
from training.train_selector import to_json  # noqa: E402

PARAMS = {
    "objective": "binary",
    "num_leaves": 15,
    "learning_rate": 0.05,
    "min_data_in_leaf": 20,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "seed": 1,
    "deterministic": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 300

# The targets for questions the corpus cannot answer: NQ-open questions (per corpus) and the other
# corpus's claims or TLDRs. The bar is the lowest at which every such block's out-of-fold answered rate is,
# with 95% confidence (Wilson's upper bound), under its target: about 1.4% of 1,800 NQ questions on SciFact.
# (Until session 5 the rule was a flat 1% out of fold; held-out NQ then measured 1.23% on SciFact, so the
# flat rule refused ~1% of answerable TLDRs for margin the target did not need.)
TARGET_NQ_ANSWERED = 0.02
TARGET_CROSS_ANSWERED = 0.05
CONFIDENCE_Z = 1.645  # one-sided 95%
NATURAL_BLOCKS = ("natural questions / scitldr", "natural unanswerable / scitldr")


def collect(data_dir: Path, semantic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    corpora = AnswerabilityCorpora(data_dir, semantic)
    if semantic:
        if corpora.stage is None:
            raise SystemExit(f"semantic stage unavailable: {corpora.status}")
        corpora.encode(
            [c["claim"] for c in scifact_claims(data_dir, "train")]
            + [t for split in ("train", "dev") for _, t in scitldr_questions(data_dir, split)]
            + [q for _, q in nq_questions(data_dir, "tune")]
            + [q["question"] for q in natural_questions(data_dir)]
        )
    rows, labels, groups, blocks = [], [], [], []

    def add(question: str, corpus: str, label: int, group: str, block: str) -> None:
        row = corpora.features(corpus, question)
        if row is None:  # nothing informative or nothing found: abstains before any model
            return
        rows.append(row)
        labels.append(label)
        groups.append(group)
        blocks.append(block)

    claims = scifact_claims(data_dir, "train")
    for claim in claims:
        if claim["evidence"]:
            add(claim["claim"], "scifact", 1, claim["group"], "scifact claims / scifact")
        add(claim["claim"], "scitldr", 0, claim["group"], "scifact claims / scitldr")
    for split in ("train", "dev"):
        for paper_id, tldr in scitldr_questions(data_dir, split):
            add(tldr, "scitldr", 1, f"tldr:{paper_id}", "scitldr tldrs / scitldr")
            add(tldr, "scifact", 0, f"tldr:{paper_id}", "scitldr tldrs / scifact")
    # "what is FearNet?": a paper named in its title ("FearNet: Brain-Inspired Model …") asked about by name
    # (positives only: names like "Attention" or "Learning" are common words that another corpus does use)
    tl_by_id, _ = corpora.corpus("scitldr")
    for split in ("train", "dev"):
        for paper_id in sorted({pid for pid, _ in scitldr_questions(data_dir, split)}):
            name = tl_by_id[paper_id].title.split(":")[0].strip()
            if ":" in tl_by_id[paper_id].title and 1 <= len(name.split()) <= 2:
                add(f"what is {name}?", "scitldr", 1, f"tldr:{paper_id}", "named papers / scitldr")
    for i, question in nq_questions(data_dir, "tune"):
        for corpus in ("bundled", "scitldr", "scifact"):
            add(question, corpus, 0, f"nq:{i}", f"nq / {corpus}")
    _, scitldr_index = corpora.corpus("scitldr")
    for q in natural_questions(data_dir):
        paper = (q["expect"] or [q["near"] or q["id"]])[0]
        if q["kind"] == "answerable":
            add(scitldr_index.respell(q["question"]), "scitldr", 1, f"fold{q['fold']}:{paper}", NATURAL_BLOCKS[0])
        elif q["kind"] in ("post2020", "adjacent"):
            add(scitldr_index.respell(q["question"]), "scitldr", 0, f"fold{q['fold']}:{q['id']}", NATURAL_BLOCKS[1])
    # a paper's TLDRs go in the fold its natural questions are in (the set's folds are by paper)
    natural_fold = {p: q["fold"] for q in natural_questions(data_dir) for p in q["expect"] + [q["near"]] if p}
    groups = [
        f"fold{natural_fold[g[5:]]}:{g}" if g.startswith("tldr:") and g[5:] in natural_fold else g for g in groups
    ]
    return np.array(rows), np.array(labels), np.array(groups), blocks


def fit_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    import lightgbm

    return lightgbm.train(PARAMS, lightgbm.Dataset(x, y, weight=w), ROUNDS)


def balance(y: np.ndarray, blocks: list[str]) -> np.ndarray:
    """Each block of examples weighs the same in total within its class, and the two classes weigh the same."""
    names = np.array(blocks)
    w = np.zeros(len(y))
    for label in (0, 1):
        chosen = set(names[y == label])
        for block in chosen:
            mask = names == block
            w[mask] = 1.0 / mask.sum() / len(chosen)
    return w * len(y) / w.sum()


def folds(groups: np.ndarray, k: int = 5) -> np.ndarray:
    """A fold per group: the natural questions' own ("fold3:…"), else a stable hash of the group's name (not
    Python's randomised hash)."""
    import zlib

    return np.array([int(g[4]) if g.startswith("fold") else zlib.crc32(g.encode()) % k for g in groups])


def wilson_upper(k: int, n: int, z: float = CONFIDENCE_Z) -> float:
    """Upper confidence bound of a rate seen as k out of n (Wilson score interval)."""
    p = k / n
    d = 1 + z * z / n
    return (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / d


def threshold_for(p: np.ndarray, y: np.ndarray, blocks: list[str]) -> float:
    """The lowest bar at which every abstain block answers under its target with 95% confidence
    (NQ blocks: TARGET_NQ_ANSWERED; the other corpus's questions: TARGET_CROSS_ANSWERED)."""
    names = np.array(blocks)
    bar = 0.5
    for block in sorted(set(names[y == 0])):
        if block in NATURAL_BLOCKS:  # 40 questions: training signal, too few for a 95% bound at these targets
            continue
        target = TARGET_NQ_ANSWERED if block.startswith("nq") else TARGET_CROSS_ANSWERED
        negatives = np.sort(p[names == block])[::-1]
        n = len(negatives)
        allowed = 0
        while allowed < n and wilson_upper(allowed + 1, n) <= target:
            allowed += 1
        bar = max(bar, float(negatives[allowed]) + 1e-9 if allowed < n else 0.0)
    return bar


def report(p: np.ndarray, y: np.ndarray, blocks: list[str], bar: float, title: str) -> None:
    names = np.array(blocks)
    print(f"{title} (bar {bar:.3f}):")
    for block in sorted(set(names)):
        mask = names == block
        print(f"  {block:<28} n={mask.sum():>5}  answered {np.mean(p[mask] >= bar):.3f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--cv-only", action="store_true")
    parser.add_argument(
        "--cache", type=Path, help="feature rows kept between runs (default: /tmp/answerability_rows*.npz)"
    )
    parser.add_argument("--semantic", action="store_true", help="fit the semantic stage's model")
    args = parser.parse_args()
    feature_names = FEATURES + SEMANTIC_FEATURES if args.semantic else FEATURES
    target = SEMANTIC_MODEL_PATH if args.semantic else MODEL_PATH
    args.cache = args.cache or Path(f"/tmp/answerability_rows{'_semantic' if args.semantic else ''}.npz")

    started = time.perf_counter()
    if args.cache.exists():
        saved = np.load(args.cache, allow_pickle=False)
        x, y, groups, blocks = saved["x"], saved["y"], saved["groups"], list(saved["blocks"])
    else:
        x, y, groups, blocks = collect(args.data, args.semantic)
        np.savez(args.cache, x=x, y=y, groups=groups, blocks=np.array(blocks))
    print(
        f"{len(y)} examples ({int(y.sum())} answer, {int((1 - y).sum())} abstain) in {time.perf_counter() - started:.0f} s"
    )

    w = balance(y, blocks)
    fold = folds(groups)
    out_of_fold = np.zeros(len(y))
    fold_models = {}
    for k in range(5):
        train = fold != k
        booster_k = fit_trees(x[train], y[train], w[train])
        out_of_fold[~train] = booster_k.predict(x[~train])
        fold_models[str(k)] = {"trees": to_json(booster_k)["trees"]}
    bar = threshold_for(out_of_fold, y, blocks)
    report(out_of_fold, y, blocks, bar, "grouped 5-fold CV, out of fold")
    if args.cv_only:
        return 0

    booster = fit_trees(x, y, w)
    names = np.array(blocks)
    # "closest papers" bar: offered for at most 5% of NQ questions on the SciTLDR corpus (out of fold)
    nq = np.sort(out_of_fold[names == "nq / scitldr"])[::-1]
    related = max(float(nq[int(0.05 * len(nq))]), 0.05)
    model = to_json(booster)
    model.update(
        features=list(feature_names),
        params=PARAMS,
        rounds=ROUNDS,
        threshold=round(bar, 6),
        related_threshold=round(min(related, bar), 6),
        folds=fold_models,  # each fitted without one fold: `paperbot eval natural` answers that fold with it
        trained_on="SciFact train claims, SciTLDR train+dev TLDRs, NQ-open dev tune half, natural_questions"
        " (training/train_answerability.py"
        + (" --semantic: BM25's top 1,000 in fused order)" if args.semantic else ")"),
    )
    mine = np.array([AnswerabilityModel(model, feature_names).probability(row) for row in x[:50]])
    print(f"numpy trees vs LightGBM on 50 rows: max difference {np.abs(mine - booster.predict(x[:50])).max():.1e}")
    model["check"] = {"features": x[:8].tolist(), "probability": booster.predict(x[:8]).tolist()}
    model["made_by"] = made_by("train_answerability.py", model["trained_on"], sys.argv[1:])
    target.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    report(booster.predict(x), y, blocks, bar, "in sample, final model")
    print(f"wrote {target} (threshold {bar:.3f}, related {model['related_threshold']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
