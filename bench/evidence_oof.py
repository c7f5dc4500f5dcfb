"""End-to-end evidence (b) on SciFact train with out-of-fold evidence models, for the one-sentence rule's lead.

    python bench/evidence_oof.py --leads 0 0.05 0.1 0.15 0.2

Tuning `min_lead` on train with the shipped evidence model would flatter it (the model saw those abstracts), so
each claim's sentences are scored by a model fitted without its cited abstract (the folds of
training/train_selector.py). Rows for BM25's order and, when the [semantic] extra and SciFact's vectors are there
(`paperbot eval vectors`), for the semantic stage's fused order (which uses `min_lead_fused`).

`--ceiling` also prints what any rule that only chooses between the full answer and its single best sentence
could reach: the full answer exactly when the first paper is a gold one (an oracle), beside always-full and
always-one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import retrieval.answers.evidence as evidence  # noqa: E402
import training.train_selector as train_selector  # noqa: E402
from retrieval.answers.answer import decide  # noqa: E402
from retrieval.answers.retrieve import retrieve  # noqa: E402
from retrieval.answers.sentences import AnswerOptions  # noqa: E402
from retrieval.quality.benchmarks import PRF, _corpus, _eval_stage, rationale_counts  # noqa: E402
from retrieval.quality.evaluate import default_data_dir  # noqa: E402

Claim = dict  # a SciFact claim as its JSON line reads


def folds(items: list) -> dict[str, int]:
    """Each gold abstract's fold, as training/train_selector.py draws them."""
    docs = sorted({doc for doc, _, _ in items})
    return {d: i % 5 for i, d in enumerate(np.random.default_rng(0).permutation(docs))}


def fold_models(items: list, fold: dict[str, int]) -> list[evidence.TreeEnsemble]:
    """The five evidence models, each fitted without one fold's abstracts."""
    return [
        evidence.TreeEnsemble.from_json(
            train_selector.to_json(train_selector.train([i for i in items if fold[i[0]] != f]))
        )
        for f in range(5)
    ]


def claim_counts(claim: Claim, ranked, view, index, options: AnswerOptions, model) -> tuple[int, int, int]:
    """(correct, predicted, gold) rationale sentences of one claim's answer, its sentences scored by `model`."""
    evidence._model = lambda: model
    return rationale_counts(claim, decide(claim["claim"], ranked, index, options, view=view).chosen or [])


def end_to_end(
    claims: list[Claim],
    rankings: list,
    models: list,
    fold: dict[str, int],
    index,
    options: AnswerOptions,
    prepare: Callable[[Claim], None] | None = None,
) -> PRF:
    """Evidence (b) over the claims, each scored by the model of its cited abstract's fold (`prepare` runs first)."""
    counts = [0, 0, 0]
    for claim, (ranked, view) in zip(claims, rankings, strict=True):
        if prepare is not None:
            prepare(claim)
        model = models[fold[next(iter(claim["evidence"]))]]
        for i, n in enumerate(claim_counts(claim, ranked, view, index, options, model)):
            counts[i] += n
    return PRF.of(*counts)


def orders(claims: list[Claim], index, by_id: dict, stage, status: str) -> Iterator[tuple[str, list]]:
    """("bm25" | "fused", each claim's top 5 and view in that order); the fused order only when the stage is there."""
    for name, chosen_stage in (("bm25", None), ("fused", stage)):
        if name == "fused" and stage is None:
            print(f"fused: not measured ({status})")
            continue
        yield (
            name,
            [retrieve(c["claim"], index, lambda ids: {i: by_id[i] for i in ids}, 5, chosen_stage) for c in claims],
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.15, 0.2])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--ceiling", action="store_true", help="also the oracle of full-or-one-sentence rules")
    args = parser.parse_args()
    items = train_selector.abstracts()
    fold = folds(items)
    models = fold_models(items, fold)
    papers, index = _corpus(str(args.data / "scifact" / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    stage, status = _eval_stage(papers)
    claims = [json.loads(line) for line in (args.data / "scifact" / "claims_train.jsonl").read_text().splitlines()]
    claims = [c for c in claims if c["evidence"]]
    shipped = evidence._model
    try:
        for name, rankings in orders(claims, index, by_id, stage, status):
            for lead in args.leads:
                options = AnswerOptions(min_lead=lead, min_lead_fused=lead)
                scores = end_to_end(claims, rankings, models, fold, index, options)
                print(f"{name} lead {lead}: F1 {scores.f1} (P {scores.precision}, R {scores.recall})", flush=True)
            if args.ceiling:
                ceiling(claims, rankings, models, fold, index)
    finally:
        evidence._model = shipped
    return 0


def ceiling(claims: list[Claim], rankings: list, models: list, fold: dict[str, int], index) -> None:
    """Always the full answer, always its best sentence alone, and the oracle choosing between them per claim."""
    full_options, one_options = AnswerOptions(min_lead=0.0, min_lead_fused=0.0), AnswerOptions(max_sentences=1)
    totals = {"always full": [0, 0, 0], "always one": [0, 0, 0], "oracle": [0, 0, 0]}
    first_right = 0
    for claim, (ranked, view) in zip(claims, rankings, strict=True):
        model = models[fold[next(iter(claim["evidence"]))]]
        counts = {
            name: claim_counts(claim, ranked, view, index, options, model)
            for name, options in (("always full", full_options), ("always one", one_options))
        }
        right = bool(ranked) and ranked[0][0].id in claim["evidence"]
        first_right += right
        counts["oracle"] = counts["always full" if right else "always one"]
        for name, row in counts.items():
            totals[name] = [a + b for a, b in zip(totals[name], row, strict=True)]
    print(f"  the first paper is a gold abstract for {first_right} of {len(claims)} claims", flush=True)
    for name, row in totals.items():
        scores = PRF.of(*row)
        print(f"  {name}: F1 {scores.f1} (P {scores.precision}, R {scores.recall})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
