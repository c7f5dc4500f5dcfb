"""Issue #11, evidence (b): does the embedding model help choose evidence sentences? Out of fold on SciFact train.

    python bench/evidence_semantic.py

Two ways of reading a sentence with the semantic stage's model (all-MiniLM-L6-v2, int8 ONNX, the [semantic]
extra), each given to the evidence trees beside their 22 lexical features and fitted with the folds of
training/train_selector.py (claims citing one abstract stay in one fold):

- `cosine`: the sentence's own vector against the question's — its cosine, its gap to the abstract's best, its
  rank in the abstract, its gap to the abstract's mean. Measured (a) given the gold abstract and (b) end to end,
  in BM25's order and in the fused order, as bench/evidence_oof.py measures them.
- `pair probe`: the model reads the question and the sentence together, as a cross-encoder reads a pair (token
  types 0 and 1), and a logistic probe on its hidden states (the [CLS] state, the mean over all tokens, the mean
  over the sentence's) is fitted out of fold; its probability, gap to the abstract's best and rank join the
  trees. Measured (a) only: it runs the transformer once per sentence, which the answer's time budget cannot
  pay (the encoding speed is printed).

Only train claims are read. Needs the [semantic] and [bench] extras and SciFact's vectors for the fused order
(`paperbot eval vectors`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from evidence_oof import end_to_end, fold_models, folds, orders  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

import retrieval.answers.evidence as evidence  # noqa: E402
import retrieval.answers.sentences as answer  # noqa: E402
import training.train_selector as train_selector  # noqa: E402
from retrieval.answers.sentences import AnswerOptions  # noqa: E402
from retrieval.quality.benchmarks import _corpus, _eval_stage  # noqa: E402
from retrieval.semantic.encoder import Encoder, load_encoder  # noqa: E402

Item = tuple[str, np.ndarray, np.ndarray]  # (gold abstract id, features per sentence, labels), as train_selector


def within_abstract(score: np.ndarray) -> np.ndarray:
    """A per-sentence score as the trees read it: itself, its gap to the abstract's best, its inverse rank."""
    rank = np.empty(len(score))
    rank[np.argsort(-score, kind="stable")] = np.arange(len(score))
    return np.column_stack([score, score - score.max(), 1 / (rank + 1)])


def cosine_features(question: np.ndarray, sentences: np.ndarray) -> np.ndarray:
    cosine = sentences @ question
    return np.hstack([within_abstract(cosine), (cosine - cosine.mean())[:, None]])


def out_of_fold(items: list[Item], fold: dict[str, int]) -> tuple[list[np.ndarray], list[evidence.TreeEnsemble]]:
    """Each item's probabilities from the trees fitted without its fold, and the five fold models."""
    models = fold_models(items, fold)
    return [1 / (1 + np.exp(-models[fold[doc]].margin(x))) for doc, x, _ in items], models


def report_a(name: str, items: list[Item], fold: dict[str, int]) -> list[evidence.TreeEnsemble]:
    probabilities, models = out_of_fold(items, fold)
    f1 = {t: train_selector.selection_f1(items, probabilities, t) for t in (0.25, 0.3, 0.35)}
    print(f"{name}: (a) given the gold abstract, selection F1 " + ", ".join(f"{f:.4f} at {t}" for t, f in f1.items()))
    return models


class Vectors:
    """Sentence vectors by text, encoded once."""

    def __init__(self, encoder: Encoder):
        self.encoder, self.cache = encoder, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.encoder.encode(todo, batch_size=16), strict=True))
        return np.stack([self.cache[t] for t in texts])


