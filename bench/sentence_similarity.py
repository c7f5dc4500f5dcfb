"""Issue #16 item 4: does a sentence's similarity to the question help choose the answer's sentences?

    python bench/sentence_similarity.py --split train --weights 0 0.5 1.5

Each candidate sentence's relevance (retrieval/answers/answer.py `score_sentences`: evidence probability, twice the
paper's share, the answer-kind bonus) gets `weight x cosine(question, sentence)` added, the cosine from the
semantic stage's model; SciFact evidence is then scored as `paperbot eval evidence --semantic` scores it:
(a) given the gold abstract and (b) end to end through the semantic stage. Tuning split: train. Needs the
[semantic] extra and the SciFact vectors (`paperbot eval vectors`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import retrieval.answers.answer as answer  # noqa: E402
import retrieval.quality.benchmarks.evidence as benchmarks  # noqa: E402
from retrieval.quality.evaluate import default_data_dir  # noqa: E402
from retrieval.semantic.encoder import load_encoder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="train")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.5])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    args = parser.parse_args()
    encoder = load_encoder()
    cache: dict[str, np.ndarray] = {}
    plain = answer.score_sentences

    def vectors(texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            cache.update(zip(todo, encoder.encode(todo, batch_size=16), strict=True))
        return np.stack([cache[t] for t in texts])

    for weight in args.weights:

        def with_similarity(question, hits, index, options, terms=None, weight=weight):
            candidates = plain(question, hits, index, options, terms)
            if not weight or not candidates:
                return candidates
            cosine = vectors([c.text for c in candidates]) @ vectors([question])[0]
            return [
                c.model_copy(update={"relevance": c.relevance + weight * float(x)})
                for c, x in zip(candidates, cosine, strict=True)
            ]

        answer.score_sentences = benchmarks.score_sentences = with_similarity
        scores = benchmarks.eval_evidence(args.data, args.split, semantic=True)
        print(
            f"weight {weight}: (a) F1 {scores.given_gold_abstract.f1}  (b) F1 {scores.end_to_end.f1}"
            f" (P {scores.end_to_end.precision}, R {scores.end_to_end.recall}, {scores.answered} answered)",
            flush=True,
        )
    answer.score_sentences = benchmarks.score_sentences = plain
    return 0


if __name__ == "__main__":
    sys.exit(main())