def pair_states(encoder: Encoder, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Hidden states of the model reading (question, sentence) as one input: [CLS], mean, mean over the sentence."""
    encodings = encoder.tokenizer.encode_batch(pairs)
    out = np.zeros((len(pairs), 3 * 384), np.float32)
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        width = max(len(encodings[i].ids) for i in chunk)
        ids, mask, types = (np.zeros((len(chunk), width), np.int64) for _ in range(3))
        for row, i in enumerate(chunk):
            n = len(encodings[i].ids)
            ids[row, :n], mask[row, :n], types[row, :n] = encodings[i].ids, 1, encodings[i].type_ids
        hidden = encoder.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        second = mask * types
        out[chunk] = np.hstack(
            [
                hidden[:, 0],
                (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True),
                (hidden * second[:, :, None]).sum(1) / np.maximum(second.sum(1, keepdims=True), 1),
            ]
        )
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> Callable[[np.ndarray], np.ndarray]:
    """L2-regularised logistic regression (L-BFGS); returns the probability function."""
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = z @ w
        p = 1 / (1 + np.exp(-margin))
        value = np.logaddexp(0, margin).sum() - y @ margin + 0.5 * l2 * (w[:-1] @ w[:-1])
        grad = z.T @ (p - y) + l2 * np.append(w[:-1], 0.0)
        return value, grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    return lambda q: 1 / (1 + np.exp(-np.hstack([(q - mean) / scale, np.ones((len(q), 1))]) @ w))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=1.0, help="the pair probe's L2 penalty (standardised inputs)")
    args = parser.parse_args()
    data = train_selector.DATA
    encoder = load_encoder()
    papers, index = _corpus(str(data / "corpus.jsonl"))
    by_id = {p.id: p for p in papers}
    claims = [json.loads(line) for line in (data / "claims_train.jsonl").read_text().splitlines()]
    claims = [c for c in claims if c["evidence"]]
    items = train_selector.abstracts()  # the same claims and abstracts, in this order
    owners = [(c, doc) for c in claims for doc in c["evidence"]]
    assert len(owners) == len(items)
    fold = folds(items)
    vectors = Vectors(encoder)

    plain = report_a("lexical (22 features)", items, fold)
    started = time.perf_counter()
    cosine_items = [
        (doc, np.hstack([x, cosine_features(vectors([c["claim"]])[0], vectors(by_id[doc].sentences))]), y)
        for (c, doc), (_, x, y) in zip(owners, items, strict=True)
    ]
    n = sum(len(x) for _, x, _ in items)
    print(f"# {n} sentences and {len(claims)} claims encoded alone in {time.perf_counter() - started:.0f} s")
    with_cosine = report_a("+ cosine (4 features)", cosine_items, fold)

    started = time.perf_counter()
    states = pair_states(encoder, [(c["claim"], s) for c, doc in owners for s in by_id[doc].sentences])
    took = time.perf_counter() - started
    print(f"# {n} (question, sentence) pairs read by the model in {took:.0f} s: {1000 * took / n:.1f} ms a pair")
    labels = np.concatenate([y for _, _, y in items])
    row_fold = np.concatenate([[fold[doc]] * len(y) for doc, _, y in items])
    probe = np.zeros(n)
    for f in range(5):
        predict = fit_logistic(states[row_fold != f], labels[row_fold != f], args.l2)
        probe[row_fold == f] = predict(states[row_fold == f])
    bounds = np.cumsum([0] + [len(y) for _, _, y in items])
    alone = [probe[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    f1 = train_selector.selection_f1(items, alone, 0.3)
    print(f"pair probe alone: (a) selection F1 {f1:.4f} at 0.3")
    report_a(
        "+ pair probe (3 features)",
        [(doc, np.hstack([x, within_abstract(p)]), y) for (doc, x, y), p in zip(items, alone, strict=True)],
        fold,
    )

    # (b) end to end with the cosine features, as bench/evidence_oof.py measures it
    stage, status = _eval_stage(papers)
    current: dict[str, np.ndarray] = {}
    lexical_features = evidence.sentence_features

    def features(question_terms, weights, sentences, sentence_terms):
        x, coverage = lexical_features(question_terms, weights, sentences, sentence_terms)
        if "question" in current:
            x = np.hstack([x, cosine_features(current["question"], vectors(list(sentences)))])
        return x, coverage

    shipped = evidence._model
    answer.sentence_features = features
    try:
        for order, rankings in orders(claims, index, by_id, stage, status):
            options = AnswerOptions()  # BM25 order: the 10% lead rule; fused order: none
            for name, models in (("lexical", plain), ("+ cosine", with_cosine)):

                def prepare(claim: dict, name: str = name) -> None:
                    current.clear()
                    if name != "lexical":
                        current["question"] = vectors([claim["claim"]])[0]

                s = end_to_end(claims, rankings, models, fold, index, options, prepare)
                print(f"{order} order, {name}: (b) end to end F1 {s.f1} (P {s.precision}, R {s.recall})", flush=True)
    finally:
        evidence._model = shipped
        answer.sentence_features = lexical_features
    return 0


if __name__ == "__main__":
    sys.exit(main())
